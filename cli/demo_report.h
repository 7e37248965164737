// The lines of `whycache demo`'s report on what its processes measured, printed to stdout.
#ifndef WHYCACHE_CLI_DEMO_REPORT_H_
#define WHYCACHE_CLI_DEMO_REPORT_H_

#include <chrono>
#include <cstdint>
#include <optional>
#include <vector>

#include "cli/demo_results.h"
#include "whycache/cache.h"

namespace whycache::cli::demo {

// "A" for machine 0, "B" for machine 1, ...
char MachineName(size_t m);

// The writer's batches and append latency; zeros if it left no result.
void PrintWriter(const std::optional<WriterResult>& r);
// Reader `r` of machine `machine`: read throughput, hit rate and the cost of Update(); a failure
// line if it left no result.
void PrintReader(char machine, uint64_t r, const std::optional<ReaderResult>& result);
// The polls and applies of machine `machine` over a run of `seconds`, from its statistics before
// and after.
void PrintPolls(char machine, const CacheStats& before, const CacheStats& after, uint64_t seconds);
// The replication lag the readers of machine `machine` saw.
void PrintLag(char machine, const std::vector<double>& lags_ms,
              std::chrono::milliseconds poll_interval);
// The compaction's figures; a failure line if it left no result.
void PrintCompaction(const std::optional<CompactorResult>& r);

}  // namespace whycache::cli::demo

#endif  // WHYCACHE_CLI_DEMO_REPORT_H_
