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
#include <cstring>
#include <string_view>
#include <vector>

#include "lib/tree/allocator.h"
#include "lib/tree/art_node.h"

namespace whycache::tree {

inline constexpr uint32_t kHashPageSlots = 512;
inline constexpr uint64_t kHashPageBytes = kHashPageSlots * sizeof(uint64_t);
inline constexpr uint32_t kMaxHashBits = 32;

namespace hash_internal {

// 64x64 -> 128-bit multiply folded to 64 bits (as in wyhash): one multiply mixes two words.
inline uint64_t Mum(uint64_t a, uint64_t b) {
  const __uint128_t r = static_cast<__uint128_t>(a) * b;
  return static_cast<uint64_t>(r) ^ static_cast<uint64_t>(r >> 64);
}

inline uint64_t Load8(const unsigned char* p) {
  uint64_t v;
  std::memcpy(&v, p, 8);
  return v;
}

inline uint64_t Load4(const unsigned char* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return v;
}

inline constexpr uint64_t kK0 = 0xa0761d6478bd642fULL;
inline constexpr uint64_t kK1 = 0xe7037ed1a0b428dbULL;
inline constexpr uint64_t kK2 = 0x8ebc6af09c88c6e3ULL;

}  // namespace hash_internal

// The hash of a key, which places it in the index. Inline, on the path of every get: short keys
// take a few multiplies and overlapping loads instead of a byte loop.
inline uint64_t KeyHash(std::string_view key) {
  using hash_internal::kK0, hash_internal::kK1, hash_internal::kK2;
  using hash_internal::Load4, hash_internal::Load8, hash_internal::Mum;
  const unsigned char* p = reinterpret_cast<const unsigned char*>(key.data());
  const size_t n = key.size();
  uint64_t seed = kK0 ^ n;
  uint64_t a = 0;
  uint64_t b = 0;
  if (n <= 16) {
    if (n >= 8) {
      a = Load8(p);
      b = Load8(p + n - 8);
    } else if (n >= 4) {
      a = Load4(p) << 32 | Load4(p + n - 4);
    } else if (n > 0) {
      a = uint64_t{p[0]} << 16 | uint64_t{p[n / 2]} << 8 | p[n - 1];
    }
  } else {
    const unsigned char* end = p + n;
    while (end - p > 16) {
      seed = Mum(Load8(p) ^ kK1, Load8(p + 8) ^ seed);
      p += 16;
    }
    a = Load8(end - 16);
    b = Load8(end - 8);
  }
  return Mum(kK1 ^ n, Mum(a ^ kK2, b ^ seed));
}

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

// Throws Error(kCorruption) unless the directory of 1 << `bits` page offsets at `dir` lies in
// `s`. A reader checks it once per version, so that each lookup checks only the page and the
// leaf it reaches.
void CheckHashDir(const Space& s, uint64_t dir, uint64_t bits);

[[noreturn]] void ThrowBadHashPage(uint64_t offset);
[[noreturn]] void ThrowBadLeaf(uint64_t offset);

// Whether the `n` bytes at `a` and `b` are equal: word compares inline, where memcmp would be a
// call on the path of every get.
inline bool BytesEqual(const char* a, const char* b, size_t n) {
  if (n < 8) return std::memcmp(a, b, n) == 0;
  uint64_t x, y;
  for (size_t i = 0; i + 8 < n; i += 8) {
    std::memcpy(&x, a + i, 8);
    std::memcpy(&y, b + i, 8);
    if (x != y) return false;
  }
  std::memcpy(&x, a + n - 8, 8);
  std::memcpy(&y, b + n - 8, 8);
  return x == y;
}

// Sets *value to a view of the value of `key`; false when the index does not hold it.
// REQUIRES: CheckHashDir(s, dir - s.base, bits) passed.
// Inline and lean because a read transaction per get runs it between two pins: the fewer
// instructions a get takes, the more gets' cache misses the processor overlaps. Always inline:
// called, it spends a prologue and an epilogue on every get (measured: about 5% of a get).
[[gnu::always_inline]] inline bool HashLookup(const Space& s, const uint64_t* dir, uint64_t bits,
                                              std::string_view key, std::string_view* value) {
  const uint64_t h = KeyHash(key);
  const uint64_t page_offset = dir[HashPage(h, bits)];
  if (page_offset < s.data_offset || page_offset > s.size - kHashPageBytes ||
      (page_offset & 7) != 0) [[unlikely]] {
    ThrowBadHashPage(page_offset);
  }
  const uint64_t* page = reinterpret_cast<const uint64_t*>(s.base + page_offset);
  const uint64_t tag = HashTag(h);
  uint32_t i = HashHome(h);
  for (uint32_t n = 0; n < kHashPageSlots; ++n, i = (i + 1) & (kHashPageSlots - 1)) {
    const uint64_t slot = page[i];
    if (slot == 0) return false;
    if (SlotTag(slot) != tag) continue;
    // Offsets in slots are multiples of 8 by construction.
    const uint64_t off = RefOffset(SlotLeaf(slot));
    if (off < s.data_offset || off > s.size - kMinLeafBytes) [[unlikely]]
      ThrowBadLeaf(off);
    const LeafHeader* l = reinterpret_cast<const LeafHeader*>(s.base + off);
    const uint32_t w = l->word;
    if ((w & kShortLeafFlag) == 0) [[unlikely]] {
      l = s.Leaf(SlotLeaf(slot));  // A long header: the general check.
      if (LeafKey(l) != key) continue;
      *value = LeafValue(l);
      return true;
    }
    const uint32_t key_len = (w >> 23) & 0xff;
    if (key_len != key.size()) continue;
    const uint32_t value_len = w & 0x7fffff;
    if (LeafBytes(key_len, value_len) > s.size - off) [[unlikely]]
      ThrowBadLeaf(off);
    const char* p = reinterpret_cast<const char*>(l);
    if (!BytesEqual(p + 4, key.data(), key_len)) continue;
    *value = std::string_view(p + AlignUp(4 + key_len, 8), value_len);
    return true;
  }
  return false;
}

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
  // Removes every leaf of `*leaves` and empties it, grouped by region as InsertMany places them:
  // a prefix delete drops millions at once. Throws Error(kCorruption) for a leaf the index lacks.
  void RemoveMany(std::vector<HashedLeaf>* leaves);

  uint64_t dir() const { return dir_; }
  uint64_t bits() const { return bits_; }

 private:
  uint64_t* Dir() { return reinterpret_cast<uint64_t*>(base_ + dir_); }
  uint64_t* MutablePage(uint64_t page);
  // Index of the slot holding `leaf`; throws Error(kCorruption) when there is none.
  uint32_t FindSlot(uint64_t h, Ref leaf);
  void Place(uint64_t h, Ref leaf);
  void RemoveHashed(uint64_t h, Ref leaf);
  // Moves `*leaves` into sort_scratch_ grouped by the top byte of their hash, and empties it.
  void GroupByRegion(std::vector<HashedLeaf>* leaves);
  // The address of the home slot of hash `h`, to prefetch.
  const char* HomeSlot(uint64_t h) {
    return base_ + Dir()[HashPage(h, bits_)] + HashHome(h) * sizeof(uint64_t);
  }
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
