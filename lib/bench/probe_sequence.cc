#include "lib/bench/probe_sequence.h"

#include <algorithm>
#include <bit>

namespace whycache::bench {

ProbeSequence::ProbeSequence(const std::vector<std::string>& keys, size_t count,
                             std::mt19937_64& rng)
    : count_(count), key_bytes_(keys.front().size()) {
  buffer_.reserve(count * key_bytes_);
  for (size_t i = 0; i < count; ++i) buffer_ += keys[rng() % keys.size()];
}

size_t ProbeCount(size_t lookups) {
  return std::bit_ceil(std::min(std::max(lookups, size_t{1}), size_t{1} << 22));
}

}  // namespace whycache::bench
