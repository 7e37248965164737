#include "lib/bench/loaded_cache.h"

#include <algorithm>
#include <random>

#include "lib/bench/workload.h"
#include "whycache/error.h"

namespace whycache::bench {

LoadedCache::LoadedCache(const std::string& dir, size_t keys, size_t value_bytes, uint64_t seed) {
  options_.state_path = dir + "/machine.state";
  options_.log_uri = "file:" + dir + "/log";
  std::mt19937_64 rng(seed);
  {
    LogOptions log_options;
    log_options.create_if_missing = true;
    log_options.fsync = FsyncPolicy::kNever;
    auto log = OpenChangeLog(options_.log_uri, log_options);
    keys_ = AppendRandomEntries(*log, keys, 10'000, value_bytes, rng);
  }
  cache_ = Cache::Open(options_);
  cache_->UpdateNow();
  std::shuffle(keys_.begin(), keys_.end(), rng);
  ReadTransaction txn = cache_->BeginRead();
  size_t found = 0;
  for (const std::string& key : keys_) found += txn.Get(key).has_value();
  if (found != keys_.size()) {
    throw Error(Error::Code::kCorruption, "benchmark data set in " + dir + ": " +
                                              std::to_string(keys_.size() - found) +
                                              " keys written to the log are missing");
  }
}

}  // namespace whycache::bench
