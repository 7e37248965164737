// Replication lag between two machines of one log: the time from Set() returning on machine A
// to the value being readable on machine B, where a serving process calls Update() between
// requests, as services do.
#ifndef WHYCACHE_LIB_BENCH_REPLICATION_LAG_H_
#define WHYCACHE_LIB_BENCH_REPLICATION_LAG_H_

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <random>

#include "whycache/cache.h"

namespace whycache::bench {

class ReplicationLagProbe {
 public:
  // Opens machine A (`a`) and machine B (`b`: another state file on the same log) and forks B's
  // serving process, which calls Update() every 200 us for at most five minutes. Throws
  // whycache::Error if a machine cannot be opened or the fork fails.
  ReplicationLagProbe(const CacheOptions& a, const CacheOptions& b, uint64_t seed);
  // Kills and reaps the serving process.
  ~ReplicationLagProbe();
  ReplicationLagProbe(const ReplicationLagProbe&) = delete;
  ReplicationLagProbe& operator=(const ReplicationLagProbe&) = delete;

  // Sleeps a random part of one poll interval, so that the next write lands at a random phase
  // of B's poll schedule, as writes of independent writers do.
  void WaitRandomPhase();

  // Sets a key on A and returns the milliseconds until B serves the new value. Throws
  // Error(kTimedOut) if B has not served it within ten seconds, Error(kIOError) if B's serving
  // process died.
  double SampleMs();

  // B's poll interval: the lag's floor and the scale of its spread.
  std::chrono::milliseconds poll_interval() const { return interval_; }

 private:
  // Reaps the serving process and throws Error(kIOError) saying how it ended, if it has.
  void ThrowIfServerDied();

  std::unique_ptr<Cache> a_;
  std::unique_ptr<Cache> b_reader_;
  std::chrono::milliseconds interval_;
  pid_t server_ = -1;
  std::mt19937_64 rng_;
  uint64_t writes_ = 0;
};

}  // namespace whycache::bench

#endif  // WHYCACHE_LIB_BENCH_REPLICATION_LAG_H_
