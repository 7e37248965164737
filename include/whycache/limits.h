// Size limits enforced on every write path (the log, the tree, the CLI). Input beyond them is
// refused with Error(kInvalidArgument) naming the limit; nothing is written.
#ifndef WHYCACHE_LIMITS_H_
#define WHYCACHE_LIMITS_H_

#include <cstddef>

namespace whycache {

inline constexpr size_t kMaxKeyBytes = 4096;
inline constexpr size_t kMaxValueBytes = size_t{64} << 20;
// One batch (one update id) at most this many mutations and this many key+value bytes.
inline constexpr size_t kMaxBatchMutations = 1'000'000;
inline constexpr size_t kMaxBatchBytes = size_t{128} << 20;

}  // namespace whycache

#endif  // WHYCACHE_LIMITS_H_
