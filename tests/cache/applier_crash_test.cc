// kill -9 of the applying process at random moments never leaves the machine stuck: the next
// update on the machine proceeds and the state equals the log replayed.
#include <signal.h>

#include <chrono>
#include <random>
#include <thread>

#include "gtest/gtest.h"
#include "tests/cache/cache_test_util.h"
#include "tests/log/log_backends.h"
#include "tests/support/child_process.h"
#include "tests/support/temp_dir.h"
#include "whycache/cache.h"

namespace whycache::testing {
namespace {

using std::chrono::milliseconds;

constexpr int kIterations = 120;
constexpr int kBatchesPerIteration = 60;

TEST(ApplierCrashTest, KilledApplierNeverLeavesTheMachineStuck) {
  TempDir dir;
  std::unique_ptr<FreshLog> fresh = FileLogBackend().create();
  CacheOptions options;
  options.state_path = dir.File("machine.state");
  options.log_uri = fresh->uri();
  auto log = fresh->Open({});
  std::mt19937_64 rng(42);
  int killed_while_running = 0;

  for (int iteration = 0; iteration < kIterations; ++iteration) {
    for (int i = 0; i < kBatchesPerIteration; ++i) {
      std::vector<Mutation> batch = RandomBatch(rng);
      // Large values make the apply take long enough to be killed in the middle.
      batch.push_back(Mutation::Set("big:" + std::to_string(rng() % 50), std::string(20000, 'x')));
      log->Append(batch);
    }
    {
      ChildProcess applier([&] {
        auto cache = Cache::Open(options);
        cache->UpdateNow();
        return 0;
      });
      std::this_thread::sleep_for(std::chrono::microseconds(rng() % 20000));
      applier.Signal(SIGKILL);
      if (!ChildProcess::Succeeded(applier.Wait())) ++killed_while_running;
    }
    // Another process of the machine must be able to carry on at once.
    ChildProcess next([&] {
      auto cache = Cache::Open(options);
      cache->UpdateNow();
      cache->Verify();
      auto own_log = fresh->Open({});
      const std::string difference = FirstDifference(ReplayLog(*own_log), ScanAll(*cache));
      if (difference.empty()) return 0;
      std::fprintf(stderr, "state differs from the log replayed: %s\n", difference.c_str());
      return 3;
    });
    const std::optional<int> status = next.WaitFor(milliseconds(20'000));
    ASSERT_TRUE(status.has_value()) << "iteration " << iteration << ": the next applier hung";
    ASSERT_TRUE(ChildProcess::Succeeded(*status))
        << "iteration " << iteration << ": " << ChildProcess::Describe(*status);
  }
  auto cache = Cache::Open(options);
  EXPECT_EQ(cache->AppliedId(), log->HeadId());
  EXPECT_EQ(FirstDifference(ReplayLog(*log), ScanAll(*cache)), "");
  cache->Verify();
  std::printf("%d of %d appliers were killed while applying\n", killed_while_running, kIterations);
  EXPECT_GT(killed_while_running, kIterations / 4);
}

}  // namespace
}  // namespace whycache::testing
