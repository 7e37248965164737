// Deleting a subtree of 1M keys: one prefix delete against 1M single deletes, each applied from
// the file log by a machine that holds the subtree and 100k other keys. Only the apply is timed
// (UpdateNow: reading the log, the tree's commit, a rebuild if the commit leaves the file mostly
// free); writing the keys and the deletes to the log is not. The state file is on /dev/shm, as
// the README advises; the log is on the test's directory.
//
//   bazel run --config=opt //tests/cache:prefix_delete_bench -- --benchmark_repetitions=5
//       --benchmark_enable_random_interleaving=true --benchmark_report_aggregates_only=true
//   (one command line)
//
//   BM_DeleteSubtree/single_deletes  1M deletes, appended as 1,000 batches of 1,000
//   BM_DeleteSubtree/prefix_delete   one prefix delete of "sess:"
#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "benchmark/benchmark.h"
#include "lib/bench/workload.h"
#include "tests/log/log_backends.h"
#include "tests/support/temp_dir.h"
#include "whycache/cache.h"
#include "whycache/error.h"

namespace whycache::testing {
namespace {

constexpr size_t kSubtreeKeys = 1'000'000;
constexpr size_t kOtherKeys = 100'000;
constexpr size_t kBatch = 1'000;
constexpr size_t kValueBytes = 100;

std::string KeyUnder(const char* prefix, uint64_t n) {
  char key[32];
  std::snprintf(key, sizeof(key), "%s%016" PRIx64, prefix, n);
  return key;
}

// Appends sets of `count` keys "PREFIX" + 16 hex digits to random values; returns the keys.
std::vector<std::string> AppendKeys(ChangeLog& log, const char* prefix, size_t count,
                                    std::mt19937_64& rng) {
  std::vector<std::string> keys;
  std::vector<Mutation> batch;
  for (size_t i = 0; i < count; ++i) {
    keys.push_back(KeyUnder(prefix, rng()));
    batch.push_back(Mutation::Set(keys.back(), bench::RandomValue(rng, kValueBytes)));
    if (batch.size() == kBatch || i + 1 == count) {
      log.Append(batch);
      batch.clear();
    }
  }
  return keys;
}

void BM_DeleteSubtree(benchmark::State& state, bool prefix_delete) {
  std::mt19937_64 rng(1);
  for (auto _ : state) {
    TempDir dir("/dev/shm");
    std::unique_ptr<FreshLog> fresh = FileLogBackend().create();
    std::unique_ptr<ChangeLog> log = fresh->Open({});
    const std::vector<std::string> subtree = AppendKeys(*log, "sess:", kSubtreeKeys, rng);
    AppendKeys(*log, "keep:", kOtherKeys, rng);
    CacheOptions options;
    options.state_path = dir.File("machine.state");
    options.log_uri = fresh->uri();
    auto cache = Cache::Open(options);
    cache->UpdateNow();
    if (prefix_delete) {
      log->Append(std::vector{Mutation::ErasePrefix("sess:")});
    } else {
      std::vector<Mutation> batch;
      for (size_t i = 0; i < subtree.size(); ++i) {
        batch.push_back(Mutation::Delete(subtree[i]));
        if (batch.size() == kBatch || i + 1 == subtree.size()) {
          log->Append(batch);
          batch.clear();
        }
      }
    }
    const auto start = std::chrono::steady_clock::now();
    cache->UpdateNow();
    state.SetIterationTime(
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
    const uint64_t keys_after = cache->Stats().keys;
    if (keys_after != kOtherKeys) {
      state.SkipWithError(("the machine holds " + std::to_string(keys_after) + " keys, not " +
                           std::to_string(kOtherKeys))
                              .c_str());
      break;
    }
  }
}
BENCHMARK_CAPTURE(BM_DeleteSubtree, single_deletes, false)
    ->UseManualTime()
    ->Iterations(1)
    ->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_DeleteSubtree, prefix_delete, true)
    ->UseManualTime()
    ->Iterations(1)
    ->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace whycache::testing

BENCHMARK_MAIN();
