// A machine with a populated state for cache-level benchmarks: a file log in a directory of the
// caller's, holding random keys ("key:%016llx") with random (incompressible) values, applied to
// a state file.
#ifndef WHYCACHE_LIB_BENCH_LOADED_CACHE_H_
#define WHYCACHE_LIB_BENCH_LOADED_CACHE_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "whycache/cache.h"

namespace whycache::bench {

class LoadedCache {
 public:
  // Creates the log "DIR/log" (appends unsynced, in batches of 10,000), writes `keys` keys with
  // `value_bytes`-byte random values, opens the state "DIR/machine.state" on it and applies the
  // log. Then reads every key once, so that no later benchmark pays for faulting the pages in.
  // REQUIRES: `dir` exists and is left to this object. Throws whycache::Error.
  LoadedCache(const std::string& dir, size_t keys, size_t value_bytes, uint64_t seed);

  Cache& cache() const { return *cache_; }
  // The options `cache()` was opened with: another machine on the same log differs only in
  // its state path.
  const CacheOptions& options() const { return options_; }
  // Every key written, in a random order.
  const std::vector<std::string>& keys() const { return keys_; }

 private:
  CacheOptions options_;
  std::unique_ptr<Cache> cache_;
  std::vector<std::string> keys_;
};

}  // namespace whycache::bench

#endif  // WHYCACHE_LIB_BENCH_LOADED_CACHE_H_
