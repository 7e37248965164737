// What each process of `whycache demo` measured. A process writes its result to a file of its
// own as it ends, and the supervisor reads them back: the processes share no memory.
#ifndef WHYCACHE_CLI_DEMO_RESULTS_H_
#define WHYCACHE_CLI_DEMO_RESULTS_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "whycache/change_log.h"

namespace whycache::cli::demo {

struct ReaderResult {
  uint64_t requests = 0;
  uint64_t reads = 0;
  uint64_t hits = 0;
  double seconds = 0;
  double cpu_seconds = 0;  // On a shared machine a reader gets less than its wall time.
  double update_median_ns = 0;
  double update_mean_ns = 0;
  double clock_pair_ns = 0;  // What timing one call adds to each figure.
  uint64_t heartbeats_missed = 0;
  std::vector<double> lags_ms;
};

struct WriterResult {
  uint64_t batches = 0;
  uint64_t mutations = 0;
  double append_p50_ms = 0;
  double append_p99_ms = 0;
};

struct CompactorResult {
  uint64_t head = 0;  // The log head when the compaction began.
  CompactionResult compaction;
  double ms = 0;
};

// Each writes one result to `path`. Throws Error(kIOError) naming the path if it cannot.
void WriteResult(const std::string& path, const ReaderResult& r);
void WriteResult(const std::string& path, const WriterResult& r);
void WriteResult(const std::string& path, const CompactorResult& r);

// Each reads a result written by WriteResult, or nullopt if there is none (the process failed).
std::optional<ReaderResult> ReadReaderResult(const std::string& path);
std::optional<WriterResult> ReadWriterResult(const std::string& path);
std::optional<CompactorResult> ReadCompactorResult(const std::string& path);

}  // namespace whycache::cli::demo

#endif  // WHYCACHE_CLI_DEMO_RESULTS_H_
