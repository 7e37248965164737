// The benchmark suite of `whycache bench`: every figure the project's performance claims rest
// on, measured in one process run with peers side by side, each the median of several
// repetitions. Its files live in a scratch directory that the run removes.
#ifndef WHYCACHE_LIB_BENCH_SUITE_H_
#define WHYCACHE_LIB_BENCH_SUITE_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>

#include "lib/bench/report.h"

namespace whycache::bench {

struct SuiteConfig {
  std::string mode;  // Names the run in the report: "full", "quick" or "smoke".
  int repetitions = 5;
  size_t get_keys = 0;        // Point gets on keys x 100-byte values...
  size_t large_get_keys = 0;  // ...and on keys x 16-byte values.
  size_t gets_per_repetition = 0;
  size_t update_calls = 0;  // Update() calls per repetition, when no poll is due.
  size_t polls = 0;         // Update() calls per repetition, when one is due.
  size_t apply_mutations = 0;
  int lag_samples = 0;
  uint64_t compact_mutations = 0;
  uint64_t compact_keys = 0;
  size_t append_batches = 0;  // Of 1,000 keys each.
  size_t tail_mutations = 0;
  // Where the scratch directory goes; empty for $TMPDIR, else /dev/shm.
  std::string scratch_parent;
  // A mysql:// URI whose database the MySQL rows use (tables of their own, dropped afterwards);
  // empty leaves those rows "not measured".
  std::string mysql_uri;
};

// The full suite: 1M keys x 100 B and 10M keys x 16 B; a few minutes.
SuiteConfig FullSuite();
// Smaller data sets and fewer repetitions: about 20 s of CPU, under a minute on two cores
// unless other work keeps them busy.
SuiteConfig QuickSuite();
// Tiny data sets: seconds. Shows that every measurement runs; its figures mean little.
SuiteConfig SmokeSuite();

// Runs every measurement of `config`. Calls `progress` with the title of each section before
// measuring it. Throws whycache::Error when a measurement fails (a store lost a key, the log
// cannot be reached, a file cannot be made).
Report RunSuite(const SuiteConfig& config, const std::function<void(const std::string&)>& progress);

}  // namespace whycache::bench

#endif  // WHYCACHE_LIB_BENCH_SUITE_H_
