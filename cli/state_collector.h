// The exporter's source of metrics: prometheus-cpp calls Collect() at each scrape, and it reads
// the Stats of every state file it was given at that moment.
#ifndef WHYCACHE_CLI_STATE_COLLECTOR_H_
#define WHYCACHE_CLI_STATE_COLLECTOR_H_

#include <prometheus/collectable.h>
#include <prometheus/metric_family.h>
#include <sys/types.h>

#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "whycache/cache.h"

namespace whycache::cli {

// One state file, opened without a log (reading it changes nothing the machine relies on).
// Thread-safe: scrapes may run at once.
class StateSource {
 public:
  // Opens the state file at `path`. Throws Error(kInvalidArgument) naming it when there is no
  // file there (as `whycache stats` does), and Cache::Open's errors.
  explicit StateSource(std::string path);

  const std::string& path() const { return path_; }

  // The figures now. When `path` names another file than the one open (rebuilt, or deleted and
  // made anew), opens that one first: a process that never polls would not notice otherwise.
  // Throws as the constructor does.
  CacheStats Read();

 private:
  // Opens whatever `path_` names now. REQUIRES: mu_ held.
  void Reopen();

  std::mutex mu_;
  const std::string path_;
  std::unique_ptr<Cache> cache_;
  dev_t device_ = 0;
  ino_t inode_ = 0;
};

// The metrics of whycache/prometheus.h for every state, one sample per state under each metric,
// plus whycache_state_readable (0 for a state that could not be read at this scrape, whose other
// samples are left out; the reason goes to stderr).
class StateCollector : public prometheus::Collectable {
 public:
  explicit StateCollector(std::vector<std::unique_ptr<StateSource>> states);

  std::vector<prometheus::MetricFamily> Collect() const override;

 private:
  const std::vector<std::unique_ptr<StateSource>> states_;
};

}  // namespace whycache::cli

#endif  // WHYCACHE_CLI_STATE_COLLECTOR_H_
