// One Cache shared by the threads of a process, as its contract allows: readers calling
// Update() and reading before each "request", a writer, a thread forcing polls and one reading
// stats, all at once. Each reader must only ever see whole batches; run under ThreadSanitizer
// (bazel test --config=tsan) it also checks that the threads share no unsynchronized memory.
#include <atomic>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "tests/support/temp_dir.h"
#include "whycache/cache.h"

namespace whycache::testing {
namespace {

constexpr int kGroupKeys = 8;
constexpr int kBatches = 200;
constexpr int kReaders = 3;

std::string GroupKey(int i) { return "group:" + std::to_string(i); }

// "" if every key of the group holds the same generation in `txn`, else what differs.
std::string CheckGroup(const ReadTransaction& txn) {
  std::optional<std::string_view> first = txn.Get(GroupKey(0));
  for (int i = 1; i < kGroupKeys; ++i) {
    if (txn.Get(GroupKey(i)) != first) {
      return "key " + GroupKey(i) + " differs from " + GroupKey(0) + " at applied id " +
             std::to_string(txn.applied_id());
    }
  }
  size_t scanned = 0;
  txn.Scan("group:", [&](std::string_view, std::string_view value) {
    scanned += value == first ? 1 : 0;
    return true;
  });
  return first && scanned != kGroupKeys ? "a scan saw part of a batch" : "";
}

TEST(CacheThreadsTest, ThreadsShareOneCacheWhileItWritesAndApplies) {
  TempDir dir;
  CacheOptions options;
  options.state_path = dir.File("data.state");
  options.log_uri = "file:" + dir.File("log");
  options.log_options.create_if_missing = true;
  options.poll_interval = std::chrono::milliseconds(1);
  auto cache = Cache::Open(options);

  std::atomic<bool> done{false};
  std::vector<std::string> problems(kReaders);
  std::vector<std::thread> threads;
  for (int r = 0; r < kReaders; ++r) {
    threads.emplace_back([&, r] {
      // Bounded by the writer, which sets `done` after its last batch is applied.
      for (int round = 0; round < 10'000'000 && !done.load(); ++round) {
        cache->Update();
        const std::string problem = CheckGroup(cache->BeginRead());
        if (!problem.empty()) {
          problems[r] = problem;
          return;
        }
      }
    });
  }
  threads.emplace_back([&] {
    for (int round = 0; round < 10'000'000 && !done.load(); ++round) {
      cache->UpdateNow();
      cache->Stats();
    }
  });

  uint64_t last = 0;
  for (int b = 0; b < kBatches; ++b) {
    std::vector<Mutation> batch;
    for (int i = 0; i < kGroupKeys; ++i) {
      batch.push_back(Mutation::Set(GroupKey(i), "generation " + std::to_string(b)));
    }
    last = cache->Write(batch);
  }
  EXPECT_TRUE(cache->WaitFor(last, std::chrono::seconds(60)));
  done.store(true);
  for (std::thread& t : threads) t.join();
  for (const std::string& p : problems) EXPECT_EQ(p, "");
  EXPECT_EQ(cache->Get(GroupKey(0)), "generation " + std::to_string(kBatches - 1));
  EXPECT_EQ(cache->Stats().last_error, "");
  cache->Verify();
}

}  // namespace
}  // namespace whycache::testing
