// The read rows of the suite: point gets against peers, the Cache's overhead, snapshots.
#include <algorithm>
#include <bit>
#include <functional>
#include <vector>

#include "lib/bench/point_get_dataset.h"
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

// A repetition of `gets` lookups: repetition r asks get(i) for i from r * gets on, so that every
// store of a comparison sees the same keys in the same order.
template <typename Get>
std::function<void(int)> GetLoop(size_t gets, const char* store, Get get) {
  return [gets, store, get](int repetition) {
    const size_t first = static_cast<size_t>(repetition) * gets;
    size_t found = 0;
    for (size_t i = first; i < first + gets; ++i) found += get(i);
    ExpectFound(found, gets, store);
  };
}

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
  options.probe_count = std::bit_ceil(std::min(gets * config.repetitions, size_t{1} << 22));
  const PointGetDataset d(options);
  const std::vector<Elapsed> m =
      InterleavedMedians({GetLoop(gets, "the tree", [&d](size_t i) { return d.TreeGet(i); }),
                          GetLoop(gets, "unordered_map", [&d](size_t i) { return d.MapGet(i); }),
                          GetLoop(gets, "LMDB", [&d](size_t i) { return d.LmdbGet(i); })},
                         config.repetitions);
  const tree::TreeStats stats = d.tree().Stats();
  Section s;
  s.key = "point_get_" + std::to_string(value_bytes) + "B";
  s.title = KeysTitle("get", keys, value_bytes);
  s.figures = {
      {"tree_ns", "tree", Ns(m[0].cpu_seconds, gets), "ns"},
      {"unordered_map_ns", "unordered_map", Ns(m[1].cpu_seconds, gets), "ns"},
      {"lmdb_ns", "LMDB", Ns(m[2].cpu_seconds, gets), "ns"},
      {"tree_vs_unordered_map", "tree/unordered_map", m[0].cpu_seconds / m[1].cpu_seconds, "x"},
      {"tree_vs_lmdb", "tree/LMDB", m[0].cpu_seconds / m[2].cpu_seconds, "x"},
      {"tree_state_bytes_per_key", "state bytes/key",
       static_cast<double>(stats.used_bytes) / static_cast<double>(stats.keys), ""},
      {"tree_wall_ns", "", Ns(m[0].wall_seconds, gets), ""},
      {"unordered_map_wall_ns", "", Ns(m[1].wall_seconds, gets), ""},
      {"lmdb_wall_ns", "", Ns(m[2].wall_seconds, gets), ""},
      {"keys", "", static_cast<double>(keys), ""},
      {"value_bytes", "", static_cast<double>(value_bytes), ""},
      {"gets_per_repetition", "", static_cast<double>(gets), ""},
      {"repetitions", "", static_cast<double>(config.repetitions), ""},
  };
  return s;
}

Section MeasureCacheGets(const SuiteConfig& config, const LoadedCache& machine) {
  const size_t gets = config.gets_per_repetition;
  const std::vector<std::string>& keys = machine.keys();
  Cache& cache = machine.cache();
  const std::unique_ptr<tree::Tree> tree = tree::Tree::Open(machine.options().state_path);
  const std::vector<Elapsed> m = InterleavedMedians(
      {GetLoop(gets, "the Cache",
               [&](size_t i) { return cache.BeginRead().Get(keys[i % keys.size()]).has_value(); }),
       GetLoop(gets, "the tree",
               [&](size_t i) { return tree->BeginRead().Get(keys[i % keys.size()]).has_value(); })},
      config.repetitions);
  Section s;
  s.key = "cache_get";
  s.title = KeysTitle("get via Cache vs tree", keys.size(), 100);
  s.figures = {
      {"cache_ns", "Cache", Ns(m[0].cpu_seconds, gets), "ns"},
      {"tree_ns", "tree", Ns(m[1].cpu_seconds, gets), "ns"},
      {"overhead_pct", "overhead", (m[0].cpu_seconds / m[1].cpu_seconds - 1) * 100, "%"},
      {"cache_wall_ns", "", Ns(m[0].wall_seconds, gets), ""},
      {"tree_wall_ns", "", Ns(m[1].wall_seconds, gets), ""},
      {"keys", "", static_cast<double>(keys.size()), ""},
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
