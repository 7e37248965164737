// kill -9 of the applying process in the middle of applying never leaves the machine stuck or
// wrong: the state it leaves is a committed prefix of the history, and the next update on the
// machine proceeds and reaches the history written.
//
// The applying child reads the log through a wrapper that, at a read chosen by the test, tells
// the parent through a pipe that it is there and waits: the kill lands at a known point (writer
// lock held, the pages read before it applied to an uncommitted write transaction, earlier
// transactions of the same run committed), never at a moment left to the scheduler.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <random>
#include <utility>
#include <vector>

#include "gtest/gtest.h"
#include "lib/cache/applier.h"
#include "lib/tree/tree.h"
#include "tests/cache/cache_test_util.h"
#include "tests/log/log_backends.h"
#include "tests/support/child_process.h"
#include "tests/support/pipe_signal.h"
#include "tests/support/temp_dir.h"
#include "whycache/cache.h"

namespace whycache::testing {
namespace {

using std::chrono::milliseconds;

constexpr int kIterations = 120;
constexpr int kBatchesPerIteration = 60;

// A log that returns short pages and, at its `stop_at`-th read, writes a byte to `ready_fd` and
// waits until `hold_fd` reaches end of file (the parent never writes to it; the kill comes
// first, and a parent that died closes it, so the child never outlives the test).
class StoppingLog final : public ChangeLog {
 public:
  StoppingLog(std::unique_ptr<ChangeLog> log, size_t page, int stop_at, int ready_fd, int hold_fd)
      : log_(std::move(log)),
        page_(page),
        stop_at_(stop_at),
        ready_fd_(ready_fd),
        hold_fd_(hold_fd) {}

  uint64_t Append(std::span<const Mutation> batch) override { return log_->Append(batch); }
  uint64_t Append(std::span<const Mutation> batch, const AppendToken& token) override {
    return log_->Append(batch, token);
  }
  std::vector<Update> ReadAfter(uint64_t after_id, size_t max_updates) override {
    if (++reads_ == stop_at_) {
      const char byte = 'r';
      if (::write(ready_fd_, &byte, 1) != 1) ::_exit(2);
      char ignored;
      while (::read(hold_fd_, &ignored, 1) != 0) {
      }
      ::_exit(2);
    }
    return log_->ReadAfter(after_id, std::min(max_updates, page_));
  }
  uint64_t HeadId() override { return log_->HeadId(); }
  uint64_t Horizon() override { return log_->Horizon(); }
  uint64_t CompactedBelow() override { return log_->CompactedBelow(); }
  CompactionResult Compact(const CompactionOptions& options) override {
    return log_->Compact(options);
  }
  std::string DatasetId() override { return log_->DatasetId(); }
  std::string Describe() const override { return log_->Describe(); }

 private:
  std::unique_ptr<ChangeLog> log_;
  const size_t page_;
  const int stop_at_;
  const int ready_fd_;
  const int hold_fd_;
  int reads_ = 0;
};

// The test's own record of what it appended: the oracle, independent of the log's replay.
struct History {
  std::vector<std::pair<uint64_t, std::vector<Mutation>>> batches;

  Model At(uint64_t id) const {
    Model model;
    for (const auto& [batch_id, mutations] : batches) {
      if (batch_id > id) break;
      ApplyToModel(Update{.id = batch_id, .mutations = mutations}, &model);
    }
    return model;
  }
};

TEST(ApplierCrashTest, KilledMidApplyNeverLeavesTheMachineStuckOrWrong) {
  TempDir dir;
  std::unique_ptr<FreshLog> fresh = FileLogBackend().create();
  CacheOptions options;
  options.state_path = dir.File("machine.state");
  options.log_uri = fresh->uri();
  Cache::Open(options);  // Creates the state file and its control block.
  auto log = fresh->Open({});
  std::mt19937_64 rng(42);
  History history;

  for (int iteration = 0; iteration < kIterations; ++iteration) {
    for (int i = 0; i < kBatchesPerIteration; ++i) {
      std::vector<Mutation> batch = RandomBatch(rng);
      // Large values spread a write transaction over many pages of the tree.
      batch.push_back(Mutation::Set("big:" + std::to_string(rng() % 50), std::string(20000, 'x')));
      history.batches.emplace_back(log->Append(batch), std::move(batch));
    }
    // The child reads at most `page` updates a read and commits every `per_commit` updates, so
    // its reads 1 .. ceil(kBatchesPerIteration / page) all come while updates remain to apply.
    const size_t page = 1 + rng() % 8;
    const size_t per_commit = 1 + rng() % kBatchesPerIteration;
    const int stop_at = 1 + static_cast<int>(rng() % ((kBatchesPerIteration + page - 1) / page));
    int ready[2];
    int hold[2];
    ASSERT_EQ(::pipe(ready), 0);
    ASSERT_EQ(::pipe(hold), 0);
    {
      ChildProcess applier([&] {
        ::close(ready[0]);
        ::close(hold[1]);
        std::unique_ptr<tree::Tree> tree = tree::Tree::Open(options.state_path);
        StoppingLog stopping(fresh->Open({}), page, stop_at, ready[1], hold[0]);
        for (cache::ApplyResult r; !r.caught_up;) {
          r = cache::ApplyFromLog(*tree, stopping, /*wait=*/true, per_commit);
        }
        return 4;  // Caught up without reaching the read it was to stop at.
      });
      ::close(ready[1]);
      ::close(hold[0]);
      const bool there = ReadByte(ready[0], milliseconds(60'000));
      applier.Signal(SIGKILL);
      const int status = applier.Wait();
      ::close(ready[0]);
      ::close(hold[1]);
      ASSERT_TRUE(there) << "iteration " << iteration << ": the applier never reached read "
                         << stop_at << "; it " << ChildProcess::Describe(status);
      ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)
          << "iteration " << iteration << ": " << ChildProcess::Describe(status);
    }
    // Another process of the machine finds a committed prefix and carries on at once.
    ChildProcess next([&] {
      auto cache = Cache::Open(options);
      cache->Verify();
      const uint64_t left = cache->AppliedId();
      std::string difference = FirstDifference(history.At(left), ScanAll(*cache));
      if (!difference.empty()) {
        std::fprintf(stderr, "state left at id %llu differs from the history: %s\n",
                     static_cast<unsigned long long>(left), difference.c_str());
        return 3;
      }
      const uint64_t head = cache->UpdateNow();
      cache->Verify();
      difference = FirstDifference(history.At(head), ScanAll(*cache));
      if (head != history.batches.back().first || !difference.empty()) {
        std::fprintf(stderr, "state at id %llu differs from the history: %s\n",
                     static_cast<unsigned long long>(head), difference.c_str());
        return 3;
      }
      return 0;
    });
    const std::optional<int> status = next.WaitFor(milliseconds(60'000));
    ASSERT_TRUE(status.has_value()) << "iteration " << iteration << ": the next applier hung";
    ASSERT_TRUE(ChildProcess::Succeeded(*status))
        << "iteration " << iteration << " (killed at read " << stop_at << ", pages of " << page
        << ", commits of " << per_commit << "): " << ChildProcess::Describe(*status);
  }
  auto cache = Cache::Open(options);
  EXPECT_EQ(cache->AppliedId(), history.batches.back().first);
  EXPECT_EQ(FirstDifference(history.At(history.batches.back().first), ScanAll(*cache)), "");
  cache->Verify();
}

}  // namespace
}  // namespace whycache::testing
