#include "lib/tree/art_node.h"

#include <emmintrin.h>

#include <vector>

#include "lib/tree/hash_index.h"

namespace whycache::tree {

void ThrowCorrupt(const std::string& what) {
  throw Error(Error::Code::kCorruption, "state file corrupt: " + what);
}

namespace {

inline int Find16(const uint8_t* keys, uint32_t count, uint8_t c) {
  const __m128i cmp = _mm_cmpeq_epi8(_mm_set1_epi8(static_cast<char>(c)),
                                     _mm_loadu_si128(reinterpret_cast<const __m128i*>(keys)));
  const unsigned mask = static_cast<unsigned>(_mm_movemask_epi8(cmp)) & ((1u << count) - 1);
  return mask ? __builtin_ctz(mask) : -1;
}

constexpr int kEstimateDescents = 256;

// splitmix64: the descents' choices, from a seed.
uint64_t NextRandom(uint64_t* state) {
  uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

// How many keys the subtree at `ref` holds, counting no further than `limit`.
uint64_t CountKeys(const Space& s, Ref ref, uint64_t limit) {
  if (ref == 0) return 0;
  uint64_t count = 0;
  std::vector<Ref> stack = {ref};
  while (!stack.empty() && count < limit) {
    const Ref r = stack.back();
    stack.pop_back();
    if (IsLeaf(r)) {
      ++count;
      continue;
    }
    const InnerHeader* n = s.Inner(r);
    for (int pos = NextPos(n, kBeforeFirst); pos != kNoPos; pos = NextPos(n, pos)) {
      const Ref child = ChildAt(n, pos);
      if (IsLeaf(child)) {
        ++count;
      } else {
        stack.push_back(child);
      }
    }
  }
  return std::min(count, limit);
}

}  // namespace

Ref FindChild(const InnerHeader* n, uint8_t c) {
  const uint8_t* b = Body(n);
  switch (n->kind) {
    case kNode4:
      for (uint32_t i = 0; i < n->count; ++i) {
        if (b[i] == c) return reinterpret_cast<const Ref*>(b + 8)[i];
      }
      return 0;
    case kNode8:
    case kNode16: {
      const int i = Find16(b, n->count, c);
      return i < 0 ? 0 : Children(n)[i];
    }
    case kNode48: {
      const uint8_t slot = b[c];
      if (slot == 0 || slot > 48) return 0;
      return reinterpret_cast<const Ref*>(b + 256)[slot - 1];
    }
    default:
      return reinterpret_cast<const Ref*>(b)[c];
  }
}

Ref SubtreeUnder(const Space& s, Ref root, std::string_view prefix) {
  Ref ref = root;
  size_t depth = 0;
  while (ref != 0) {
    if (IsLeaf(ref)) return LeafKey(s.Leaf(ref)).starts_with(prefix) ? ref : 0;
    const InnerHeader* n = s.Inner(ref);
    const size_t rest = prefix.size() - depth;
    if (std::memcmp(Prefix(n), prefix.data() + depth, std::min<size_t>(n->prefix_len, rest)) != 0) {
      return 0;
    }
    if (rest <= n->prefix_len) return ref;
    depth += n->prefix_len;
    ref = FindChild(n, static_cast<uint8_t>(prefix[depth]));
    ++depth;
  }
  return 0;
}

uint64_t EstimateKeys(const Space& s, Ref ref, uint64_t exact_limit) {
  const uint64_t exact = CountKeys(s, ref, exact_limit);
  if (exact < exact_limit) return exact;
  uint64_t random = ref;
  double sum = 0;
  for (int i = 0; i < kEstimateDescents; ++i) {
    double weight = 1;
    for (Ref r = ref; !IsLeaf(r);) {
      const InnerHeader* n = s.Inner(r);
      const uint32_t entries = n->count + (n->end_leaf != 0 ? 1 : 0);
      if (entries == 0) ThrowCorrupt("inner node at offset " + std::to_string(r) + " is empty");
      uint32_t pick = static_cast<uint32_t>(NextRandom(&random) % entries);
      int pos = NextPos(n, kBeforeFirst);
      for (; pick > 0; --pick) pos = NextPos(n, pos);
      weight *= entries;
      r = ChildAt(n, pos);
    }
    sum += weight;
  }
  return std::max(exact, static_cast<uint64_t>(sum / kEstimateDescents));
}

int NextPos(const InnerHeader* n, int pos) {
  if (pos < kEndPos && n->end_leaf != 0) return kEndPos;
  const uint8_t* b = Body(n);
  int p = pos < 0 ? 0 : pos + 1;
  switch (n->kind) {
    case kNode4:
    case kNode8:
    case kNode16:
      return p < n->count ? p : kNoPos;
    case kNode48:
      for (; p < 256; ++p) {
        if (b[p] != 0) return p;
      }
      return kNoPos;
    default: {
      const Ref* ch = reinterpret_cast<const Ref*>(b);
      for (; p < 256; ++p) {
        if (ch[p] != 0) return p;
      }
      return kNoPos;
    }
  }
}

int PosAtOrAfter(const InnerHeader* n, uint8_t c) {
  const uint8_t* b = Body(n);
  switch (n->kind) {
    case kNode4:
    case kNode8:
    case kNode16:
      for (int i = 0; i < n->count; ++i) {
        if (b[i] >= c) return i;
      }
      return kNoPos;
    default:
      // Position c - 1 (kEndPos when c is 0) makes NextPos scan bytes from c on.
      return NextPos(n, static_cast<int>(c) - 1);
  }
}

uint8_t ByteAt(const InnerHeader* n, int pos) {
  if (HasSortedKeys(n->kind)) return Body(n)[pos];
  return static_cast<uint8_t>(pos);
}

Ref ChildAt(const InnerHeader* n, int pos) {
  if (pos == kEndPos) return n->end_leaf;
  const uint8_t* b = Body(n);
  if (n->kind == kNode48) {
    const uint8_t slot = b[pos];
    if (slot == 0 || slot > 48) ThrowCorrupt("Node48 index entry out of range");
    return reinterpret_cast<const Ref*>(b + 256)[slot - 1];
  }
  return Children(n)[pos];
}

void WriteLeaf(char* p, std::string_view key, std::string_view value) {
  const uint32_t key_len = static_cast<uint32_t>(key.size());
  const uint32_t value_len = static_cast<uint32_t>(value.size());
  if (HasShortLeafHeader(key_len, value_len)) {
    const uint32_t word = kShortLeafFlag | key_len << 23 | value_len;
    std::memcpy(p, &word, 4);
  } else {
    std::memcpy(p, &key_len, 4);
    std::memcpy(p + 4, &value_len, 4);
  }
  const uint64_t key_at = LeafHeaderBytes(key_len, value_len);
  const uint64_t value_at = LeafValueOffset(key_len, value_len);
  std::memcpy(p + key_at, key.data(), key.size());
  std::memset(p + key_at + key.size(), 0, value_at - key_at - key.size());
  p += value_at;
  std::memcpy(p, value.data(), value.size());
  std::memset(p + value.size(), 0, AlignUp(value.size(), 8) - value.size());
}

void WriteInner(char* p, uint8_t kind, std::string_view prefix, Ref end_leaf,
                const std::pair<uint8_t, Ref>* children, uint32_t count) {
  const uint32_t plen = static_cast<uint32_t>(prefix.size());
  std::memset(p, 0, InnerBytes(kind, plen));
  InnerHeader* n = reinterpret_cast<InnerHeader*>(p);
  n->kind = kind;
  n->count = static_cast<uint16_t>(count);
  n->prefix_len = plen;
  n->end_leaf = end_leaf;
  std::memcpy(p + sizeof(InnerHeader), prefix.data(), plen);
  uint8_t* b = MutableBody(n);
  Ref* ch = const_cast<Ref*>(Children(n));
  for (uint32_t i = 0; i < count; ++i) {
    const auto [c, child] = children[i];
    switch (kind) {
      case kNode4:
      case kNode8:
      case kNode16:
        b[i] = c;
        ch[i] = child;
        break;
      case kNode48:
        b[c] = static_cast<uint8_t>(i + 1);
        ch[i] = child;
        break;
      default:
        ch[c] = child;
    }
  }
}

uint64_t LeafHash(std::string_view key, std::string_view value) {
  // The index's key hash takes 16 bytes per multiply, Hash64 8 bytes per two: this was a quarter
  // of the cost of loading a leaf.
  return KeyHash(key) ^ (KeyHash(value) * 0x9e3779b97f4a7c15ULL);
}

}  // namespace whycache::tree
