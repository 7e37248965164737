// Benchmarks of the MySQL log (the shared suite of change_log_bench.h) against the fixture's
// throwaway MariaDB, started on first use:
//
//   bazel run --config=opt //tests/log:mysql_log_bench
//
// The server decides durability (innodb_flush_log_at_trx_commit = 1 in the fixture), so the
// suite's fsync and nofsync variants measure the same thing here. Filling the log of 1M
// mutations in batches of 10 takes 100,000 appends, a few minutes; skip it with
// --benchmark_filter=-batches_of_10.
//
// MysqlLog/Compact1M compacts a log of 1M mutations (1,000-key batches over 10k keys) down to
// its 10k newest entries; items are mutations of the log before compaction. It opens the log
// with a token retention of 0, so that fully superseded batches written a moment ago go at once,
// as they would after an hour in production.
#include <benchmark/benchmark.h>

#include <memory>
#include <random>
#include <string>
#include <vector>

#include "lib/log/mysql/mysql_change_log.h"
#include "tests/log/change_log_bench.h"
#include "tests/log/mysql_test_util.h"

namespace whycache::mysql_log {
namespace {

class MysqlBenchLog : public whycache::testing::BenchLog {
 public:
  MysqlBenchLog() : prefix_(testing::FreshTablePrefix()) {
    LogOptions options;
    options.create_if_missing = true;
    OpenMysqlChangeLog(testing::LogUri(prefix_), options);
  }
  ~MysqlBenchLog() override { testing::DropLog(prefix_); }

  std::unique_ptr<ChangeLog> Open() override {
    return OpenMysqlChangeLog(testing::LogUri(prefix_), {});
  }

  std::unique_ptr<ChangeLog> OpenWith(const MysqlLogOptions& settings) {
    return OpenMysqlChangeLog(testing::LogUri(prefix_), {}, settings);
  }

 private:
  const std::string prefix_;
};

void BM_Compact1M(benchmark::State& state) {
  constexpr size_t kMutations = 1'000'000;
  constexpr size_t kBatch = 1000;
  constexpr uint64_t kKeys = 10'000;
  std::mt19937_64 rng(4);
  CompactionResult result;
  for (auto _ : state) {
    state.PauseTiming();
    MysqlBenchLog fresh;
    MysqlLogOptions settings;
    settings.token_retention = std::chrono::seconds(0);
    std::unique_ptr<ChangeLog> log = fresh.OpenWith(settings);
    std::vector<Mutation> batch(kBatch);
    for (size_t b = 0; b < kMutations / kBatch; ++b) {
      for (Mutation& m : batch) {
        m = Mutation::Set("key:" + std::to_string(rng() % kKeys),
                          std::string(100, 'a' + rng() % 26));
      }
      log->Append(batch);
    }
    state.ResumeTiming();
    result = log->Compact({});
    state.PauseTiming();
    log.reset();
    state.ResumeTiming();
  }
  state.counters["rows_after"] = static_cast<double>(result.kept);
  state.counters["bytes_before"] = static_cast<double>(result.bytes_before);
  state.counters["bytes_after"] = static_cast<double>(result.bytes_after);
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * kMutations));
}

}  // namespace
}  // namespace whycache::mysql_log

int main(int argc, char** argv) {
  benchmark::RegisterBenchmark("MysqlLog/Compact1M", whycache::mysql_log::BM_Compact1M)
      ->UseRealTime()
      ->Unit(benchmark::kMillisecond);
  return whycache::testing::RunChangeLogBenchmarks(
      {"MysqlLog",
       [](whycache::FsyncPolicy) {
         return std::make_unique<whycache::mysql_log::MysqlBenchLog>();
       }},
      argc, argv);
}
