// Random gets of existing keys on the tree, std::unordered_map and LMDB, on the same data in the
// same run; two reader processes against one; load throughput and bytes per key.
//
//   bazel run --config=opt //tests/tree:tree_bench -- --large_keys=10000000
//       --benchmark_repetitions=5 --benchmark_enable_random_interleaving=true
//       --benchmark_report_aggregates_only=true
//
// On a shared machine timings drift by tens of percent within minutes: interleaving the
// repetitions of the contenders keeps the drift out of their ratios.
//
// Data sets: 0 = 1M keys x 100-byte values, 1 = --large_keys keys (default 10M) x 16-byte
// values; keys are "key:%016llx" of random 64-bit numbers. Files go to /dev/shm.
#include <benchmark/benchmark.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "lib/bench/point_get_dataset.h"
#include "lib/tree/tree.h"

namespace whycache::tree {
namespace {

uint64_t g_large_keys = 10'000'000;

// The data set `which` in /dev/shm: the tree, std::unordered_map and LMDB.
std::unique_ptr<bench::PointGetDataset> Build(int which) {
  bench::PointGetOptions options;
  options.keys = which == 0 ? 1'000'000 : g_large_keys;
  options.value_bytes = which == 0 ? 100 : 16;
  options.dir = "/dev/shm/whycache-bench-" + std::to_string(getpid()) + "-" + std::to_string(which);
  options.seed = which + 1;
  return std::make_unique<bench::PointGetDataset>(options);
}

// One data set at a time is kept, so the large one has the memory to itself.
bench::PointGetDataset& Data(int which) {
  static std::unique_ptr<bench::PointGetDataset> current;
  static int loaded = -1;
  if (loaded != which) {
    current.reset();
    current = Build(which);
    loaded = which;
  }
  return *current;
}

void TreeGet(benchmark::State& state, int which, int gets_per_txn) {
  bench::PointGetDataset& d = Data(which);
  size_t i = 0;
  size_t found = 0;
  for (auto _ : state) {
    ReadTxn r = d.tree().BeginRead();
    for (int g = 0; g < gets_per_txn; ++g) {
      auto v = r.Get(d.Probe(i++));
      found += v.has_value();
      benchmark::DoNotOptimize(v);
    }
  }
  if (found != static_cast<size_t>(state.iterations()) * gets_per_txn)
    state.SkipWithError("a key is missing");
  state.SetItemsProcessed(state.iterations() * gets_per_txn);
}

void MapGet(benchmark::State& state, int which) {
  bench::PointGetDataset& d = Data(which);
  size_t i = 0;
  for (auto _ : state) benchmark::DoNotOptimize(d.MapGet(i++));
  state.SetItemsProcessed(state.iterations());
}

void LmdbGet(benchmark::State& state, int which) {
  bench::PointGetDataset& d = Data(which);
  size_t i = 0;
  for (auto _ : state) benchmark::DoNotOptimize(d.LmdbGet(i++));
  state.SetItemsProcessed(state.iterations());
}

double CpuSeconds() {
  timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

// `processes` processes each do kGets gets (a read transaction per get) on their own Tree, timed
// from when all of them have mapped the file and touched it (a pass over the keys first, so that
// page faults, which a process takes once, stay out) until each has reported its gets.
// items_per_second is wall-clock throughput, which on a shared machine is capped by the cores
// other work leaves free; per_core_gets_per_s adds up each process's gets per second of its own
// CPU time, what the processes reach with a core each: it stays proportional to the process
// count exactly when readers do not slow each other down.
void TreeGetProcesses(benchmark::State& state, int which, int processes) {
  constexpr size_t kGets = 2'000'000;
  bench::PointGetDataset& d = Data(which);
  const std::string& path = d.tree_path();
  const size_t warm_up = d.options().keys;
  double per_core = 0;
  for (auto _ : state) {
    int go[2];
    if (pipe(go) != 0) std::abort();
    std::vector<pid_t> pids;
    std::vector<int> pipes;
    for (int p = 0; p < processes; ++p) {
      int fds[2];
      if (pipe(fds) != 0) std::abort();
      const pid_t pid = fork();
      if (pid == 0) {
        close(go[1]);
        auto tree = Tree::Open(path);
        size_t found = 0;
        for (size_t i = 0; i < warm_up; ++i) found += tree->BeginRead().Get(d.Probe(i)).has_value();
        char byte = 0;
        if (write(fds[1], &byte, 1) != 1 || read(go[0], &byte, 1) != 1) _exit(2);
        const double cpu_start = CpuSeconds();
        for (size_t i = 0; i < kGets; ++i) {
          ReadTxn r = tree->BeginRead();
          found += r.Get(d.Probe(i + p * 7919)).has_value();
        }
        const double cpu = CpuSeconds() - cpu_start;
        const bool wrote = write(fds[1], &cpu, sizeof(cpu)) == sizeof(cpu);
        _exit(found == warm_up + kGets && wrote ? 0 : 1);
      }
      close(fds[1]);
      pids.push_back(pid);
      pipes.push_back(fds[0]);
    }
    close(go[0]);
    bool ok = true;
    for (int p = 0; p < processes; ++p) {
      char ready = 0;
      ok &= read(pipes[p], &ready, 1) == 1;
    }
    const auto start = std::chrono::steady_clock::now();
    const std::string go_bytes(processes, 'g');
    ok &= write(go[1], go_bytes.data(), go_bytes.size()) == static_cast<ssize_t>(processes);
    close(go[1]);
    for (int p = 0; p < processes; ++p) {
      double cpu = 0;
      ok &= read(pipes[p], &cpu, sizeof(cpu)) == sizeof(cpu) && cpu > 0;
      if (ok) per_core += kGets / cpu;
    }
    const auto end = std::chrono::steady_clock::now();
    for (int p = 0; p < processes; ++p) {
      close(pipes[p]);
      int status = 0;
      waitpid(pids[p], &status, 0);
      ok &= WIFEXITED(status) && WEXITSTATUS(status) == 0;
    }
    if (!ok) state.SkipWithError("a reader process failed");
    state.SetIterationTime(std::chrono::duration<double>(end - start).count());
  }
  state.SetItemsProcessed(state.iterations() * processes * kGets);
  state.counters["per_core_gets_per_s"] = per_core / state.iterations();
}

void TreeLoad(benchmark::State& state, int which) {
  bench::PointGetDataset& d = Data(which);
  for (auto _ : state) benchmark::DoNotOptimize(&d.tree());
  const TreeStats s = d.tree().Stats();
  const double payload = static_cast<double>(d.key_bytes() + d.options().value_bytes);
  state.counters["load_keys_per_s"] = d.options().keys / d.tree_load_seconds();
  state.counters["bytes_per_key"] = static_cast<double>(s.used_bytes) / s.keys;
  state.counters["file_bytes_per_key"] = static_cast<double>(s.file_bytes) / s.keys;
  state.counters["target_bytes_per_key"] = 1.5 * payload + 32;
}

void Register(int which) {
  const std::string suffix =
      which == 0 ? "/1M_x_100B" : "/" + std::to_string(g_large_keys) + "_x_16B";
  benchmark::RegisterBenchmark(("TreeLoad" + suffix).c_str(), TreeLoad, which)->Iterations(1);
  benchmark::RegisterBenchmark(("TreeGet_TxnPerGet" + suffix).c_str(), TreeGet, which, 1);
  benchmark::RegisterBenchmark(("TreeGet_TxnPer100Gets" + suffix).c_str(), TreeGet, which, 100)
      ->Iterations(20'000);
  benchmark::RegisterBenchmark(("UnorderedMapGet" + suffix).c_str(), MapGet, which);
  benchmark::RegisterBenchmark(("LmdbGet_TxnPerGet" + suffix).c_str(), LmdbGet, which);
  for (int procs : {1, 2}) {
    benchmark::RegisterBenchmark(
        ("TreeGetProcesses" + suffix + "/procs:" + std::to_string(procs)).c_str(), TreeGetProcesses,
        which, procs)
        ->UseManualTime()
        ->Unit(benchmark::kMillisecond)
        ->Iterations(1);
  }
}

}  // namespace
}  // namespace whycache::tree

int main(int argc, char** argv) {
  std::vector<char*> args;
  for (int i = 0; i < argc; ++i) {
    if (std::strncmp(argv[i], "--large_keys=", 13) == 0) {
      whycache::tree::g_large_keys = std::strtoull(argv[i] + 13, nullptr, 10);
    } else {
      args.push_back(argv[i]);
    }
  }
  int n = static_cast<int>(args.size());
  benchmark::Initialize(&n, args.data());
  whycache::tree::Register(0);
  if (whycache::tree::g_large_keys > 0) whycache::tree::Register(1);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
