// Thousands of threads reading one Cache with the default settings: more of them than reader
// slots, each keeping its slot while idle. No read may fail.
#include <atomic>
#include <barrier>
#include <chrono>
#include <condition_variable>
#include <latch>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "tests/support/temp_dir.h"
#include "tests/tree/small_stack_thread.h"
#include "whycache/cache.h"

namespace whycache::testing {
namespace {

using tree::SmallStackThread;

constexpr int kThreads = 4200;  // More than the 4096 slots of a state file by default.
constexpr int kWave = 600;      // Threads holding a read transaction at once.

TEST(ManyReadersTest, ThousandsOfThreadsReadWithTheDefaultSettings) {
  TempDir dir;
  CacheOptions options;
  options.state_path = dir.File("data.state");
  options.log_uri = "file:" + dir.File("log");
  options.log_options.create_if_missing = true;
  auto cache = Cache::Open(options);
  ASSERT_TRUE(cache->WaitFor(cache->Set("k", "v"), std::chrono::seconds(60)));

  std::atomic<int> failures{0};
  std::mutex mu;
  std::string first_failure;
  auto read = [&] {
    try {
      if (cache->BeginRead().Get("k") != "v") throw std::runtime_error("wrong value");
    } catch (const std::exception& e) {
      std::lock_guard lock(mu);
      if (failures++ == 0) first_failure = e.what();
    }
  };
  // Threads stay alive, idle, until every one has read; then each reads once more and ends.
  std::mutex idle_mu;
  std::condition_variable idle_cv;
  bool finish = false;
  std::vector<std::unique_ptr<SmallStackThread>> threads;
  for (int wave = 0; wave < kThreads / kWave; ++wave) {
    std::latch holding(kWave);
    std::latch waved(kWave);
    for (int i = 0; i < kWave; ++i) {
      threads.push_back(std::make_unique<SmallStackThread>([&] {
        try {
          ReadTransaction txn = cache->BeginRead();
          if (txn.Get("k") != "v") throw std::runtime_error("wrong value");
          holding.arrive_and_wait();  // The whole wave holds a transaction at once.
        } catch (const std::exception& e) {
          holding.count_down();
          std::lock_guard lock(mu);
          if (failures++ == 0) first_failure = e.what();
        }
        waved.count_down();
        std::unique_lock lock(idle_mu);
        idle_cv.wait(lock, [&] { return finish; });
        lock.unlock();
        read();
      }));
    }
    waved.wait();
  }
  const CacheStats stats = cache->Stats();
  EXPECT_GE(stats.reader_slots_in_use, 4096u);
  {
    std::lock_guard lock(idle_mu);
    finish = true;
  }
  idle_cv.notify_all();
  threads.clear();
  EXPECT_EQ(failures.load(), 0) << first_failure;
  read();
  EXPECT_EQ(failures.load(), 0) << first_failure;
}

}  // namespace
}  // namespace whycache::testing
