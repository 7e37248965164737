// Key order of a write transaction's ops: the order the writer applies them in for locality and
// the order a merge into a new file needs.
#ifndef WHYCACHE_LIB_TREE_KEY_ORDER_H_
#define WHYCACHE_LIB_TREE_KEY_ORDER_H_

#include <cstdint>
#include <vector>

#include "lib/tree/tree.h"

namespace whycache::tree {

// An op and the first 16 bytes of its key, zero-padded, as big-endian integers: comparing those
// settles most comparisons without touching the scattered keys (memcmp on them was a third of
// the apply time).
struct KeyedOp {
  uint64_t head[2];
  uint32_t op;  // Index of the op.
};

// Whether the keys of `a` and `b` agree on their heads. Keys with the same head can still
// differ: past their 16th byte, or in length when they end in zero bytes ("a" and "a\0").
inline bool SameHead(const KeyedOp& a, const KeyedOp& b) {
  return a.head[0] == b.head[0] && a.head[1] == b.head[1];
}

// Returns the indices of `ops`, with their keys' heads, in key order: bytewise unsigned, the
// shorter key first where one is a prefix of the other. Ops on the same key keep their original
// order. REQUIRES: ops.size() < 2^32.
std::vector<KeyedOp> KeyOrder(const std::vector<WriteTxn::Op>& ops);

}  // namespace whycache::tree

#endif  // WHYCACHE_LIB_TREE_KEY_ORDER_H_
