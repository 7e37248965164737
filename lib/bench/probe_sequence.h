// A sequence of existing keys to look up, drawn at random, laid one after the other in one
// buffer: fetching the next key costs no cache miss, so every miss a get loop measures is the
// store's own, and every store of a comparison is asked the same keys in the same order.
#ifndef WHYCACHE_LIB_BENCH_PROBE_SEQUENCE_H_
#define WHYCACHE_LIB_BENCH_PROBE_SEQUENCE_H_

#include <cstddef>
#include <random>
#include <string>
#include <string_view>
#include <vector>

namespace whycache::bench {

class ProbeSequence {
 public:
  // Empty: every key is "". Assign a real sequence before use.
  ProbeSequence() = default;
  // `count` keys drawn from `keys` with `rng`. REQUIRES: `keys` is not empty and all its keys
  // have the same length; `count` is a power of two.
  ProbeSequence(const std::vector<std::string>& keys, size_t count, std::mt19937_64& rng);

  // The i-th key; the sequence wraps around after `count` keys.
  std::string_view operator[](size_t i) const {
    return {buffer_.data() + (i & (count_ - 1)) * key_bytes_, key_bytes_};
  }

  size_t key_bytes() const { return key_bytes_; }

 private:
  size_t count_ = 1;
  size_t key_bytes_ = 0;
  std::string buffer_;
};

// The length of a probe sequence for `lookups` gets in all: a key per get, rounded up to a power
// of two, but at most 4M keys (80 MB of 20-byte keys), past which the gets wrap around.
size_t ProbeCount(size_t lookups);

}  // namespace whycache::bench

#endif  // WHYCACHE_LIB_BENCH_PROBE_SEQUENCE_H_
