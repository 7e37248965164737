// Copy-on-write updates of the adaptive radix tree. A node reachable from a published version is
// never written: it is copied (and its old copy freed, tagged with the new version) the first
// time a transaction changes it; nodes the transaction allocated itself are changed in place.
#ifndef WHYCACHE_LIB_TREE_ART_WRITER_H_
#define WHYCACHE_LIB_TREE_ART_WRITER_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "lib/tree/allocator.h"
#include "lib/tree/art_node.h"
#include "lib/tree/hash_index.h"

namespace whycache::tree {

class ArtWriter {
 public:
  // Starts from the published tree `root` with its key count and content hash, keeping
  // `index` in step with the leaves.
  ArtWriter(char* base, const Space& space, Allocator* alloc, HashIndexWriter* index, Ref root,
            uint64_t key_count, uint64_t content_hash)
      : base_(base),
        space_(space),
        alloc_(alloc),
        index_(index),
        root_(root),
        key_count_(key_count),
        content_hash_(content_hash) {}

  // Sets `key` to `value`. REQUIRES: sizes within whycache/limits.h (checked by the caller).
  // Throws OutOfSpace when the file is full; the writer is then unusable.
  void Put(std::string_view key, std::string_view value);
  // Removes `key`; a missing key is not an error.
  void Erase(std::string_view key);
  // Removes every key that starts with `prefix` (an empty one: all) by cutting off the subtree
  // that holds them: no descent per key. Returns how many keys it removed.
  uint64_t ErasePrefix(std::string_view prefix);

  Ref root() const { return root_; }
  uint64_t key_count() const { return key_count_; }
  uint64_t content_hash() const { return content_hash_; }

 private:
  // A node decoded into process memory: the slow path for changes that alter its shape.
  struct NodeImage {
    std::string prefix;
    Ref end_leaf = 0;
    std::vector<std::pair<uint8_t, Ref>> children;  // Sorted by byte.
  };

  InnerHeader* At(Ref r) { return reinterpret_cast<InnerHeader*>(base_ + r); }
  Ref NewLeaf(std::string_view key, std::string_view value);
  void FreeRef(Ref r);
  void DropLeaf(Ref leaf);  // Frees a leaf being replaced or erased, undoing its hash.
  NodeImage Decode(Ref r);
  Ref Encode(const NodeImage& img, uint8_t kind);
  Ref MakeMutable(Ref r);
  Ref WithPrefix(Ref r, std::string prefix);
  Ref AddChild(Ref r, uint8_t c, Ref child);
  Ref Reshape(Ref old, NodeImage& img);
  static void Place(NodeImage* img, std::string_view key, size_t depth, Ref r);
  static void SetChild(InnerHeader* n, uint8_t c, Ref child);

  Ref Insert(Ref ref, std::string_view key, size_t depth, Ref leaf);
  Ref Remove(Ref ref, std::string_view key, size_t depth);
  // What replaces `ref`, at `depth` bytes of `prefix`, once `subtree` (SubtreeUnder the prefix)
  // is cut off below it.
  Ref CutOff(Ref ref, std::string_view prefix, size_t depth, Ref subtree);
  // Frees the subtree at `ref`, cut off from the tree, and undoes its leaves' hashes and index
  // entries.
  void DropSubtree(Ref ref);
  // The child `c` of `ref` replaced by `updated` (0: removed), reshaping `ref` as needed.
  Ref WithChild(Ref ref, uint8_t c, Ref updated);

  char* base_;
  Space space_;
  Allocator* alloc_;
  HashIndexWriter* index_;
  Ref root_;
  Ref dropped_ = 0;  // The leaf the current Put replaced or Erase removed.
  uint64_t key_count_;
  uint64_t content_hash_;
};

}  // namespace whycache::tree

#endif  // WHYCACHE_LIB_TREE_ART_WRITER_H_
