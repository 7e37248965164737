// Benchmarks of the cache layer (run with: bazel run --config=opt //tests/cache:cache_bench).
//
//   BM_UpdateNotDue            Update() when no poll is due: the per-request cost.
//   BM_UpdateNotDueSubscribed  the same in a process with two subscriptions.
//   BM_UpdateDueNothingNew/L   Update() polling log L every call, nothing new to apply.
//   BM_Apply/L                 mutations/s applied from log L (100-byte values, 100 per batch).
//   BM_ReplicationLag/L        Set() on machine A returning -> value readable on machine B
//                              (another process calling Update() before each read); p50/p99.
//   BM_GetCache / BM_GetTree   random get of existing keys through a Cache read transaction and
//                              through the raw tree, one transaction per get, same file.
//   BM_GetCachePrefixes/N      BM_GetCache through a Cache counting N key prefixes
//                              (CacheOptions::stat_prefixes): 0, the cost of the check alone, or
//                              4 that share the keys' first byte, so every get compares all four
//                              and counts toward one or two.
//   BM_Snapshot/K/V            snapshot create and restore of K keys x V-byte values: MB/s of
//                              keys and values each way, and the file's size against them.
#include <unistd.h>

#include <chrono>
#include <random>
#include <string>
#include <vector>

#include "benchmark/benchmark.h"
#include "lib/bench/loaded_cache.h"
#include "lib/bench/replication_lag.h"
#include "lib/bench/timing.h"
#include "lib/bench/workload.h"
#include "lib/tree/tree.h"
#include "tests/log/log_backends.h"
#include "tests/support/temp_dir.h"
#include "whycache/cache.h"

namespace whycache::testing {
namespace {

using std::chrono::milliseconds;

// A fresh log of the backend and a machine reading it, for one benchmark.
struct Setup {
  explicit Setup(const ChangeLogBackend& backend, milliseconds interval = milliseconds(50))
      : fresh(backend.create()) {
    options.state_path = dir.File("machine.state");
    options.log_uri = fresh->uri();
    options.poll_interval = interval;
    cache = Cache::Open(options);
  }
  TempDir dir;
  std::unique_ptr<FreshLog> fresh;
  CacheOptions options;
  std::unique_ptr<Cache> cache;
};

void BM_UpdateNotDue(benchmark::State& state) {
  Setup s(FileLogBackend(), std::chrono::hours(1));
  s.cache->UpdateNow();
  s.cache->Update();  // Claims the first due poll; the next is an hour away.
  for (auto _ : state) s.cache->Update();
}
BENCHMARK(BM_UpdateNotDue);

// The same with subscriptions: each call also looks at the machine's change journal.
void BM_UpdateNotDueSubscribed(benchmark::State& state) {
  Setup s(FileLogBackend(), std::chrono::hours(1));
  s.cache->UpdateNow();
  int notices = 0;
  for (const char* prefix : {"perm:", "flag:"}) {
    s.cache->Subscribe(prefix, [&notices](const ChangeNotice&) { ++notices; });
  }
  s.cache->Update();
  for (auto _ : state) s.cache->Update();
  if (notices != 0) state.SkipWithError("a notice without a change");
}
BENCHMARK(BM_UpdateNotDueSubscribed);

void BM_UpdateDueNothingNew(benchmark::State& state, ChangeLogBackend backend) {
  Setup s(backend, milliseconds(0));
  s.cache->Set("k", "v");
  s.cache->UpdateNow();
  for (auto _ : state) s.cache->Update();
  state.counters["polls"] = static_cast<double>(s.cache->Stats().polls);
}

void BM_Apply(benchmark::State& state, ChangeLogBackend backend) {
  constexpr int kBatches = 2000, kPerBatch = 100;
  Setup s(backend);
  {
    auto log = s.fresh->Open({});
    std::mt19937_64 rng(1);
    bench::AppendRandomKeys(*log, kBatches * kPerBatch, kPerBatch, std::string(100, 'v'), rng);
  }
  int round = 0;
  for (auto _ : state) {
    state.PauseTiming();
    CacheOptions options = s.options;
    options.state_path = s.dir.File("apply" + std::to_string(round++) + ".state");
    auto cache = Cache::Open(options);
    state.ResumeTiming();
    cache->UpdateNow();
  }
  state.SetItemsProcessed(state.iterations() * kBatches * kPerBatch);
}

void BM_ReplicationLag(benchmark::State& state, ChangeLogBackend backend) {
  Setup a(backend);
  CacheOptions b_options = a.options;
  b_options.state_path = a.dir.File("machine-b.state");
  std::vector<double> lags_ms;
  {
    bench::ReplicationLagProbe probe(a.options, b_options, 3);
    for (auto _ : state) {
      state.PauseTiming();
      probe.WaitRandomPhase();
      state.ResumeTiming();
      lags_ms.push_back(probe.SampleMs());
    }
  }
  state.counters["p50_ms"] = bench::Percentile(lags_ms, 0.5);
  state.counters["p99_ms"] = bench::Percentile(lags_ms, 0.99);
  state.counters["interval_ms"] = static_cast<double>(a.options.poll_interval.count());
}

// One state file of 1M keys x 100-byte values shared by the two get benchmarks.
bench::LoadedCache& Data() {
  static TempDir* dir = new TempDir();
  static bench::LoadedCache* data = new bench::LoadedCache(dir->path(), 1'000'000, 100, 7);
  return *data;
}

void BM_GetCache(benchmark::State& state) {
  bench::LoadedCache& d = Data();
  Cache& cache = d.cache();
  const std::vector<std::string>& keys = d.keys();
  size_t i = 0;
  for (auto _ : state) {
    ReadTransaction txn = cache.BeginRead();
    benchmark::DoNotOptimize(txn.Get(keys[i++ % keys.size()]));
  }
}
BENCHMARK(BM_GetCache);

void BM_GetCachePrefixes(benchmark::State& state) {
  bench::LoadedCache& d = Data();
  // Keys are "key:" and 16 hex digits: every key starts with the first, 1 in 16 with each other.
  const std::vector<std::string> prefixes = {"key:", "key:0", "key:a", "key:f"};
  CacheOptions options = d.options();
  options.stat_prefixes.assign(prefixes.begin(), prefixes.begin() + state.range(0));
  std::unique_ptr<Cache> cache = Cache::Open(options);
  const std::vector<std::string>& keys = d.keys();
  // This Cache maps the state file anew: a pass over the keys faults its pages in, as they are
  // for BM_GetCache, before the clock runs.
  for (const std::string& key : keys) benchmark::DoNotOptimize(cache->BeginRead().Get(key));
  size_t i = 0;
  for (auto _ : state) {
    ReadTransaction txn = cache->BeginRead();
    benchmark::DoNotOptimize(txn.Get(keys[i++ % keys.size()]));
  }
}
BENCHMARK(BM_GetCachePrefixes)->Arg(0)->Arg(4);

void BM_GetTree(benchmark::State& state) {
  bench::LoadedCache& d = Data();
  auto tree = tree::Tree::Open(d.options().state_path);
  const std::vector<std::string>& keys = d.keys();
  size_t i = 0;
  for (auto _ : state) {
    tree::ReadTxn txn = tree->BeginRead();
    benchmark::DoNotOptimize(txn.Get(keys[i++ % keys.size()]));
  }
}
BENCHMARK(BM_GetTree);

void BM_Snapshot(benchmark::State& state) {
  const uint64_t keys = static_cast<uint64_t>(state.range(0));
  TempDir dir;
  bench::LoadedCache a(dir.path(), keys, static_cast<size_t>(state.range(1)), 9);
  CacheOptions b_options = a.options();
  b_options.state_path = dir.File("machine-b.state");
  auto b = Cache::Open(b_options);
  const std::string path = dir.File("bench.snapshot");
  // The setup wrote a log and a state several times the dataset's size: written back here, so
  // that the kernel's writeback of them cannot run during the timed part.
  ::sync();
  double create_s = 0, restore_s = 0;
  SnapshotInfo info;
  for (auto _ : state) {
    auto start = std::chrono::steady_clock::now();
    info = a.cache().CreateSnapshot(path);
    create_s += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    start = std::chrono::steady_clock::now();
    b->RestoreSnapshot(path);
    restore_s += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  }
  const double mb = static_cast<double>(info.raw_bytes) * state.iterations() / 1e6;
  state.counters["create_MBps"] = mb / create_s;
  state.counters["restore_MBps"] = mb / restore_s;
  state.counters["file_per_raw"] =
      static_cast<double>(info.file_bytes) / static_cast<double>(info.raw_bytes);
}
BENCHMARK(BM_Snapshot)
    ->Args({1'000'000, 100})
    ->Args({10'000'000, 16})
    ->Iterations(1)
    ->Unit(benchmark::kSecond);

void RegisterLogBenchmarks(const ChangeLogBackend& backend) {
  benchmark::RegisterBenchmark(("BM_UpdateDueNothingNew/" + backend.name).c_str(),
                               BM_UpdateDueNothingNew, backend);
  // Wall time: a bulk build maps its pages on a second thread, whose CPU time is not the point.
  benchmark::RegisterBenchmark(("BM_Apply/" + backend.name).c_str(), BM_Apply, backend)
      ->UseRealTime()
      ->Unit(benchmark::kMillisecond);
  benchmark::RegisterBenchmark(("BM_ReplicationLag/" + backend.name).c_str(), BM_ReplicationLag,
                               backend)
      ->Iterations(200)
      ->Unit(benchmark::kMillisecond);
}

}  // namespace
}  // namespace whycache::testing

int main(int argc, char** argv) {
  whycache::testing::RegisterLogBenchmarks(whycache::testing::FileLogBackend());
  whycache::testing::RegisterLogBenchmarks(whycache::testing::MysqlLogBackend());
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
