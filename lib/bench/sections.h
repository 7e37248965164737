// The measurements of the benchmark suite (suite.h), one table row each.
#ifndef WHYCACHE_LIB_BENCH_SECTIONS_H_
#define WHYCACHE_LIB_BENCH_SECTIONS_H_

#include <cstddef>
#include <string>

#include "lib/bench/loaded_cache.h"
#include "lib/bench/report.h"
#include "lib/bench/suite.h"

namespace whycache::bench {

// A change log the log-backed rows run against: "file" or "mysql", and a URI of a log created
// empty for the run.
struct LogUnderTest {
  std::string name;
  std::string uri;
};

// --- Reads (read_sections.cc) ---

// Random gets of existing keys on the tree, std::unordered_map and LMDB holding `keys` keys x
// `value_bytes`, built in `dir`: ns per get and the tree's ratios to its peers.
Section MeasurePointGets(const SuiteConfig& config, size_t keys, size_t value_bytes,
                         const std::string& dir);

// Random gets through a Cache read transaction and through the raw tree of the same state file.
Section MeasureCacheGets(const SuiteConfig& config, const LoadedCache& machine);

// Creating a snapshot of `machine` and restoring it onto another machine (state file in `dir`).
Section MeasureSnapshots(const SuiteConfig& config, const LoadedCache& machine,
                         const std::string& dir);

// --- The log and the applier (log_sections.cc) ---

// Update() when no poll is due, on a machine of a file log in `dir`.
Section MeasureUpdateNotDue(const SuiteConfig& config, const std::string& dir);

// The next three use `log` and state files in `dir`; run them in this order, the first on an
// empty or missing log (it creates a missing one). The lag comes first so that machine B's
// state stays small: it measures the poll schedule, not catching up with a backlog.
// Set() on machine A to readable on machine B.
Section MeasureReplicationLag(const SuiteConfig& config, const LogUnderTest& log,
                              const std::string& dir);
// Update() when a poll is due on every call and nothing is new.
Section MeasureUpdateDue(const SuiteConfig& config, const LogUnderTest& log,
                         const std::string& dir);
// Appending config.apply_mutations sets, then applying the whole log from its start onto fresh
// machines: mutations/s.
Section MeasureApply(const SuiteConfig& config, const LogUnderTest& log, const std::string& dir);

// The file log alone, in directories under `dir`: appends of 1,000-key batches with fsync
// (`dir` belongs on a disk; the row names the filesystem it ran on), reading it all from the
// start, and compacting an overwritten history.
Section MeasureFileLogAppend(const SuiteConfig& config, const std::string& dir);
Section MeasureFileLogTail(const SuiteConfig& config, const std::string& dir);
Section MeasureCompaction(const SuiteConfig& config, const std::string& dir);

}  // namespace whycache::bench

#endif  // WHYCACHE_LIB_BENCH_SECTIONS_H_
