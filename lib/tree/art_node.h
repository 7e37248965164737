// Node formats of the adaptive radix tree (Leis et al., ICDE 2013) and the read-side helpers that
// decode them. Every read is bounds-checked against the mapping: the file is untrusted input.
//
// A Ref names a node by its file offset. Offsets are 8-byte aligned, so the low bit tags leaves:
// a leaf Ref is offset | 1, 0 is "no node".
//
// Inner node: InnerHeader, then prefix_len bytes of compressed path (padded to 8), then the body
// of its kind. A key that ends exactly at the node (a prefix of longer keys) is the node's
// end_leaf, which sorts before every child. Bodies:
//   Node4:   uint8 keys[4], pad[4], Ref child[4]     keys sorted, count <= 4
//   Node8:   uint8 keys[8], Ref child[8]             keys sorted, 3 <= count <= 8
//   Node16:  uint8 keys[16], Ref child[16]           keys sorted, 7 <= count <= 16
//   Node48:  uint8 index[256] (slot + 1, 0 = none), Ref child[48]    13 <= count <= 48
//   Node256: Ref child[256]                          41 <= count <= 256
// Node8 is for the nodes of 5 to 8 children, common just above the leaves of random text keys:
// 88 bytes instead of a Node16's 160.
// Leaf: a header, the key, then the value from the next 8-byte boundary (values start aligned),
// padded to 8. The header is one word, bit 31 set, key length in bits 23..30 and value length in
// bits 0..22, when the key is shorter than 256 bytes and the value than 8 MiB; otherwise it is two
// words, the key length (bit 31 clear) and the value length. Most keys are short, and the word
// saved often holds the key's tail that would otherwise take another 8 bytes per leaf.
#ifndef WHYCACHE_LIB_TREE_ART_NODE_H_
#define WHYCACHE_LIB_TREE_ART_NODE_H_

#include <algorithm>
#include <bit>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <utility>

#include "lib/tree/file_layout.h"
#include "whycache/error.h"

namespace whycache::tree {

using Ref = uint64_t;

enum NodeKind : uint8_t { kNode4 = 1, kNode8 = 2, kNode16 = 3, kNode48 = 4, kNode256 = 5 };
// Node4, Node8 and Node16 keep their children's bytes sorted in keys[], children after them.
inline bool HasSortedKeys(uint8_t kind) { return kind <= kNode16; }

struct InnerHeader {
  uint8_t kind;
  uint8_t reserved;
  uint16_t count;
  uint32_t prefix_len;
  Ref end_leaf;
};
static_assert(sizeof(InnerHeader) == 16);

// Opaque: read only through the Leaf* helpers below.
struct LeafHeader {
  uint32_t word;
};
inline constexpr uint32_t kShortLeafFlag = uint32_t{1} << 31;
inline constexpr uint64_t kShortLeafKeyLimit = 256;
inline constexpr uint64_t kShortLeafValueLimit = uint64_t{1} << 23;
// The smallest leaf: a short header and no key or value, padded to 8.
inline constexpr uint64_t kMinLeafBytes = 8;

inline bool HasShortLeafHeader(uint64_t key_len, uint64_t value_len) {
  return key_len < kShortLeafKeyLimit && value_len < kShortLeafValueLimit;
}

inline bool IsLeaf(Ref r) { return (r & 1) != 0; }
inline uint64_t RefOffset(Ref r) { return r & ~uint64_t{1}; }

inline uint64_t BodyBytes(uint8_t kind) {
  switch (kind) {
    case kNode4:
      return 8 + 4 * 8;
    case kNode8:
      return 8 + 8 * 8;
    case kNode16:
      return 16 + 16 * 8;
    case kNode48:
      return 256 + 48 * 8;
    case kNode256:
      return 256 * 8;
  }
  return 0;
}
inline uint32_t Capacity(uint8_t kind) {
  static constexpr uint32_t kCap[] = {0, 4, 8, 16, 48, 256};
  return kCap[kind];
}
// Fewest children a node of this kind holds (a smaller count shrinks it to the next kind).
inline uint32_t MinCount(uint8_t kind) {
  static constexpr uint32_t kMin[] = {0, 0, 3, 7, 13, 41};
  return kMin[kind];
}
inline uint8_t SmallestKindFor(uint32_t count) {
  return count <= 4    ? kNode4
         : count <= 8  ? kNode8
         : count <= 16 ? kNode16
         : count <= 48 ? kNode48
                       : kNode256;
}
inline uint64_t InnerBytes(uint8_t kind, uint32_t prefix_len) {
  return sizeof(InnerHeader) + AlignUp(prefix_len, 8) + BodyBytes(kind);
}
inline uint64_t LeafHeaderBytes(uint64_t key_len, uint64_t value_len) {
  return HasShortLeafHeader(key_len, value_len) ? 4 : 8;
}
inline uint64_t LeafValueOffset(uint64_t key_len, uint64_t value_len) {
  return AlignUp(LeafHeaderBytes(key_len, value_len) + key_len, 8);
}
inline uint64_t LeafBytes(uint64_t key_len, uint64_t value_len) {
  return LeafValueOffset(key_len, value_len) + AlignUp(value_len, 8);
}

struct LeafLengths {
  uint32_t key;
  uint32_t value;
};
// REQUIRES: `l` was returned by Space::Leaf, which checked the header's words are in the file.
inline LeafLengths LeafLengthsOf(const LeafHeader* l) {
  const uint32_t w = l->word;
  if ((w & kShortLeafFlag) != 0) {
    return {(w >> 23) & 0xff, w & 0x7fffff};
  }
  uint32_t value_len;
  std::memcpy(&value_len, reinterpret_cast<const char*>(l) + 4, 4);
  return {w, value_len};
}
inline uint64_t LeafBytes(const LeafHeader* l) {
  const LeafLengths n = LeafLengthsOf(l);
  return LeafBytes(n.key, n.value);
}

[[noreturn]] void ThrowCorrupt(const std::string& what);

// A read-only view of one mapped file.
struct Space {
  const char* base = nullptr;
  uint64_t size = 0;
  uint64_t data_offset = 0;

  const InnerHeader* Inner(Ref r) const {
    const uint64_t off = r;
    if (off < data_offset || off > size - sizeof(InnerHeader) || (off & 7) != 0) {
      ThrowCorrupt("node offset " + std::to_string(off) + " out of bounds");
    }
    const InnerHeader* n = reinterpret_cast<const InnerHeader*>(base + off);
    if (n->kind < kNode4 || n->kind > kNode256 || n->count > Capacity(n->kind) ||
        n->prefix_len > size || InnerBytes(n->kind, n->prefix_len) > size - off) {
      ThrowCorrupt("malformed node at offset " + std::to_string(off));
    }
    return n;
  }

  const LeafHeader* Leaf(Ref r) const {
    const uint64_t off = RefOffset(r);
    if (off < data_offset || off > size - kMinLeafBytes || (off & 7) != 0) {
      ThrowCorrupt("leaf offset " + std::to_string(off) + " out of bounds");
    }
    const LeafHeader* l = reinterpret_cast<const LeafHeader*>(base + off);
    const LeafLengths n = LeafLengthsOf(l);
    // A two-word header for lengths that fit one would make LeafBytes, which frees by size
    // class, disagree with the block the leaf was allocated in.
    if ((l->word & kShortLeafFlag) == 0 && HasShortLeafHeader(n.key, n.value)) {
      ThrowCorrupt("leaf at offset " + std::to_string(off) + " has a malformed header");
    }
    if (LeafBytes(n.key, n.value) > size - off) {
      ThrowCorrupt("leaf at offset " + std::to_string(off) + " overruns the file");
    }
    return l;
  }
};

inline const uint8_t* Prefix(const InnerHeader* n) {
  return reinterpret_cast<const uint8_t*>(n) + sizeof(InnerHeader);
}
inline const uint8_t* Body(const InnerHeader* n) { return Prefix(n) + AlignUp(n->prefix_len, 8); }
inline uint8_t* MutableBody(InnerHeader* n) { return const_cast<uint8_t*>(Body(n)); }

inline std::string_view LeafKey(const LeafHeader* l) {
  const LeafLengths n = LeafLengthsOf(l);
  return {reinterpret_cast<const char*>(l) + LeafHeaderBytes(n.key, n.value), n.key};
}
inline std::string_view LeafValue(const LeafHeader* l) {
  const LeafLengths n = LeafLengthsOf(l);
  return {reinterpret_cast<const char*>(l) + LeafValueOffset(n.key, n.value), n.value};
}

// Child slot addresses by kind; N4/N8/N16 keep their keys first.
inline const Ref* Children(const InnerHeader* n) {
  const uint8_t* b = Body(n);
  switch (n->kind) {
    case kNode4:
    case kNode8:
      return reinterpret_cast<const Ref*>(b + 8);
    case kNode16:
      return reinterpret_cast<const Ref*>(b + 16);
    case kNode48:
      return reinterpret_cast<const Ref*>(b + 256);
    default:
      return reinterpret_cast<const Ref*>(b);
  }
}

// The child for byte `c`, 0 when none.
Ref FindChild(const InnerHeader* n, uint8_t c);

// The root of the subtree of `root` that holds exactly the keys that start with `prefix`: a leaf,
// or an inner node whose path the prefix ends in; 0 when no key starts with it.
Ref SubtreeUnder(const Space& s, Ref root, std::string_view prefix);

// About how many keys the subtree at `ref` holds: the exact count up to `exact_limit` keys,
// beyond it an estimate from random descents that multiply the fan-outs met (Knuth's estimator:
// unbiased, a few hundred node reads whatever the size, the same for the same tree). Reads inner
// nodes, never leaves.
uint64_t EstimateKeys(const Space& s, Ref ref, uint64_t exact_limit);

// Positions enumerate a node's children in byte order: for Node4/8/16 the index in keys[], for
// Node48/256 the byte itself. kEndPos (-1) stands for the end_leaf, which comes first.
inline constexpr int kEndPos = -1;
inline constexpr int kBeforeFirst = -2;
// Next position after `pos` that holds a child (or the end_leaf), or kNoPos.
inline constexpr int kNoPos = 1000;
int NextPos(const InnerHeader* n, int pos);
// The smallest child position whose byte is >= c, or kNoPos.
int PosAtOrAfter(const InnerHeader* n, uint8_t c);
uint8_t ByteAt(const InnerHeader* n, int pos);
Ref ChildAt(const InnerHeader* n, int pos);

// Fill blocks that no reader can see yet. WriteLeaf writes LeafBytes(key, value) bytes at `p`;
// WriteInner writes InnerBytes(kind, prefix.size()) bytes holding `count` children sorted by byte.
// REQUIRES: count fits `kind`.
void WriteLeaf(char* p, std::string_view key, std::string_view value);
void WriteInner(char* p, uint8_t kind, std::string_view prefix, Ref end_leaf,
                const std::pair<uint8_t, Ref>* children, uint32_t count);

// Length of the longest common prefix of `a` and `b`, compared a word at a time: bulk loads and
// inserts take it for every key.
inline size_t CommonPrefixLength(std::string_view a, std::string_view b) {
  static_assert(std::endian::native == std::endian::little);
  const size_t limit = std::min(a.size(), b.size());
  size_t i = 0;
  for (; i + 8 <= limit; i += 8) {
    uint64_t x, y;
    std::memcpy(&x, a.data() + i, 8);
    std::memcpy(&y, b.data() + i, 8);
    if (x != y) return i + static_cast<size_t>(std::countr_zero(x ^ y) / 8);
  }
  while (i < limit && a[i] == b[i]) ++i;
  return i;
}

// Contribution of one entry to MetaRecord::content_hash (a sum, so updates are incremental).
uint64_t LeafHash(std::string_view key, std::string_view value);

}  // namespace whycache::tree

#endif  // WHYCACHE_LIB_TREE_ART_NODE_H_
