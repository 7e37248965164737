// Building a tree bottom-up from entries in increasing key order. Each node is written once,
// when its last entry has been seen, so leaves and nodes are laid out in one sequential pass and
// nothing is copied or freed: a fresh file's tree (a rebuild, a restored snapshot, a large batch
// merged with the entries it changes) costs a fraction of inserting its entries one by one.
//
// The loader keeps the nodes of the path to the newest key open (a stack of byte depths, with the
// children seen so far). A new key whose common prefix with the previous one is `lcp` bytes long
// closes every open node deeper than lcp and opens one at lcp if none is there.
#ifndef WHYCACHE_LIB_TREE_BULK_LOADER_H_
#define WHYCACHE_LIB_TREE_BULK_LOADER_H_

#include <cstdint>
#include <string_view>
#include <utility>
#include <vector>

#include "lib/tree/allocator.h"
#include "lib/tree/art_node.h"
#include "lib/tree/hash_index.h"

namespace whycache::tree {

// What a loader built: the fields of a meta record that describe the tree.
struct LoadedTree {
  Ref root = 0;  // 0 when no entry was added.
  uint64_t key_count = 0;
  uint64_t content_hash = 0;
  uint64_t hash_dir = 0;
  uint64_t hash_bits = 0;
};

// An upper bound of the bytes a loader allocates for `keys` entries holding `raw_bytes` bytes of
// keys and values, hash index included: sizes a file before it is filled.
uint64_t LoadedBytesBound(uint64_t keys, uint64_t raw_bytes);

class BulkLoader {
 public:
  // Builds from blocks handed out by `alloc`, which must start from an empty tree and no hash
  // index (a fresh file, or a transaction whose result replaces the whole tree). `expected_keys`
  // sizes the hash index once; more keys are fine, they grow it.
  BulkLoader(char* base, const Space& space, Allocator* alloc, uint64_t expected_keys);

  BulkLoader(const BulkLoader&) = delete;
  BulkLoader& operator=(const BulkLoader&) = delete;

  // Adds an entry. Throws Error(kInvalidArgument) when `key` is not greater than the previous
  // key, OutOfSpace when the file is full; the loader is unusable after either.
  // REQUIRES: sizes within whycache/limits.h.
  void Add(std::string_view key, std::string_view value);

  // Writes the nodes still open. REQUIRES: called once, after the last Add.
  LoadedTree Finish();

 private:
  struct OpenNode {
    size_t depth;  // Key bytes above its children; its path is prev_[0, depth).
    Ref end_leaf;  // The key equal to its path, if any.
    size_t first;  // Its children are children_[first, end).
  };

  void Attach(OpenNode* node, Ref r);
  // Writes the node on top of the stack, whose parent branches at `parent_depth` (or which is
  // the root when `root`), and returns its Ref.
  Ref CloseTop(size_t parent_depth, bool root);

  char* base_;
  Allocator* alloc_;
  HashIndexWriter index_;
  uint64_t reserved_keys_;
  LoadedTree out_;
  std::string_view prev_;  // Key of the previous entry, in its leaf.
  Ref pending_ = 0;        // The subtree ending with the previous entry, not yet attached.
  std::vector<OpenNode> open_;
  std::vector<std::pair<uint8_t, Ref>> children_;       // Of every open node, a stack.
  std::vector<HashIndexWriter::HashedLeaf> unindexed_;  // Leaves not yet in the hash index.
};

}  // namespace whycache::tree

#endif  // WHYCACHE_LIB_TREE_BULK_LOADER_H_
