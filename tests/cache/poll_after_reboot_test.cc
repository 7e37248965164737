// A state file kept on disk across a reboot: its poll schedule counts in the previous boot's
// monotonic clock, which restarts near 0. The machine must poll at once after the reboot and its
// lag must not read 0 before it has.
//
// A reboot is simulated by leaving the file as a previous boot with a long uptime would have:
// another boot id stored, the next poll due far ahead of this boot's clock.
#include <chrono>
#include <filesystem>
#include <memory>

#include "gtest/gtest.h"
#include "lib/cache/poll_schedule.h"
#include "lib/cache/shared_control.h"
#include "lib/io/clock.h"
#include "lib/tree/boot_id.h"
#include "lib/tree/tree.h"
#include "tests/log/log_backends.h"
#include "tests/support/boot_stamp.h"
#include "tests/support/temp_dir.h"
#include "whycache/cache.h"

namespace whycache::testing {
namespace {

constexpr int64_t kLongUptimeNs = int64_t{400} * 24 * 3600 * 1'000'000'000;
constexpr tree::BootId kPreviousBoot = {0x0123456789abcdef, 0xfedcba9876543210};

// Moves the next poll of the state file at `path` far ahead, stored as of boot `boot`.
void LeaveScheduleOfBoot(const std::string& path, const tree::BootId& boot) {
  std::unique_ptr<tree::Tree> tree = tree::Tree::Open(path);
  std::unique_ptr<tree::WriteTxn> writer = tree->BeginWrite(/*wait=*/true);
  cache::SharedControl* control = cache::ControlOf(*tree);
  control->schedule_boot[0].store(boot[0]);
  control->schedule_boot[1].store(boot[1]);
  control->next_poll_ns.store(io::CoarseMonotonicNanos() + kLongUptimeNs);
}

class PollAfterRebootTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_NE(tree::CurrentBootId(), tree::BootId{}) << "the kernel does not tell the boot id";
    ASSERT_NE(tree::CurrentBootId(), kPreviousBoot);
    options_.state_path = dir_.File("machine.state");
    options_.log_uri = fresh_->uri();
    options_.poll_interval = std::chrono::milliseconds(50);
  }

  TempDir dir_;
  std::unique_ptr<FreshLog> fresh_ = FileLogBackend().create();
  CacheOptions options_;
};

TEST_F(PollAfterRebootTest, PollsAtOnceAndReportsLagUntilItHas) {
  {
    auto cache = Cache::Open(options_);
    cache->Set("k", "before the reboot");
    cache->UpdateNow();
    cache->Set("k", "written while the machine was down");
  }
  WriteBootStamp(options_.state_path, kPreviousBoot);
  LeaveScheduleOfBoot(options_.state_path, kPreviousBoot);

  auto cache = Cache::Open(options_);
  const CacheStats before = cache->Stats();
  EXPECT_GT(before.lag_us, 0) << "lag 0 on a machine that has not polled since the reboot";
  cache->Update();
  EXPECT_EQ(cache->Get("k"), "written while the machine was down")
      << "Update() did not poll after the reboot";
  const CacheStats after = cache->Stats();
  EXPECT_EQ(after.polls, before.polls + 1);
  EXPECT_EQ(after.ids_behind, 0u);
  EXPECT_EQ(after.lag_us, 0);
}

TEST_F(PollAfterRebootTest, ANewStateFileReportsLagUntilItHasPolled) {
  {
    auto writer = Cache::Open(options_);
    writer->Set("k", "v");
  }
  std::filesystem::remove(options_.state_path);
  auto cache = Cache::Open(options_);
  EXPECT_GT(cache->Stats().lag_us, 0) << "lag 0 on a machine that has never polled";
  cache->UpdateNow();
  EXPECT_EQ(cache->Stats().lag_us, 0);
}

TEST_F(PollAfterRebootTest, OpeningAgainInTheSameBootKeepsTheSchedule) {
  {
    auto cache = Cache::Open(options_);
    cache->Set("k", "v1");
    cache->UpdateNow();
    cache->Set("k", "v2");
  }
  LeaveScheduleOfBoot(options_.state_path, tree::CurrentBootId());
  auto cache = Cache::Open(options_);
  cache->Update();
  EXPECT_EQ(cache->Get("k"), "v1") << "a process opening the file in the same boot reset the "
                                      "schedule other processes share";
  EXPECT_EQ(cache->UpdateNow(), 2u);
}

}  // namespace
}  // namespace whycache::testing
