#include "lib/tree/hash_index.h"

#include <cstring>
#include <string>

#include "whycache/error.h"

namespace whycache::tree {

namespace {

constexpr uint64_t kMaxLeafOffset = uint64_t{1} << 42;

uint64_t EncodeSlot(uint64_t h, Ref leaf) {
  const uint64_t off = RefOffset(leaf);
  if (off >= kMaxLeafOffset) {
    throw Error(Error::Code::kIOError, "state file larger than the hash index can address");
  }
  return HashTag(h) << 48 | (off >> 3) << 9 | HashHome(h);
}

}  // namespace

uint64_t KeyHash(std::string_view key) { return Hash64(key.data(), key.size(), 0x696e646578ULL); }

const uint64_t* HashPageAt(const Space& s, uint64_t dir, uint64_t bits, uint64_t page) {
  if (bits > kMaxHashBits || dir < s.data_offset || (dir & 7) != 0 || dir > s.size ||
      (sizeof(uint64_t) << bits) > s.size - dir) {
    ThrowCorrupt("hash directory at offset " + std::to_string(dir) + " out of bounds");
  }
  const uint64_t p = reinterpret_cast<const uint64_t*>(s.base + dir)[page];
  if (p < s.data_offset || (p & 7) != 0 || p > s.size - kHashPageBytes) {
    ThrowCorrupt("hash page at offset " + std::to_string(p) + " out of bounds");
  }
  return reinterpret_cast<const uint64_t*>(s.base + p);
}

bool HashLookup(const Space& s, uint64_t dir, uint64_t bits, std::string_view key,
                std::string_view* value) {
  const uint64_t h = KeyHash(key);
  const uint64_t* page = HashPageAt(s, dir, bits, HashPage(h, bits));
  const uint64_t tag = HashTag(h);
  uint32_t i = HashHome(h);
  for (uint32_t n = 0; n < kHashPageSlots; ++n, i = (i + 1) & (kHashPageSlots - 1)) {
    const uint64_t slot = page[i];
    if (slot == 0) return false;
    if (SlotTag(slot) != tag) continue;
    const LeafHeader* l = s.Leaf(SlotLeaf(slot));
    if (LeafKey(l) == key) {
      *value = LeafValue(l);
      return true;
    }
  }
  return false;
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
    const uint64_t off = alloc_->Allocate(kHashPageBytes);
    std::memset(base_ + off, 0, kHashPageBytes);
    Dir()[p] = off;
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
  while ((kHashPageSlots << bits) * 3 / 4 < keys) ++bits;
  if (dir_ == 0 || bits > bits_) Rehash(bits);
}

void HashIndexWriter::Insert(std::string_view key, Ref leaf) { Place(KeyHash(key), leaf); }

void HashIndexWriter::Replace(std::string_view key, Ref old_leaf, Ref new_leaf) {
  const uint64_t h = KeyHash(key);
  const uint32_t i = FindSlot(h, old_leaf);
  MutablePage(HashPage(h, bits_))[i] = EncodeSlot(h, new_leaf);
}

void HashIndexWriter::Remove(std::string_view key, Ref leaf) {
  const uint64_t h = KeyHash(key);
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
