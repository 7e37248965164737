// Benchmarks of the cache layer (run with: bazel run --config=opt //tests/cache:cache_bench).
//
//   BM_UpdateNotDue            Update() when no poll is due: the per-request cost.
//   BM_UpdateDueNothingNew/L   Update() polling log L every call, nothing new to apply.
//   BM_Apply/L                 mutations/s applied from log L (100-byte values, 100 per batch).
//   BM_ReplicationLag/L        Set() on machine A returning -> value readable on machine B
//                              (another process calling Update() before each read); p50/p99.
//   BM_GetCache / BM_GetTree   random get of existing keys through a Cache read transaction and
//                              through the raw tree, one transaction per get, same file.
//   BM_Snapshot/K/V            snapshot create and restore of K keys x V-byte values: MB/s of
//                              keys and values each way (per second of wall time and of this
//                              thread's CPU time), and the file's size against them.
#include <signal.h>
#include <time.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "benchmark/benchmark.h"
#include "lib/tree/tree.h"
#include "tests/log/log_backends.h"
#include "tests/support/child_process.h"
#include "tests/support/temp_dir.h"
#include "whycache/cache.h"

namespace whycache::testing {
namespace {

using std::chrono::milliseconds;

std::string Key(uint64_t n) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "key:%016llx", static_cast<unsigned long long>(n));
  return buf;
}

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
    const std::string value(100, 'v');
    for (int b = 0; b < kBatches; ++b) {
      std::vector<Mutation> batch;
      for (int i = 0; i < kPerBatch; ++i) batch.push_back(Mutation::Set(Key(rng()), value));
      log->Append(batch);
    }
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
  Cache::Open(b_options);
  // Machine B: one process serving "requests": Update(), then read.
  ChildProcess b([&] {
    auto cache = Cache::Open(b_options);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::minutes(5);
    while (std::chrono::steady_clock::now() < deadline) {
      cache->Update();
      std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
    return 0;
  });
  auto reader = Cache::Open(b_options);
  std::vector<double> lags_ms;
  uint64_t n = 0;
  std::mt19937_64 rng(3);
  for (auto _ : state) {
    // Write at a random phase of B's poll schedule, as independent writers do.
    state.PauseTiming();
    std::this_thread::sleep_for(std::chrono::microseconds(rng() % 50'000));
    state.ResumeTiming();
    const std::string value = std::to_string(++n);
    a.cache->Set("lag", value);
    const auto written = std::chrono::steady_clock::now();
    while (reader->Get("lag") != value) std::this_thread::sleep_for(std::chrono::microseconds(100));
    lags_ms.push_back(
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - written)
            .count());
  }
  b.Signal(SIGKILL);
  std::sort(lags_ms.begin(), lags_ms.end());
  state.counters["p50_ms"] = lags_ms[lags_ms.size() / 2];
  state.counters["p99_ms"] = lags_ms[lags_ms.size() * 99 / 100];
  state.counters["interval_ms"] = static_cast<double>(a.options.poll_interval.count());
}

// One state file of 1M keys x 100-byte values shared by the two get benchmarks.
struct GetData {
  GetData() {
    constexpr int kKeys = 1'000'000;
    Setup* s = new Setup(FileLogBackend());
    setup.reset(s);
    auto log = s->fresh->Open({});
    std::mt19937_64 rng(7);
    std::vector<Mutation> batch;
    for (int i = 0; i < kKeys; ++i) {
      keys.push_back(Key(rng()));
      batch.push_back(Mutation::Set(keys.back(), std::string(100, 'v')));
      if (batch.size() == 10'000) {
        log->Append(batch);
        batch.clear();
      }
    }
    s->cache->UpdateNow();
    std::shuffle(keys.begin(), keys.end(), rng);
    // Fault every page in first, so that neither benchmark pays for that and their order does
    // not matter.
    ReadTransaction txn = s->cache->BeginRead();
    for (const std::string& key : keys) benchmark::DoNotOptimize(txn.Get(key));
  }
  std::unique_ptr<Setup> setup;
  std::vector<std::string> keys;
};

GetData& Data() {
  static GetData* data = new GetData();
  return *data;
}

void BM_GetCache(benchmark::State& state) {
  GetData& d = Data();
  Cache& cache = *d.setup->cache;
  size_t i = 0;
  for (auto _ : state) {
    ReadTransaction txn = cache.BeginRead();
    benchmark::DoNotOptimize(txn.Get(d.keys[i++ % d.keys.size()]));
  }
}
BENCHMARK(BM_GetCache);

void BM_GetTree(benchmark::State& state) {
  GetData& d = Data();
  auto tree = tree::Tree::Open(d.setup->options.state_path);
  size_t i = 0;
  for (auto _ : state) {
    tree::ReadTxn txn = tree->BeginRead();
    benchmark::DoNotOptimize(txn.Get(d.keys[i++ % d.keys.size()]));
  }
}
BENCHMARK(BM_GetTree);

double ThreadCpuSeconds() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

void BM_Snapshot(benchmark::State& state) {
  const uint64_t keys = static_cast<uint64_t>(state.range(0));
  const std::string value(static_cast<size_t>(state.range(1)), 'v');
  Setup a(FileLogBackend());
  {
    auto log = a.fresh->Open({});
    std::mt19937_64 rng(9);
    std::vector<Mutation> batch;
    for (uint64_t i = 0; i < keys; ++i) {
      batch.push_back(Mutation::Set(Key(rng()), value));
      if (batch.size() == 10'000 || i + 1 == keys) {
        log->Append(batch);
        batch.clear();
      }
    }
  }
  a.cache->UpdateNow();
  CacheOptions b_options = a.options;
  b_options.state_path = a.dir.File("machine-b.state");
  auto b = Cache::Open(b_options);
  const std::string path = a.dir.File("bench.snapshot");
  double create_s = 0, restore_s = 0, create_cpu_s = 0, restore_cpu_s = 0;
  SnapshotInfo info;
  for (auto _ : state) {
    auto start = std::chrono::steady_clock::now();
    double cpu = ThreadCpuSeconds();
    info = a.cache->CreateSnapshot(path);
    create_cpu_s += ThreadCpuSeconds() - cpu;
    create_s += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    start = std::chrono::steady_clock::now();
    cpu = ThreadCpuSeconds();
    b->RestoreSnapshot(path);
    restore_cpu_s += ThreadCpuSeconds() - cpu;
    restore_s += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  }
  const double mb = static_cast<double>(info.raw_bytes) * state.iterations() / 1e6;
  state.counters["create_MBps"] = mb / create_s;
  state.counters["restore_MBps"] = mb / restore_s;
  // Per second of this thread's CPU time: what a machine busy with other work still shows.
  state.counters["create_cpu_MBps"] = mb / create_cpu_s;
  state.counters["restore_cpu_MBps"] = mb / restore_cpu_s;
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
  benchmark::RegisterBenchmark(("BM_Apply/" + backend.name).c_str(), BM_Apply, backend)
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
