// An append whose outcome is unknown (its fdatasync failed after the frame was written, or its
// process was killed mid-append) is retried with its AppendToken, by the same object or another
// process: the retry returns the first id and the log holds the batch once. The oracle is the
// test's own record of the batches it meant to append.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "lib/log/file_log.h"
#include "tests/support/child_process.h"
#include "tests/support/temp_dir.h"
#include "whycache/cache.h"
#include "whycache/change_log.h"
#include "whycache/error.h"

namespace whycache {
namespace {

using testing::ChildProcess;
using testing::TempDir;

class FileLogRetryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    log::FileLogOptions create;
    create.create_if_missing = true;
    log::FileLog::Open(dir_, create);
  }

  std::unique_ptr<log::FileLog> Open(log::FileLogOptions options = {}) {
    return log::FileLog::Open(dir_, std::move(options));
  }

  // Every batch in the log, read by a fresh reader.
  std::vector<Update> ReadAll() {
    auto reader = Open();
    std::vector<Update> all;
    for (;;) {
      std::vector<Update> got = reader->ReadAfter(all.empty() ? 0 : all.back().id, 1000);
      if (got.empty()) return all;
      all.insert(all.end(), got.begin(), got.end());
    }
  }

  // A child that appends `batch` with `token` and is killed with SIGKILL inside the append, at
  // the hook `at` of its FileLogOptions (it signals through a pipe that it got there).
  void KillChildAppendingAt(std::function<void()> log::FileLogOptions::*at,
                            const std::vector<Mutation>& batch, const AppendToken& token) {
    int ready[2];
    ASSERT_EQ(pipe(ready), 0);
    ChildProcess child([&] {
      close(ready[0]);
      log::FileLogOptions options;
      options.*at = [&] {
        const char byte = 1;
        if (write(ready[1], &byte, 1) != 1) _exit(2);
        for (;;) pause();
      };
      Open(options)->Append(batch, token);
      return 3;  // Not reached: killed in the hook.
    });
    close(ready[1]);
    char byte = 0;
    ASSERT_EQ(read(ready[0], &byte, 1), 1) << "the child ended before the hook";
    close(ready[0]);
    child.Signal(SIGKILL);
    const int status = child.Wait();
    EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)
        << ChildProcess::Describe(status);
  }

  TempDir temp_;
  const std::string dir_ = temp_.path() + "/log";
  const std::vector<Mutation> batch_{Mutation::Set("k", "v1"), Mutation::Delete("gone")};
  const AppendToken token_ = AppendToken::Random();
};

TEST_F(FileLogRetryTest, RetryAfterAFailedSyncReturnsTheFirstId) {
  log::FileLogOptions options;
  bool fail_sync = true;
  options.after_write = [&] {
    if (fail_sync) throw Error(Error::Code::kIOError, "fdatasync failed (injected)");
  };
  auto log = Open(options);
  EXPECT_THROW(log->Append(batch_, token_), Error);
  fail_sync = false;
  const uint64_t id = log->Append(batch_, token_);
  EXPECT_EQ(id, 1u);
  // Another object, as a process restarted by its supervisor would retry.
  EXPECT_EQ(Open()->Append(batch_, token_), id);

  const std::vector<Mutation> next{Mutation::Set("k", "v2")};
  EXPECT_EQ(log->Append(next, AppendToken::Random()), id + 1);
  std::vector<Update> all = ReadAll();
  ASSERT_EQ(all.size(), 2u) << "the retried batch was appended twice";
  EXPECT_EQ(all[0].id, id);
  EXPECT_EQ(all[0].mutations, batch_);
  EXPECT_EQ(all[1].mutations, next);
}

TEST_F(FileLogRetryTest, RetryAfterTheAppenderWasKilledOnceItsFrameWasWritten) {
  KillChildAppendingAt(&log::FileLogOptions::after_write, batch_, token_);
  EXPECT_EQ(Open()->Append(batch_, token_), 1u);
  std::vector<Update> all = ReadAll();
  ASSERT_EQ(all.size(), 1u) << "the retried batch was appended twice";
  EXPECT_EQ(all[0].mutations, batch_);
}

// The child recorded its token for id 1 and died before writing the frame: id 1 goes to the
// next batch, and the token, whose batch is not in the log, appends it anew.
TEST_F(FileLogRetryTest, ATokenWhoseFrameWasNeverWrittenAppendsAnew) {
  KillChildAppendingAt(&log::FileLogOptions::before_commit, batch_, token_);
  auto log = Open();
  const std::vector<Mutation> other{Mutation::Set("other", "x")};
  EXPECT_EQ(log->Append(other), 1u);
  EXPECT_EQ(log->Append(batch_, token_), 2u);
  EXPECT_EQ(Open()->Append(batch_, token_), 2u);
  std::vector<Update> all = ReadAll();
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0].mutations, other);
  EXPECT_EQ(all[1].mutations, batch_);
}

// A machine crash can leave TOKENS longer than what was written to it, the rest zeros.
TEST_F(FileLogRetryTest, ZerosAtTheEndOfTheTokenFileAreDropped) {
  const uint64_t id = Open()->Append(batch_, token_);
  {
    std::ofstream tokens(dir_ + "/TOKENS", std::ios::binary | std::ios::app);
    tokens << std::string(100, '\0');
  }
  auto log = Open();
  const AppendToken other = AppendToken::Random();
  EXPECT_EQ(log->Append(batch_, other), id + 1);
  EXPECT_EQ(log->Append(batch_, token_), id);
  EXPECT_EQ(Open()->Append(batch_, other), id + 1);
  EXPECT_EQ(ReadAll().size(), 2u);
}

TEST_F(FileLogRetryTest, CacheWriteWithATokenAppendsOnce) {
  auto cache = Cache::Open({.state_path = temp_.path() + "/state", .log_uri = "file:" + dir_});
  const uint64_t id = cache->Write(batch_, token_);
  EXPECT_EQ(cache->Write(batch_, token_), id);
  EXPECT_EQ(cache->UpdateNow(), id);
  EXPECT_EQ(cache->Get("k"), "v1");
  EXPECT_EQ(ReadAll().size(), 1u);
}

TEST(AppendTokenTest, IsMadeOfExactlySixteenBytes) {
  const std::string bytes(AppendToken::kBytes, '\x7f');
  EXPECT_EQ(AppendToken::FromBytes(bytes).bytes(), bytes);
  EXPECT_THROW(AppendToken::FromBytes("short"), Error);
  EXPECT_NE(AppendToken::Random(), AppendToken::Random());
}

}  // namespace
}  // namespace whycache
