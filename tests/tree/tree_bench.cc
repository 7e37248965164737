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
#include <lmdb.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <memory>
#include <random>
#include <string>
#include <unordered_map>
#include <vector>

#include "lib/tree/tree.h"

namespace whycache::tree {
namespace {

uint64_t g_large_keys = 10'000'000;

// std::hash<std::string>, made transparent so that finding a string_view allocates nothing.
struct KeyHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};

struct DataSet {
  size_t keys = 0;
  size_t value_bytes = 0;
  std::string dir;
  std::vector<std::string> key_list;
  // The get sequence: random existing keys laid out one after the other, so fetching the next
  // key to look up costs no cache miss and every miss measured is the structure's own.
  std::string probes;
  size_t probe_bytes = 0;
  size_t probe_count = 0;
  std::string_view Probe(size_t i) const {
    return {probes.data() + (i & (probe_count - 1)) * probe_bytes, probe_bytes};
  }
  std::unique_ptr<Tree> tree;
  double tree_load_seconds = 0;
  std::unordered_map<std::string, std::string, KeyHash, std::equal_to<>> map;
  MDB_env* env = nullptr;
  MDB_dbi dbi = 0;

  ~DataSet() {
    tree.reset();
    if (env != nullptr) mdb_env_close(env);
    std::filesystem::remove_all(dir);
  }
};

std::string ValueFor(size_t i, size_t bytes) {
  std::string v(bytes, static_cast<char>('a' + i % 26));
  std::memcpy(v.data(), &i, std::min(bytes, sizeof(i)));
  return v;
}

void Check(int rc, const char* what) {
  if (rc != 0) {
    std::fprintf(stderr, "%s: %s\n", what, mdb_strerror(rc));
    std::abort();
  }
}

std::unique_ptr<DataSet> Build(int which) {
  auto d = std::make_unique<DataSet>();
  d->keys = which == 0 ? 1'000'000 : g_large_keys;
  d->value_bytes = which == 0 ? 100 : 16;
  d->dir = "/dev/shm/whycache-bench-" + std::to_string(getpid()) + "-" + std::to_string(which);
  std::filesystem::create_directories(d->dir);
  std::mt19937_64 rng(which + 1);
  d->key_list.reserve(d->keys);
  char buf[32];
  for (size_t i = 0; i < d->keys; ++i) {
    std::snprintf(buf, sizeof(buf), "key:%016llx", static_cast<unsigned long long>(rng()));
    d->key_list.emplace_back(buf);
  }
  d->probe_bytes = d->key_list[0].size();
  d->probe_count = size_t{1} << 22;
  d->probes.reserve(d->probe_count * d->probe_bytes);
  for (size_t i = 0; i < d->probe_count; ++i) d->probes += d->key_list[rng() % d->keys];

  TreeOptions options;
  options.initial_file_bytes = uint64_t{64} << 20;
  d->tree = Tree::Open(d->dir + "/state", options);
  const auto start = std::chrono::steady_clock::now();
  for (size_t i = 0; i < d->keys;) {
    auto w = d->tree->BeginWrite();
    for (size_t end = std::min(d->keys, i + 100'000); i < end; ++i) {
      w->Put(d->key_list[i], ValueFor(i, d->value_bytes));
    }
    w->Commit(i);
  }
  d->tree_load_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

  d->map.reserve(d->keys);
  for (size_t i = 0; i < d->keys; ++i) d->map.emplace(d->key_list[i], ValueFor(i, d->value_bytes));

  Check(mdb_env_create(&d->env), "mdb_env_create");
  Check(mdb_env_set_mapsize(d->env, size_t{16} << 30), "mdb_env_set_mapsize");
  Check(mdb_env_open(d->env, d->dir.c_str(), MDB_NOSYNC | MDB_NOMETASYNC, 0644), "mdb_env_open");
  for (size_t i = 0; i < d->keys;) {
    MDB_txn* txn;
    Check(mdb_txn_begin(d->env, nullptr, 0, &txn), "mdb_txn_begin");
    Check(mdb_dbi_open(txn, nullptr, 0, &d->dbi), "mdb_dbi_open");
    for (size_t end = std::min(d->keys, i + 100'000); i < end; ++i) {
      std::string v = ValueFor(i, d->value_bytes);
      MDB_val k{d->key_list[i].size(), d->key_list[i].data()};
      MDB_val val{v.size(), v.data()};
      Check(mdb_put(txn, d->dbi, &k, &val, 0), "mdb_put");
    }
    Check(mdb_txn_commit(txn), "mdb_txn_commit");
  }
  return d;
}

// One data set at a time is kept, so the large one has the memory to itself.
DataSet& Data(int which) {
  static std::unique_ptr<DataSet> current;
  static int loaded = -1;
  if (loaded != which) {
    current.reset();
    current = Build(which);
    loaded = which;
  }
  return *current;
}

void TreeGet(benchmark::State& state, int which, int gets_per_txn) {
  DataSet& d = Data(which);
  size_t i = 0;
  size_t found = 0;
  for (auto _ : state) {
    ReadTxn r = d.tree->BeginRead();
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
  DataSet& d = Data(which);
  size_t i = 0;
  for (auto _ : state) {
    auto it = d.map.find(d.Probe(i++));
    benchmark::DoNotOptimize(it->second.data());
  }
  state.SetItemsProcessed(state.iterations());
}

void LmdbGet(benchmark::State& state, int which) {
  DataSet& d = Data(which);
  size_t i = 0;
  for (auto _ : state) {
    MDB_txn* txn;
    Check(mdb_txn_begin(d.env, nullptr, MDB_RDONLY, &txn), "mdb_txn_begin");
    const std::string_view key = d.Probe(i++);
    MDB_val k{key.size(), const_cast<char*>(key.data())};
    MDB_val v;
    Check(mdb_get(txn, d.dbi, &k, &v), "mdb_get");
    benchmark::DoNotOptimize(v.mv_data);
    mdb_txn_abort(txn);
  }
  state.SetItemsProcessed(state.iterations());
}

double CpuSeconds() {
  timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

// `processes` processes each do kGets gets (a read transaction per get) on their own Tree.
// items_per_second is wall-clock throughput, which on a shared machine is capped by the cores
// other work leaves free; per_core_gets_per_s adds up each process's gets per second of its own
// CPU time, what the processes reach with a core each: it stays proportional to the process
// count exactly when readers do not slow each other down.
void TreeGetProcesses(benchmark::State& state, int which, int processes) {
  constexpr size_t kGets = 2'000'000;
  DataSet& d = Data(which);
  const std::string path = d.dir + "/state";
  double per_core = 0;
  for (auto _ : state) {
    const auto start = std::chrono::steady_clock::now();
    std::vector<pid_t> pids;
    std::vector<int> pipes;
    for (int p = 0; p < processes; ++p) {
      int fds[2];
      if (pipe(fds) != 0) std::abort();
      const pid_t pid = fork();
      if (pid == 0) {
        auto tree = Tree::Open(path);
        const double cpu_start = CpuSeconds();
        size_t found = 0;
        for (size_t i = 0; i < kGets; ++i) {
          ReadTxn r = tree->BeginRead();
          found += r.Get(d.Probe(i + p * 7919)).has_value();
        }
        const double cpu = CpuSeconds() - cpu_start;
        const bool wrote = write(fds[1], &cpu, sizeof(cpu)) == sizeof(cpu);
        _exit(found == kGets && wrote ? 0 : 1);
      }
      close(fds[1]);
      pids.push_back(pid);
      pipes.push_back(fds[0]);
    }
    bool ok = true;
    for (int p = 0; p < processes; ++p) {
      double cpu = 0;
      ok &= read(pipes[p], &cpu, sizeof(cpu)) == sizeof(cpu) && cpu > 0;
      close(pipes[p]);
      if (ok) per_core += kGets / cpu;
      int status = 0;
      waitpid(pids[p], &status, 0);
      ok &= WIFEXITED(status) && WEXITSTATUS(status) == 0;
    }
    if (!ok) state.SkipWithError("a reader process failed");
    state.SetIterationTime(
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  }
  state.SetItemsProcessed(state.iterations() * processes * kGets);
  state.counters["per_core_gets_per_s"] = per_core / state.iterations();
}

void TreeLoad(benchmark::State& state, int which) {
  DataSet& d = Data(which);
  for (auto _ : state) benchmark::DoNotOptimize(d.tree.get());
  const TreeStats s = d.tree->Stats();
  const double payload = static_cast<double>(d.key_list[0].size() + d.value_bytes);
  state.counters["load_keys_per_s"] = d.keys / d.tree_load_seconds;
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
