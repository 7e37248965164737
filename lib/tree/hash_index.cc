#include "lib/tree/hash_index.h"

#include <cstring>
#include <string>

#include "whycache/error.h"

namespace whycache::tree {

namespace {

constexpr uint64_t kMaxLeafOffset = uint64_t{1} << 42;

// Each group still meets most of its cache lines for the first time, so a place or a removal
// would wait for memory: the slot a few leaves ahead is fetched while this one is handled.
constexpr size_t kSlotsAhead = 16;

uint64_t EncodeSlot(uint64_t h, Ref leaf) {
  const uint64_t off = RefOffset(leaf);
  if (off >= kMaxLeafOffset) {
    throw Error(Error::Code::kIOError, "state file larger than the hash index can address");
  }
  return HashTag(h) << 48 | (off >> 3) << 9 | HashHome(h);
}

}  // namespace

void CheckHashDir(const Space& s, uint64_t dir, uint64_t bits) {
  if (bits > kMaxHashBits || dir < s.data_offset || (dir & 7) != 0 || dir > s.size ||
      (sizeof(uint64_t) << bits) > s.size - dir) {
    ThrowCorrupt("hash directory at offset " + std::to_string(dir) + " out of bounds");
  }
}

void ThrowBadHashPage(uint64_t offset) {
  ThrowCorrupt("hash page at offset " + std::to_string(offset) + " out of bounds");
}

void ThrowBadLeaf(uint64_t offset) {
  ThrowCorrupt("leaf at offset " + std::to_string(offset) + " out of bounds or malformed");
}

const uint64_t* HashPageAt(const Space& s, uint64_t dir, uint64_t bits, uint64_t page) {
  CheckHashDir(s, dir, bits);
  const uint64_t p = reinterpret_cast<const uint64_t*>(s.base + dir)[page];
  if (p < s.data_offset || (p & 7) != 0 || p > s.size - kHashPageBytes) ThrowBadHashPage(p);
  return reinterpret_cast<const uint64_t*>(s.base + p);
}

uint64_t* HashIndexWriter::MutablePage(uint64_t page) {
  if (!alloc_->IsFresh(dir_)) {
    const uint64_t bytes = sizeof(uint64_t) << bits_;
    const uint64_t fresh = alloc_->Allocate(bytes);
    std::memcpy(base_ + fresh, base_ + dir_, bytes);
    alloc_->Free(dir_, bytes);
    dir_ = fresh;
  }
  const uint64_t p = Dir()[page];
  if (alloc_->IsFresh(p)) return reinterpret_cast<uint64_t*>(base_ + p);
  HashPageAt(space_, dir_, bits_, page);
  const uint64_t fresh = alloc_->Allocate(kHashPageBytes);
  std::memcpy(base_ + fresh, base_ + p, kHashPageBytes);
  alloc_->Free(p, kHashPageBytes);
  Dir()[page] = fresh;
  return reinterpret_cast<uint64_t*>(base_ + fresh);
}

uint32_t HashIndexWriter::FindSlot(uint64_t h, Ref leaf) {
  const uint64_t* page = HashPageAt(space_, dir_, bits_, HashPage(h, bits_));
  const uint64_t want = EncodeSlot(h, leaf);
  uint32_t i = HashHome(h);
  for (uint32_t n = 0; n < kHashPageSlots; ++n, i = (i + 1) & (kHashPageSlots - 1)) {
    if (page[i] == want) return i;
    if (page[i] == 0) break;
  }
  ThrowCorrupt("hash index lacks the leaf at offset " + std::to_string(RefOffset(leaf)));
}

void HashIndexWriter::Place(uint64_t h, Ref leaf) {
  uint64_t* page = MutablePage(HashPage(h, bits_));
  uint32_t i = HashHome(h);
  for (uint32_t n = 0; n < kHashPageSlots; ++n, i = (i + 1) & (kHashPageSlots - 1)) {
    if (page[i] == 0) {
      page[i] = EncodeSlot(h, leaf);
      return;
    }
  }
  // A full page: far above the load limit, but possible with adversarial keys.
  Rehash(bits_ + 1);
  Place(h, leaf);
}

void HashIndexWriter::Rehash(uint64_t bits) {
  if (bits > kMaxHashBits) throw Error(Error::Code::kIOError, "hash index cannot grow further");
  const uint64_t old_dir = dir_;
  const uint64_t old_bits = bits_;
  const uint64_t pages = uint64_t{1} << bits;
  dir_ = alloc_->Allocate(sizeof(uint64_t) << bits);
  bits_ = bits;
  for (uint64_t p = 0; p < pages; ++p) {
    Dir()[p] = alloc_->AllocateZeroed(kHashPageBytes);
  }
  if (old_dir == 0) return;
  for (uint64_t p = 0; p < (uint64_t{1} << old_bits); ++p) {
    const uint64_t* page = HashPageAt(space_, old_dir, old_bits, p);
    for (uint32_t i = 0; i < kHashPageSlots; ++i) {
      if (page[i] == 0) continue;
      const Ref leaf = SlotLeaf(page[i]);
      Place(KeyHash(LeafKey(space_.Leaf(leaf))), leaf);
    }
    alloc_->Free(reinterpret_cast<const uint64_t*>(base_ + old_dir)[p], kHashPageBytes);
  }
  alloc_->Free(old_dir, sizeof(uint64_t) << old_bits);
}

void HashIndexWriter::Reserve(uint64_t keys) {
  // At most 3/4 full on average.
  uint64_t bits = 0;
  while ((uint64_t{kHashPageSlots} << bits) * 3 / 4 < keys) ++bits;
  if (dir_ == 0 || bits > bits_) Rehash(bits);
}

void HashIndexWriter::Insert(std::string_view key, Ref leaf) { Place(KeyHash(key), leaf); }

void HashIndexWriter::GroupByRegion(std::vector<HashedLeaf>* leaves) {
  // A page is the top bits of the hash: grouped by the top byte, the leaves of a group land in
  // 1/256 of the index, which stays in the cache while they are handled; the index is then read
  // and written in one forward sweep. (Sorting by slot too took more passes than it saved.)
  size_t start[257] = {};
  for (const HashedLeaf& l : *leaves) ++start[(l.hash >> 56) + 1];
  for (int b = 1; b <= 256; ++b) start[b] += start[b - 1];
  sort_scratch_.resize(leaves->size());
  for (const HashedLeaf& l : *leaves) sort_scratch_[start[l.hash >> 56]++] = l;
  leaves->clear();
}

void HashIndexWriter::InsertMany(std::vector<HashedLeaf>* leaves) {
  GroupByRegion(leaves);
  const size_t n = sort_scratch_.size();
  for (size_t i = 0; i < n; ++i) {
    if (i + kSlotsAhead < n) __builtin_prefetch(HomeSlot(sort_scratch_[i + kSlotsAhead].hash), 1);
    Place(sort_scratch_[i].hash, sort_scratch_[i].leaf);
  }
}

void HashIndexWriter::RemoveMany(std::vector<HashedLeaf>* leaves) {
  GroupByRegion(leaves);
  const size_t n = sort_scratch_.size();
  for (size_t i = 0; i < n; ++i) {
    if (i + kSlotsAhead < n) __builtin_prefetch(HomeSlot(sort_scratch_[i + kSlotsAhead].hash), 1);
    RemoveHashed(sort_scratch_[i].hash, sort_scratch_[i].leaf);
  }
}

void HashIndexWriter::Replace(std::string_view key, Ref old_leaf, Ref new_leaf) {
  const uint64_t h = KeyHash(key);
  const uint32_t i = FindSlot(h, old_leaf);
  MutablePage(HashPage(h, bits_))[i] = EncodeSlot(h, new_leaf);
}

void HashIndexWriter::Remove(std::string_view key, Ref leaf) { RemoveHashed(KeyHash(key), leaf); }

void HashIndexWriter::RemoveHashed(uint64_t h, Ref leaf) {
  uint32_t i = FindSlot(h, leaf);
  uint64_t* page = MutablePage(HashPage(h, bits_));
  // Backward-shift deletion keeps every entry reachable from its home without tombstones.
  constexpr uint32_t kMask = kHashPageSlots - 1;
  page[i] = 0;
  for (uint32_t j = (i + 1) & kMask; page[j] != 0; j = (j + 1) & kMask) {
    const uint32_t from_home = (j - SlotHome(page[j])) & kMask;
    const uint32_t from_hole = (j - i) & kMask;
    if (from_home >= from_hole) {
      page[i] = page[j];
      page[j] = 0;
      i = j;
    }
  }
}

}  // namespace whycache::tree
