#include "tests/log/change_log_bench.h"

#include <benchmark/benchmark.h>

#include <cstdio>
#include <map>
#include <random>
#include <string_view>
#include <vector>

#include "lib/bench/workload.h"

namespace whycache::testing {
namespace {

constexpr size_t kTailMutations = 1'000'000;

// Appends batches of `keys` mutations; items are mutations (keys), the time per iteration is
// the latency of one append.
void BM_Append(benchmark::State& state, const BenchBackend* backend, size_t keys,
               FsyncPolicy fsync) {
  std::unique_ptr<BenchLog> fresh = backend->create(fsync);
  std::unique_ptr<ChangeLog> log = fresh->Open();
  std::mt19937_64 rng(1);
  // A few distinct batches, prepared outside the timed loop.
  std::vector<std::vector<Mutation>> batches;
  for (uint64_t i = 0; i < 8; ++i) batches.push_back(bench::SerialBatch(rng, keys, i));
  size_t n = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(log->Append(batches[n++ % batches.size()]));
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * keys));
}

// A log of kTailMutations mutations in batches of `batch_keys`, built once per process and kept
// for every repetition.
BenchLog& TailLog(const BenchBackend& backend, size_t batch_keys) {
  static std::map<size_t, std::unique_ptr<BenchLog>> logs;
  std::unique_ptr<BenchLog>& fresh = logs[batch_keys];
  if (!fresh) {
    fresh = backend.create(FsyncPolicy::kNever);
    std::unique_ptr<ChangeLog> log = fresh->Open();
    std::mt19937_64 rng(2);
    for (uint64_t i = 0; i < kTailMutations / batch_keys; ++i) {
      log->Append(bench::SerialBatch(rng, batch_keys, i));
    }
  }
  return *fresh;
}

// Reads the whole 1M-mutation log from the start with a new reader; items are mutations.
void BM_Tail(benchmark::State& state, const BenchBackend* backend, size_t batch_keys) {
  BenchLog& fresh = TailLog(*backend, batch_keys);
  size_t mutations = 0;
  for (auto _ : state) {
    std::unique_ptr<ChangeLog> log = fresh.Open();
    const size_t read = bench::ReadAllMutations(*log, kTailMutations);
    if (read != kTailMutations) state.SkipWithError("the tail did not read every mutation");
    mutations += read;
  }
  state.SetItemsProcessed(static_cast<int64_t>(mutations));
}

// ReadAfter at the head of a log: what a poll costs when nothing is new.
void BM_EmptyPoll(benchmark::State& state, const BenchBackend* backend) {
  std::unique_ptr<BenchLog> fresh = backend->create(FsyncPolicy::kNever);
  std::unique_ptr<ChangeLog> writer = fresh->Open();
  std::mt19937_64 rng(3);
  uint64_t head = 0;
  for (uint64_t i = 0; i < 100; ++i) head = writer->Append(bench::SerialBatch(rng, 10, i));
  std::unique_ptr<ChangeLog> reader = fresh->Open();
  uint64_t after = 0;
  while (after < head) after = reader->ReadAfter(after, 1000).back().id;
  for (auto _ : state) {
    if (!reader->ReadAfter(head, 1000).empty()) state.SkipWithError("the poll found updates");
  }
}

// Compacts a log of kCompactMutations mutations over kCompactKeys keys (batches of 100), built
// afresh before each timed compaction; items are the mutations compacted.
constexpr uint64_t kCompactMutations = 1'000'000;
constexpr uint64_t kCompactKeys = 10'000;

void BM_Compact(benchmark::State& state, const BenchBackend* backend) {
  std::mt19937_64 rng(4);
  CompactionResult result;
  for (auto _ : state) {
    state.PauseTiming();
    std::unique_ptr<BenchLog> fresh = backend->create(FsyncPolicy::kNever);
    bench::AppendOverwriteHistory(*fresh->Open(), kCompactMutations, kCompactKeys, rng);
    std::unique_ptr<ChangeLog> log = fresh->Open();
    state.ResumeTiming();
    result = log->Compact(CompactionOptions{});
    state.PauseTiming();
    if (result.kept != kCompactKeys) {
      state.SkipWithError("the compaction kept the wrong count");
      break;  // Timing stays paused: resuming after an error aborts the run.
    }
    log.reset();
    fresh.reset();
    state.ResumeTiming();
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * kCompactMutations));
  state.counters["bytes_before"] = static_cast<double>(result.bytes_before);
  state.counters["bytes_after"] = static_cast<double>(result.bytes_after);
}

}  // namespace

int RunChangeLogBenchmarks(const BenchBackend& backend, int argc, char** argv) {
  const std::string& n = backend.name;
  const BenchBackend* b = &backend;
  for (FsyncPolicy fsync : {FsyncPolicy::kEveryAppend, FsyncPolicy::kNever}) {
    const std::string suffix = fsync == FsyncPolicy::kEveryAppend ? "/fsync" : "/nofsync";
    benchmark::RegisterBenchmark((n + "/Append/1key" + suffix).c_str(), BM_Append, b, 1, fsync)
        ->UseRealTime()
        ->Unit(benchmark::kMicrosecond);
    benchmark::RegisterBenchmark((n + "/Append/1000keys" + suffix).c_str(), BM_Append, b, 1000,
                                 fsync)
        ->UseRealTime()
        ->Unit(benchmark::kMicrosecond);
  }
  for (size_t batch_keys : {size_t{1000}, size_t{10}}) {
    benchmark::RegisterBenchmark((n + "/Tail1M/batches_of_" + std::to_string(batch_keys)).c_str(),
                                 BM_Tail, b, batch_keys)
        ->UseRealTime()
        ->Unit(benchmark::kMillisecond);
  }
  benchmark::RegisterBenchmark((n + "/EmptyPoll").c_str(), BM_EmptyPoll, b)
      ->UseRealTime()
      ->Unit(benchmark::kNanosecond);
  benchmark::RegisterBenchmark((n + "/Compact1M/10k_keys").c_str(), BM_Compact, b)
      ->UseRealTime()
      ->Iterations(1)
      ->Unit(benchmark::kMillisecond);

  std::vector<char*> args(argv, argv + argc);
  bool has_repetitions = false;
  for (int i = 1; i < argc; ++i) {
    has_repetitions |= std::string_view(argv[i]).starts_with("--benchmark_repetitions");
  }
  static char repetitions[] = "--benchmark_repetitions=3";
  static char aggregates[] = "--benchmark_report_aggregates_only=true";
  if (!has_repetitions) {
    args.push_back(repetitions);
    args.push_back(aggregates);
  }
  int count = static_cast<int>(args.size());
  benchmark::Initialize(&count, args.data());
  if (benchmark::ReportUnrecognizedArguments(count, args.data())) return 2;
  std::printf("Note: this machine's 2 cores are shared with other builds; expect 10-30%% drift.\n");
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}

}  // namespace whycache::testing
