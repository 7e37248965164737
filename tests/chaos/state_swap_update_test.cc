// Update() whose poll swaps the state file: the poll finds the machine below the log's horizon,
// resyncs into a new file and moves this process to it, unmapping the old one; what Update()
// then records about the poll must go to the new file's control block. Found by the chaos run,
// where machine B's readers died with SIGSEGV (there a snapshot restore swapped the file while
// a reader's Update() was polling). The machine's counters carry over into the new file.
#include <chrono>
#include <thread>

#include "gtest/gtest.h"
#include "tests/log/log_backends.h"
#include "tests/support/child_process.h"
#include "tests/support/temp_dir.h"
#include "whycache/cache.h"

namespace whycache::testing {
namespace {

using std::chrono::milliseconds;

TEST(StateSwapUpdateTest, UpdateWhosePollResyncsIntoANewStateFile) {
  TempDir dir;
  std::unique_ptr<FreshLog> fresh = FileLogBackend().create();
  CacheOptions options;
  options.state_path = dir.File("machine.state");
  options.log_uri = fresh->uri();
  options.poll_interval = milliseconds(1);
  ChildProcess machine([&] {
    auto cache = Cache::Open(options);
    auto log = fresh->Open({});
    uint64_t polls = 0;
    for (int round = 0; round < 5; ++round) {
      const std::string key = "key:" + std::to_string(round);
      cache->Set(key, "value");
      cache->UpdateNow();
      // The delete's tombstone expires at once, so the machine falls below the horizon.
      cache->Delete(key);
      cache->Set("other", std::to_string(round));
      CompactionOptions compaction;
      compaction.tombstone_retention = std::chrono::seconds(0);
      std::this_thread::sleep_for(milliseconds(5));
      const CompactionResult result = log->Compact(compaction);
      if (result.horizon <= cache->AppliedId()) return 1;
      cache->Update();  // Due: polls, resyncs, then records the poll.
      if (cache->Get(key).has_value() || cache->Get("other") != std::to_string(round)) return 2;
      // The machine's counters are totals: a resync does not reset them.
      const CacheStats stats = cache->Stats();
      if (stats.resyncs != static_cast<uint64_t>(round) + 1 || stats.polls <= polls) return 3;
      polls = stats.polls;
    }
    return 0;
  });
  const int status = machine.Wait();
  EXPECT_TRUE(ChildProcess::Succeeded(status)) << ChildProcess::Describe(status);
}

}  // namespace
}  // namespace whycache::testing
