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

namespace {

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

constexpr uint64_t kK0 = 0xa0761d6478bd642fULL;
constexpr uint64_t kK1 = 0xe7037ed1a0b428dbULL;
constexpr uint64_t kK2 = 0x8ebc6af09c88c6e3ULL;

}  // namespace

uint64_t KeyHash(std::string_view key) {
  // On the read path of every get: short keys take a few multiplies and overlapping loads
  // instead of a byte loop.
  const unsigned char* p = reinterpret_cast<const unsigned char*>(key.data());
  size_t n = key.size();
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

void HashIndexWriter::InsertMany(std::vector<HashedLeaf>* leaves) {
  // A page is the top bits of the hash: grouped by the top byte, the leaves of a group land in
  // 1/256 of the index, which stays in the cache while they are placed; the index is then read
  // and written in one forward sweep. (Sorting by slot too took more passes than it saved.)
  size_t start[257] = {};
  for (const HashedLeaf& l : *leaves) ++start[(l.hash >> 56) + 1];
  for (int b = 1; b <= 256; ++b) start[b] += start[b - 1];
  sort_scratch_.resize(leaves->size());
  for (const HashedLeaf& l : *leaves) sort_scratch_[start[l.hash >> 56]++] = l;
  // Each group still meets most of its cache lines for the first time, so a place would wait
  // for memory: the slot a few leaves ahead is fetched while this one is placed.
  constexpr size_t kAhead = 16;
  const size_t n = sort_scratch_.size();
  for (size_t i = 0; i < n; ++i) {
    if (i + kAhead < n) {
      const uint64_t h = sort_scratch_[i + kAhead].hash;
      __builtin_prefetch(base_ + Dir()[HashPage(h, bits_)] + HashHome(h) * sizeof(uint64_t), 1);
    }
    Place(sort_scratch_[i].hash, sort_scratch_[i].leaf);
  }
  leaves->clear();
}

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
