// Benchmarks of the MySQL log against the fixture's throwaway MariaDB (started on first use):
//
//   bazel run --config=opt //tests/log:mysql_log_bench
//
// Each benchmark runs 3 times; the reported figures are medians over those runs, in real
// (wall-clock) time, since most of the time is spent in the server. items_per_second counts
// mutations (keys).
#include <benchmark/benchmark.h>

#include <string>
#include <vector>

#include "lib/log/mysql/mysql_change_log.h"
#include "tests/log/mysql_test_util.h"

namespace whycache::mysql_log {
namespace {

constexpr size_t kValueBytes = 100;
constexpr size_t kTailBatches = 1000;
constexpr size_t kTailBatchKeys = 1000;  // 1,000 x 1,000 = 1M mutations.

std::vector<Mutation> Batch(size_t keys, uint64_t salt) {
  std::vector<Mutation> batch;
  batch.reserve(keys);
  for (size_t i = 0; i < keys; ++i) {
    batch.push_back(Mutation::Set("user:" + std::to_string(salt) + ":" + std::to_string(i),
                                  std::string(kValueBytes, static_cast<char>('a' + i % 26))));
  }
  return batch;
}

void BM_Append(benchmark::State& state) {
  const size_t keys = static_cast<size_t>(state.range(0));
  auto log = testing::CreateFreshLog();
  std::vector<Mutation> batch = Batch(keys, 0);
  for (auto _ : state) benchmark::DoNotOptimize(log->Append(batch));
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * keys));
}
BENCHMARK(BM_Append)
    ->Arg(1)
    ->Arg(1000)
    ->UseRealTime()
    ->Unit(benchmark::kMicrosecond)
    ->Repetitions(3)
    ->ReportAggregatesOnly(true);

// The URI of a log holding 1M mutations, filled once.
const std::string& TailLogUri() {
  static const std::string uri = [] {
    std::string prefix;
    auto log = testing::CreateFreshLog({}, &prefix);
    for (size_t b = 0; b < kTailBatches; ++b) log->Append(Batch(kTailBatchKeys, b));
    return testing::LogUri(prefix);
  }();
  return uri;
}

// A fresh reader (as a new machine would) reads the whole log in pages of 1,000 updates.
void BM_TailRead(benchmark::State& state) {
  const std::string& uri = TailLogUri();
  size_t mutations = 0;
  for (auto _ : state) {
    auto log = OpenMysqlChangeLog(uri, {});
    uint64_t cursor = 0;
    for (size_t pages = 0; pages < kTailBatches + 1; ++pages) {
      std::vector<Update> page = log->ReadAfter(cursor, 1000);
      if (page.empty()) break;
      for (const Update& u : page) mutations += u.mutations.size();
      cursor = page.back().id;
    }
  }
  if (mutations != state.iterations() * kTailBatches * kTailBatchKeys) {
    state.SkipWithError("the tail did not read the whole log");
  }
  state.SetItemsProcessed(static_cast<int64_t>(mutations));
}
BENCHMARK(BM_TailRead)
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond)
    ->Iterations(2)
    ->Repetitions(3)
    ->ReportAggregatesOnly(true);

// What update() costs when nothing is new: one read after the head.
void BM_EmptyPoll(benchmark::State& state) {
  auto log = testing::CreateFreshLog();
  std::vector<Mutation> batch = Batch(1, 0);
  const uint64_t head = log->Append(batch);
  for (auto _ : state) {
    if (!log->ReadAfter(head, 1000).empty()) state.SkipWithError("the poll was not empty");
  }
}
BENCHMARK(BM_EmptyPoll)
    ->UseRealTime()
    ->Unit(benchmark::kMicrosecond)
    ->Repetitions(3)
    ->ReportAggregatesOnly(true);

void BM_HeadId(benchmark::State& state) {
  auto log = testing::CreateFreshLog();
  for (auto _ : state) benchmark::DoNotOptimize(log->HeadId());
}
BENCHMARK(BM_HeadId)
    ->UseRealTime()
    ->Unit(benchmark::kMicrosecond)
    ->Repetitions(3)
    ->ReportAggregatesOnly(true);

}  // namespace
}  // namespace whycache::mysql_log

BENCHMARK_MAIN();
