// Ordered iteration over one snapshot with an explicit stack of (node, position) frames.
#include <string>

#include "lib/tree/tree.h"
#include "whycache/limits.h"

namespace whycache::tree {
void Iterator::Push(const InnerHeader* n, int pos) {
  // Every inner node consumes at least one key byte, so a deeper stack means a cycle.
  if (depth_ > kMaxKeyBytes + 1) ThrowCorrupt("tree deeper than the longest key");
  if (depth_ < kInlineFrames) {
    frames_[depth_] = {n, pos};
  } else {
    spilled_.push_back({n, pos});
  }
  ++depth_;
}

void Iterator::Descend(Ref ref) {
  while (ref != 0 && !IsLeaf(ref)) {
    const InnerHeader* n = space_.Inner(ref);
    // A state built by many commits scatters its blocks over the file, so nearly every block
    // is a cache miss: asking for all the children at once overlaps their misses instead of
    // paying them one by one as the walk reaches them. Only the address is checked: a prefetch
    // never faults and reads nothing, so a bad reference is still reported when the walk gets
    // there. (In a function of its own, the compiler would drop the call as having no effect.)
    // Node48 fills its slots in any order and Node256 its bytes sparsely; empty ones are 0.
    const Ref* children = Children(n);
    const uint32_t slots = HasSortedKeys(n->kind) ? n->count : Capacity(n->kind);
    for (uint32_t i = 0; i < slots; ++i) {
      const uint64_t off = RefOffset(children[i]);
      if (off < space_.size) {
        // A leaf is mostly its key and value; a Node16 keeps its last children lines in.
        __builtin_prefetch(space_.base + off);
        __builtin_prefetch(space_.base + off + 64);
        __builtin_prefetch(space_.base + off + 128);
      }
    }
    const int pos = NextPos(n, kBeforeFirst);
    if (pos == kNoPos) ThrowCorrupt("empty inner node at offset " + std::to_string(ref));
    Push(n, pos);
    ref = ChildAt(n, pos);
  }
  if (ref == 0) ThrowCorrupt("null child reference");
  leaf_ = space_.Leaf(ref);
}

void Iterator::Advance() {
  while (depth_ != 0) {
    Frame& f = Top();
    const int pos = NextPos(f.node, f.pos);
    if (pos != kNoPos) {
      f.pos = pos;
      Descend(ChildAt(f.node, pos));
      return;
    }
    Pop();
  }
  leaf_ = nullptr;
}

void Iterator::Next() {
  const std::string_view previous = key();
  Advance();
  // Readers do not verify the file: in a damaged one, nodes reachable along several paths (or
  // in a loop) would repeat entries without end. Strictly increasing keys visit each leaf once.
  if (leaf_ != nullptr && key() <= previous) {
    ThrowCorrupt("keys out of order in a scan, after a key of " + std::to_string(previous.size()) +
                 " bytes");
  }
}

void Iterator::SeekToFirst() {
  Clear();
  leaf_ = nullptr;
  if (root_ != 0) Descend(root_);
}

void Iterator::Seek(std::string_view target) {
  Clear();
  leaf_ = nullptr;
  Ref ref = root_;
  size_t depth = 0;
  const uint8_t* t = reinterpret_cast<const uint8_t*>(target.data());
  while (ref != 0) {
    if (IsLeaf(ref)) {
      const LeafHeader* l = space_.Leaf(ref);
      if (LeafKey(l) >= target) {
        leaf_ = l;
      } else {
        Advance();
      }
      return;
    }
    const InnerHeader* n = space_.Inner(ref);
    const uint8_t* prefix = Prefix(n);
    const size_t left = target.size() - depth;
    for (size_t i = 0; i < n->prefix_len; ++i) {
      if (i == left || prefix[i] > t[depth + i]) {
        // Every key below is greater than the target.
        Descend(ref);
        return;
      }
      if (prefix[i] < t[depth + i]) {
        // Every key below is smaller.
        Advance();
        return;
      }
    }
    depth += n->prefix_len;
    if (depth == target.size()) {
      // The end_leaf equals the target and the children are greater.
      Descend(ref);
      return;
    }
    // The end_leaf is a proper prefix of the target, hence smaller.
    const uint8_t c = t[depth];
    const int pos = PosAtOrAfter(n, c);
    if (pos == kNoPos) {
      Advance();
      return;
    }
    Push(n, pos);
    ref = ChildAt(n, pos);
    if (ByteAt(n, pos) > c) {
      Descend(ref);
      return;
    }
    ++depth;
  }
  if (depth_ != 0) ThrowCorrupt("null child reference");
}

}  // namespace whycache::tree
