// Google Benchmark benchmarks of a ChangeLog implementation, shared by every backend's benchmark
// binary: append latency and throughput (single-key and 1,000-key batches, fsync on and off),
// tail read throughput over a log of 1M mutations, the cost of an empty poll, and compaction
// throughput over a log of 1M mutations of 10k keys.
#ifndef WHYCACHE_TESTS_LOG_CHANGE_LOG_BENCH_H_
#define WHYCACHE_TESTS_LOG_CHANGE_LOG_BENCH_H_

#include <functional>
#include <memory>
#include <string>

#include "whycache/change_log.h"

namespace whycache::testing {

// A log created empty for benchmarking; its storage is removed when the object is destroyed.
class BenchLog {
 public:
  virtual ~BenchLog() = default;
  // Opens a new ChangeLog object on this log.
  virtual std::unique_ptr<ChangeLog> Open() = 0;
};

struct BenchBackend {
  std::string name;  // Prefix of the benchmark names, e.g. "FileLog".
  // Creates a fresh, empty log whose appenders use `fsync`.
  std::function<std::unique_ptr<BenchLog>(FsyncPolicy fsync)> create;
};

// Registers the benchmarks for `backend` and runs them with the command line's Google Benchmark
// flags; unless the command line says otherwise, each runs 3 times and only the mean, median and
// standard deviation are reported. Returns the process exit status.
int RunChangeLogBenchmarks(const BenchBackend& backend, int argc, char** argv);

}  // namespace whycache::testing

#endif  // WHYCACHE_TESTS_LOG_CHANGE_LOG_BENCH_H_
