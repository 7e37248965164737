#include "lib/tree/verify.h"

#include <algorithm>
#include <string>
#include <utility>
#include <vector>

#include "lib/tree/allocator.h"
#include "lib/tree/art_node.h"
#include "lib/tree/hash_index.h"
#include "whycache/limits.h"

namespace whycache::tree {

namespace {

class Walker {
 public:
  Walker(const Mapping& m) : space_(m.space()) {}

  void Visit(Ref ref, std::string& path, bool exact) {
    if (IsLeaf(ref)) {
      VisitLeaf(ref, path, exact);
      return;
    }
    if (exact) Fail(ref, "end_leaf is not a leaf");
    const InnerHeader* n = space_.Inner(ref);
    Claim(ref, InnerBytes(n->kind, n->prefix_len));
    if (n->count < MinCount(n->kind)) Fail(ref, "too few children for its kind");
    if (n->count + (n->end_leaf != 0 ? 1 : 0) < 2) Fail(ref, "fewer than two entries");
    if (n->end_leaf != 0 && !IsLeaf(n->end_leaf)) Fail(ref, "end_leaf is not a leaf");
    CheckBody(ref, n);
    const size_t depth = path.size();
    path.append(reinterpret_cast<const char*>(Prefix(n)), n->prefix_len);
    if (path.size() > kMaxKeyBytes) Fail(ref, "path longer than the longest key");
    if (n->end_leaf != 0) Visit(n->end_leaf, path, true);
    for (int pos = NextPos(n, kEndPos); pos != kNoPos; pos = NextPos(n, pos)) {
      const Ref child = ChildAt(n, pos);
      if (child == 0) Fail(ref, "null child");
      path.push_back(static_cast<char>(ByteAt(n, pos)));
      Visit(child, path, false);
      path.pop_back();
    }
    path.resize(depth);
  }

  void CheckBody(Ref ref, const InnerHeader* n) {
    const uint8_t* b = Body(n);
    switch (n->kind) {
      case kNode4:
      case kNode8:
      case kNode16:
        for (uint32_t i = 1; i < n->count; ++i) {
          if (b[i - 1] >= b[i]) Fail(ref, "child keys not in order");
        }
        return;
      case kNode48: {
        std::vector<bool> used(48, false);
        uint32_t entries = 0;
        for (int c = 0; c < 256; ++c) {
          if (b[c] == 0) continue;
          if (b[c] > n->count || used[b[c] - 1]) Fail(ref, "bad Node48 index");
          used[b[c] - 1] = true;
          ++entries;
        }
        if (entries != n->count) Fail(ref, "Node48 count mismatch");
        return;
      }
      default: {
        const Ref* ch = Children(n);
        uint32_t entries = 0;
        for (int c = 0; c < 256; ++c) entries += ch[c] != 0;
        if (entries != n->count) Fail(ref, "Node256 count mismatch");
      }
    }
  }

  void VisitLeaf(Ref ref, const std::string& path, bool exact) {
    const LeafHeader* l = space_.Leaf(ref);
    const LeafLengths lengths = LeafLengthsOf(l);
    Claim(RefOffset(ref), LeafBytes(lengths.key, lengths.value));
    if (lengths.key > kMaxKeyBytes || lengths.value > kMaxValueBytes) Fail(ref, "leaf too long");
    const std::string_view key = LeafKey(l);
    if (exact ? key != path : key.substr(0, path.size()) != path) {
      Fail(ref, "leaf key does not match its path");
    }
    if (keys_ > 0 && !(key > last_key_)) Fail(ref, "keys not in order");
    last_key_.assign(key);
    leaves_.push_back({ref, KeyHash(key)});
    ++keys_;
    hash_ += LeafHash(key, LeafValue(l));
  }

  void Claim(uint64_t offset, uint64_t bytes) { blocks_.emplace_back(offset, SizeClass(bytes)); }

  // Every leaf is in the index, in the probe run from its home slot, and the index holds nothing
  // else: with as many entries as leaves, and each leaf found in a slot of its own, the slots
  // are exactly the leaves. (Looking each slot's leaf up among the leaves cost a binary search
  // of random reads per key.)
  void VisitIndex(const MetaValues& meta) {
    if (meta.hash_dir == 0) {
      if (keys_ != 0) ThrowCorrupt("the hash index is missing");
      return;
    }
    const uint64_t pages = uint64_t{1} << meta.hash_bits;
    HashPageAt(space_, meta.hash_dir, meta.hash_bits, 0);
    Claim(meta.hash_dir, sizeof(uint64_t) << meta.hash_bits);
    uint64_t entries = 0;
    for (uint64_t p = 0; p < pages; ++p) {
      const uint64_t* page = HashPageAt(space_, meta.hash_dir, meta.hash_bits, p);
      Claim(reinterpret_cast<const char*>(page) - space_.base, kHashPageBytes);
      for (uint32_t i = 0; i < kHashPageSlots; ++i) entries += page[i] != 0;
    }
    if (entries != keys_) ThrowCorrupt("hash index holds " + std::to_string(entries) + " entries");
    for (const auto& [leaf, h] : leaves_) {
      const uint64_t p = HashPage(h, meta.hash_bits);
      const uint64_t* page = HashPageAt(space_, meta.hash_dir, meta.hash_bits, p);
      uint32_t i = HashHome(h);
      uint32_t probes = 0;
      while (page[i] != 0 && SlotLeaf(page[i]) != leaf && ++probes < kHashPageSlots) {
        i = (i + 1) & (kHashPageSlots - 1);
      }
      if (page[i] == 0 || SlotLeaf(page[i]) != leaf) {
        ThrowCorrupt("the hash index lacks the leaf at offset " + std::to_string(RefOffset(leaf)) +
                     " (page " + std::to_string(p) + ")");
      }
      if (SlotHome(page[i]) != HashHome(h) || SlotTag(page[i]) != HashTag(h)) {
        ThrowCorrupt("hash slot " + std::to_string(i) + " of page " + std::to_string(p) +
                     " does not match its key");
      }
    }
  }

  [[noreturn]] void Fail(Ref ref, const std::string& what) {
    ThrowCorrupt("node at offset " + std::to_string(RefOffset(ref)) + ": " + what);
  }

  Space space_;
  std::vector<std::pair<uint64_t, uint64_t>> blocks_;
  std::string last_key_;
  std::vector<std::pair<Ref, uint64_t>> leaves_;  // With the KeyHash of their keys.
  uint64_t keys_ = 0;
  uint64_t hash_ = 0;
};

}  // namespace

void VerifyMapping(const Mapping& m, const MetaValues& meta) {
  Walker w(m);
  std::string path;
  if (meta.root != 0) w.Visit(meta.root, path, false);
  if (w.keys_ != meta.key_count) {
    ThrowCorrupt(std::to_string(w.keys_) + " keys reachable, the meta record says " +
                 std::to_string(meta.key_count));
  }
  if (w.hash_ != meta.content_hash) ThrowCorrupt("content hash mismatch");
  w.VisitIndex(meta);
  uint64_t list_bytes = 0;
  uint64_t free_bytes = 0;
  for (const FreeRecord& r : ReadFreeList(m.base, m.header->data_offset, meta, &list_bytes)) {
    w.blocks_.emplace_back(r.offset, r.bytes);
    free_bytes += r.bytes;
  }
  if (list_bytes != 0) w.blocks_.emplace_back(meta.free_list, list_bytes);
  if (free_bytes != meta.free_bytes) ThrowCorrupt("free byte count mismatch");
  std::sort(w.blocks_.begin(), w.blocks_.end());
  uint64_t end = m.header->data_offset;
  for (const auto& [off, bytes] : w.blocks_) {
    if (off < end) ThrowCorrupt("blocks overlap at offset " + std::to_string(off));
    end = off + bytes;
  }
  if (end > meta.alloc_top) ThrowCorrupt("a block ends beyond the allocation top");
}

}  // namespace whycache::tree
