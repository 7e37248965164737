#include "cli/demo_report.h"

#include <cstdio>

#include "lib/bench/timing.h"

namespace whycache::cli::demo {
namespace {

using ull = unsigned long long;

}  // namespace

char MachineName(size_t m) { return static_cast<char>('A' + m); }

void PrintWriter(const std::optional<WriterResult>& r) {
  const WriterResult w = r.value_or(WriterResult{});
  std::printf(
      "  writer      %llu batches, %llu mutations (flag changes, permission grants and "
      "revocations); append p50 %.2f ms, p99 %.2f ms\n",
      static_cast<ull>(w.batches), static_cast<ull>(w.mutations), w.append_p50_ms, w.append_p99_ms);
}

void PrintReader(char machine, uint64_t r, const std::optional<ReaderResult>& result) {
  if (!result) {
    std::printf("  reader %c%llu   FAILED: no result\n", machine, static_cast<ull>(r));
    return;
  }
  const ReaderResult& res = *result;
  std::printf(
      "  reader %c%llu   %.2f M reads/s, %.2f M per CPU second (%.0f%% hits, %llu requests); "
      "update() median %.0f ns, mean %.0f ns (polls included; timing adds %.0f ns)\n",
      machine, static_cast<ull>(r),
      res.seconds > 0 ? static_cast<double>(res.reads) / res.seconds / 1e6 : 0.0,
      res.cpu_seconds > 0 ? static_cast<double>(res.reads) / res.cpu_seconds / 1e6 : 0.0,
      res.reads ? 100.0 * static_cast<double>(res.hits) / static_cast<double>(res.reads) : 0.0,
      static_cast<ull>(res.requests), res.update_median_ns, res.update_mean_ns, res.clock_pair_ns);
}

void PrintPolls(char machine, const CacheStats& before, const CacheStats& after, uint64_t seconds) {
  const uint64_t polls = after.polls - before.polls;
  std::printf(
      "  machine %c   %llu polls by whichever process was due (one per %.0f ms), %llu batches "
      "applied in %.1f ms in all\n",
      machine, static_cast<ull>(polls),
      polls ? 1000.0 * static_cast<double>(seconds) / static_cast<double>(polls) : 0.0,
      static_cast<ull>(after.batches_applied - before.batches_applied),
      static_cast<double>(after.apply_us - before.apply_us) / 1000.0);
}

void PrintLag(char machine, const std::vector<double>& lags_ms,
              std::chrono::milliseconds poll_interval) {
  std::printf(
      "  lag         write -> readable on machine %c: p50 %.1f ms, p99 %.1f ms (%zu samples, "
      "poll interval %lld ms)\n",
      machine, bench::Percentile(lags_ms, 0.5), bench::Percentile(lags_ms, 0.99), lags_ms.size(),
      static_cast<long long>(poll_interval.count()));
}

void PrintCompaction(const std::optional<CompactorResult>& r) {
  if (!r) {
    std::printf("  compaction  FAILED: no result\n");
    return;
  }
  std::printf(
      "  compaction  mid-run at update %llu, while writing: removed %llu mutations, kept %llu; "
      "log %llu -> %llu bytes (the writer's appends meanwhile included) in %.1f ms; deletes "
      "are kept 7 days: horizon %llu\n",
      static_cast<ull>(r->head), static_cast<ull>(r->compaction.removed),
      static_cast<ull>(r->compaction.kept), static_cast<ull>(r->compaction.bytes_before),
      static_cast<ull>(r->compaction.bytes_after), r->ms, static_cast<ull>(r->compaction.horizon));
}

}  // namespace whycache::cli::demo
