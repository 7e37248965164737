// The read rows of the suite: point gets against peers, the Cache's overhead, snapshots.
#include <algorithm>
#include <chrono>
#include <functional>
#include <random>
#include <utility>
#include <vector>

#include "lib/bench/point_get_dataset.h"
#include "lib/bench/probe_sequence.h"
#include "lib/bench/sections.h"
#include "lib/bench/timing.h"
#include "lib/tree/tree.h"
#include "whycache/error.h"

namespace whycache::bench {
namespace {

// Fails the run when a store did not find every key it was asked for: its timing would be of a
// different workload.
void ExpectFound(size_t found, size_t asked, const char* store) {
  if (found != asked) {
    throw Error(Error::Code::kCorruption, std::string("bench: ") + store + " found " +
                                              std::to_string(found) + " of " +
                                              std::to_string(asked) + " existing keys");
  }
}

// A repetition of `gets` lookups in read transactions of `per_txn` gets each: repetition r asks
// `gets_in(first, n)` for the keys from r * gets on, so that every store of a comparison sees
// the same keys in the same order. `gets_in` returns how many of its n keys it found.
template <typename Gets>
std::function<void(int)> GetLoop(size_t gets, size_t per_txn, const char* store, Gets gets_in) {
  return [gets, per_txn, store, gets_in](int repetition) {
    const size_t first = static_cast<size_t>(repetition) * gets;
    size_t found = 0;
    for (size_t i = first; i < first + gets; i += per_txn) {
      found += gets_in(i, std::min(per_txn, first + gets - i));
    }
    ExpectFound(found, gets, store);
  };
}

// Gets in a read transaction of their own each.
template <typename Get>
std::function<void(int)> GetLoop(size_t gets, const char* store, Get get) {
  return GetLoop(gets, 1, store, [get](size_t i, size_t) { return size_t{get(i)}; });
}

// Single gets of the keys from `first` on, each timed on the steady clock: the distribution
// behind a median. Every sample includes reading the clock (tens of ns), alike for every store,
// and, on a busy machine, the moments another process had the core.
template <typename Get>
std::vector<double> LatenciesNs(size_t first, size_t samples, const char* store, Get get) {
  std::vector<double> ns;
  ns.reserve(samples);
  size_t found = 0;
  for (size_t i = first; i < first + samples; ++i) {
    const auto start = std::chrono::steady_clock::now();
    found += get(i);
    ns.push_back(
        std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - start).count());
  }
  ExpectFound(found, samples, store);
  return ns;
}

// The percentiles of a latency distribution the report gives, as figure key suffixes.
constexpr std::pair<double, const char*> kLatencyPercentiles[] = {
    {0.5, "p50"}, {0.9, "p90"}, {0.99, "p99"}, {0.999, "p999"}};

// A request that reads several keys: gets per read transaction in the rows that say so.
constexpr size_t kGetsPerRequest = 10;

double Ns(double seconds, size_t calls) { return seconds * 1e9 / static_cast<double>(calls); }

std::string KeysTitle(const char* what, size_t keys, size_t value_bytes) {
  return std::string(what) + ", " + WithThousands(static_cast<double>(keys)) + " keys x " +
         std::to_string(value_bytes) + " B";
}

}  // namespace

Section MeasurePointGets(const SuiteConfig& config, size_t keys, size_t value_bytes,
                         const std::string& dir) {
  const size_t gets = config.gets_per_repetition;
  PointGetOptions options;
  options.keys = keys;
  options.value_bytes = value_bytes;
  options.dir = dir;
  options.seed = value_bytes;
  options.probe_count = ProbeCount(gets * config.repetitions);
  const PointGetDataset d(options);
  const size_t n = kGetsPerRequest;
  const std::vector<Elapsed> m = InterleavedMedians(
      {GetLoop(gets, "the tree", [&d](size_t i) { return d.TreeGet(i); }),
       GetLoop(gets, n, "the tree", [&d](size_t i, size_t k) { return d.TreeGets(i, k); }),
       GetLoop(gets, "unordered_map", [&d](size_t i) { return d.MapGet(i); }),
       GetLoop(gets, "LMDB", [&d](size_t i) { return d.LmdbGet(i); }),
       GetLoop(gets, "LMDB", [&d](size_t i) { return d.LmdbRenewedGet(i); }),
       GetLoop(gets, n, "LMDB", [&d](size_t i, size_t k) { return d.LmdbRenewedGets(i, k); })},
      config.repetitions);
  const Elapsed& tree = m[0];
  const Elapsed& tree_batch = m[1];
  const Elapsed& map = m[2];
  const Elapsed& lmdb = m[3];
  const Elapsed& lmdb_renew = m[4];
  const Elapsed& lmdb_renew_batch = m[5];
  const tree::TreeStats stats = d.tree().Stats();
  // After the rounds' keys, so that no store meets a key a round has just brought to its cache.
  const size_t first = gets * config.repetitions;
  const std::pair<const char*, std::vector<double>> latencies[] = {
      {"tree", LatenciesNs(first, gets, "the tree", [&d](size_t i) { return d.TreeGet(i); })},
      {"unordered_map",
       LatenciesNs(first, gets, "unordered_map", [&d](size_t i) { return d.MapGet(i); })},
      {"lmdb", LatenciesNs(first, gets, "LMDB", [&d](size_t i) { return d.LmdbGet(i); })},
      {"lmdb_renew",
       LatenciesNs(first, gets, "LMDB", [&d](size_t i) { return d.LmdbRenewedGet(i); })},
  };
  Section s;
  s.key = "point_get_" + std::to_string(value_bytes) + "B";
  s.title = KeysTitle("get", keys, value_bytes);
  s.figures = {
      {"tree_ns", "tree", Ns(tree.cpu_seconds, gets), "ns"},
      {"tree_txn10_ns", "tree 10/txn", Ns(tree_batch.cpu_seconds, gets), "ns"},
      {"unordered_map_ns", "unordered_map", Ns(map.cpu_seconds, gets), "ns"},
      {"lmdb_ns", "LMDB begin/abort", Ns(lmdb.cpu_seconds, gets), "ns"},
      {"lmdb_renew_ns", "LMDB renew", Ns(lmdb_renew.cpu_seconds, gets), "ns"},
      {"lmdb_renew_txn10_ns", "LMDB renew 10/txn", Ns(lmdb_renew_batch.cpu_seconds, gets), "ns"},
      {"tree_vs_unordered_map", "tree/unordered_map", tree.cpu_seconds / map.cpu_seconds, "x"},
      {"tree_txn10_vs_unordered_map", "tree 10/txn / unordered_map",
       tree_batch.cpu_seconds / map.cpu_seconds, "x"},
      {"tree_vs_lmdb", "tree/LMDB begin/abort", tree.cpu_seconds / lmdb.cpu_seconds, "x"},
      {"tree_vs_lmdb_renew", "tree/LMDB renew", tree.cpu_seconds / lmdb_renew.cpu_seconds, "x"},
      {"tree_txn10_vs_lmdb_renew_txn10", "10/txn: tree/LMDB",
       tree_batch.cpu_seconds / lmdb_renew_batch.cpu_seconds, "x"},
      {"tree_state_bytes_per_key", "state bytes/key",
       static_cast<double>(stats.used_bytes) / static_cast<double>(stats.keys), ""},
      {"tree_wall_ns", "", Ns(tree.wall_seconds, gets), ""},
      {"tree_txn10_wall_ns", "", Ns(tree_batch.wall_seconds, gets), ""},
      {"unordered_map_wall_ns", "", Ns(map.wall_seconds, gets), ""},
      {"lmdb_wall_ns", "", Ns(lmdb.wall_seconds, gets), ""},
      {"lmdb_renew_wall_ns", "", Ns(lmdb_renew.wall_seconds, gets), ""},
      {"lmdb_renew_txn10_wall_ns", "", Ns(lmdb_renew_batch.wall_seconds, gets), ""},
      {"keys", "", static_cast<double>(keys), ""},
      {"value_bytes", "", static_cast<double>(value_bytes), ""},
      {"gets_per_txn_batched", "", static_cast<double>(n), ""},
      {"gets_per_repetition", "", static_cast<double>(gets), ""},
      {"repetitions", "", static_cast<double>(config.repetitions), ""},
  };
  for (const auto& [store, ns] : latencies) {
    for (const auto& [p, name] : kLatencyPercentiles) {
      s.figures.push_back({std::string(store) + "_" + name + "_ns", "", Percentile(ns, p), ""});
    }
  }
  return s;
}

Section MeasureCacheGets(const SuiteConfig& config, const LoadedCache& machine) {
  const size_t gets = config.gets_per_repetition;
  std::mt19937_64 rng(11);
  // The point-get rows' access pattern, so that this row's tree figure compares with theirs.
  const ProbeSequence probes(machine.keys(), ProbeCount(gets * config.repetitions), rng);
  Cache& cache = machine.cache();
  const std::unique_ptr<tree::Tree> tree = tree::Tree::Open(machine.options().state_path);
  const std::vector<Elapsed> m = InterleavedMedians(
      {GetLoop(gets, "the Cache",
               [&](size_t i) { return cache.BeginRead().Get(probes[i]).has_value(); }),
       GetLoop(gets, "the tree",
               [&](size_t i) { return tree->BeginRead().Get(probes[i]).has_value(); })},
      config.repetitions);
  Section s;
  s.key = "cache_get";
  s.title = KeysTitle("get via Cache vs tree", machine.keys().size(), 100);
  s.figures = {
      {"cache_ns", "Cache", Ns(m[0].cpu_seconds, gets), "ns"},
      {"tree_ns", "tree", Ns(m[1].cpu_seconds, gets), "ns"},
      {"overhead_pct", "overhead", (m[0].cpu_seconds / m[1].cpu_seconds - 1) * 100, "%"},
      {"cache_wall_ns", "", Ns(m[0].wall_seconds, gets), ""},
      {"tree_wall_ns", "", Ns(m[1].wall_seconds, gets), ""},
      {"keys", "", static_cast<double>(machine.keys().size()), ""},
      {"gets_per_repetition", "", static_cast<double>(gets), ""},
      {"repetitions", "", static_cast<double>(config.repetitions), ""},
  };
  return s;
}

Section MeasureSnapshots(const SuiteConfig& config, const LoadedCache& machine,
                         const std::string& dir) {
  CacheOptions b_options = machine.options();
  b_options.state_path = dir + "/snapshot-target.state";
  const std::unique_ptr<Cache> b = Cache::Open(b_options);
  const std::string path = dir + "/bench.snapshot";
  std::vector<Elapsed> creates, restores;
  SnapshotInfo info;
  for (int r = 0; r < config.repetitions; ++r) {
    creates.push_back(Time([&] { info = machine.cache().CreateSnapshot(path); }));
    restores.push_back(Time([&] { b->RestoreSnapshot(path); }));
  }
  const double mb = static_cast<double>(info.raw_bytes) / 1e6;
  Section s;
  s.key = "snapshot";
  s.title = KeysTitle("snapshot", info.key_count, 100);
  s.figures = {
      {"create_MBps", "create", mb / MedianOf(creates).wall_seconds, "MB/s"},
      {"restore_MBps", "restore", mb / MedianOf(restores).wall_seconds, "MB/s"},
      {"file_bytes", "file", static_cast<double>(info.file_bytes), "B"},
      {"raw_bytes", "keys and values", static_cast<double>(info.raw_bytes), "B"},
      {"file_per_raw", "file/raw",
       static_cast<double>(info.file_bytes) / static_cast<double>(info.raw_bytes), "x"},
      {"keys", "", static_cast<double>(info.key_count), ""},
      {"repetitions", "", static_cast<double>(config.repetitions), ""},
  };
  return s;
}

}  // namespace whycache::bench
