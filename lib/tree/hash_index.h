// A hash index over the leaves, published in the same version as the tree: point gets cost
// about two cache misses (a slot, then the leaf) instead of one per tree level, which matters
// for hex and decimal text keys where the radix tree is deep. The tree still serves order and
// prefix scans.
//
// Layout: a directory of 1 << bits page offsets; a page is 512 slots of 8 bytes, open
// addressing with linear probing that wraps around inside the page. The page of a key is the
// top `bits` bits of KeyHash, its home slot the low 9 bits. A slot is 0 when empty, else
//   tag (hash bits 16..31) << 48 | (leaf offset / 8) << 9 | home slot.
// Pages and the directory are copy-on-write like tree nodes.
#ifndef WHYCACHE_LIB_TREE_HASH_INDEX_H_
#define WHYCACHE_LIB_TREE_HASH_INDEX_H_

#include <cstdint>
#include <string_view>
#include <vector>

#include "lib/tree/allocator.h"
#include "lib/tree/art_node.h"

namespace whycache::tree {

inline constexpr uint32_t kHashPageSlots = 512;
inline constexpr uint64_t kHashPageBytes = kHashPageSlots * sizeof(uint64_t);
inline constexpr uint32_t kMaxHashBits = 32;

uint64_t KeyHash(std::string_view key);

inline uint64_t HashPage(uint64_t h, uint64_t bits) { return bits == 0 ? 0 : h >> (64 - bits); }
inline uint32_t HashHome(uint64_t h) { return static_cast<uint32_t>(h & (kHashPageSlots - 1)); }
inline uint64_t HashTag(uint64_t h) { return (h >> 16) & 0xffff; }
inline uint64_t SlotLeaf(uint64_t slot) {
  return (((slot >> 9) & ((uint64_t{1} << 39) - 1)) << 3) | 1;
}
inline uint32_t SlotHome(uint64_t slot) {
  return static_cast<uint32_t>(slot & (kHashPageSlots - 1));
}
inline uint64_t SlotTag(uint64_t slot) { return slot >> 48; }

// The page with index `page` of the directory at `dir`, bounds-checked.
const uint64_t* HashPageAt(const Space& s, uint64_t dir, uint64_t bits, uint64_t page);

// Sets *value to a view of the value of `key`; false when the index does not hold it.
bool HashLookup(const Space& s, uint64_t dir, uint64_t bits, std::string_view key,
                std::string_view* value);

// Changes the index along with the tree during one write transaction.
class HashIndexWriter {
 public:
  HashIndexWriter(char* base, const Space& space, Allocator* alloc, uint64_t dir, uint64_t bits)
      : base_(base), space_(space), alloc_(alloc), dir_(dir), bits_(bits) {}

  // Grows the index (rehashing every entry) so that `keys` entries stay under the load limit.
  void Reserve(uint64_t keys);
  void Insert(std::string_view key, Ref leaf);

  // A leaf and the KeyHash of its key, for InsertMany.
  struct HashedLeaf {
    uint64_t hash;
    Ref leaf;
  };
  // Inserts every leaf of `*leaves` and empties it: what Insert of each would do, but grouped by
  // region of the index, so that a bulk load writes the index in one sweep instead of taking a
  // cache and TLB miss per leaf anywhere in it. REQUIRES: none of them is indexed.
  void InsertMany(std::vector<HashedLeaf>* leaves);
  void Replace(std::string_view key, Ref old_leaf, Ref new_leaf);
  void Remove(std::string_view key, Ref leaf);

  uint64_t dir() const { return dir_; }
  uint64_t bits() const { return bits_; }

 private:
  uint64_t* Dir() { return reinterpret_cast<uint64_t*>(base_ + dir_); }
  uint64_t* MutablePage(uint64_t page);
  // Index of the slot holding `leaf`; throws Error(kCorruption) when there is none.
  uint32_t FindSlot(uint64_t h, Ref leaf);
  void Place(uint64_t h, Ref leaf);
  void Rehash(uint64_t bits);

  char* base_;
  Space space_;
  Allocator* alloc_;
  uint64_t dir_;
  uint64_t bits_;
  std::vector<HashedLeaf> sort_scratch_;
};

}  // namespace whycache::tree

#endif  // WHYCACHE_LIB_TREE_HASH_INDEX_H_
