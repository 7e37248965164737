// A Cache opened before fork() keeps working in every child (pre-fork servers), on both logs:
// children write, poll and read through the parent's Cache object at the same time as the
// parent, and the parent's own connection to the log is left intact.
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "tests/log/log_backends.h"
#include "tests/support/child_process.h"
#include "tests/support/temp_dir.h"
#include "whycache/cache.h"

namespace whycache::testing {
namespace {

constexpr int kChildren = 3;
constexpr int kWritesPerProcess = 40;

class CacheForkTest : public ::testing::TestWithParam<ChangeLogBackend> {};

std::string Key(int process, int i) {
  return "p" + std::to_string(process) + ":" + std::to_string(i);
}

TEST_P(CacheForkTest, ACacheOpenedBeforeForkWorksInEveryChildAndInTheParent) {
  TempDir dir;
  std::unique_ptr<FreshLog> fresh = GetParam().create();
  CacheOptions options;
  options.state_path = dir.File("machine.state");
  options.log_uri = fresh->uri();
  std::unique_ptr<Cache> cache = Cache::Open(options);
  // The parent uses its log before forking, so the children inherit an open connection.
  cache->WaitFor(cache->Set("before-fork", "1"), std::chrono::seconds(30));

  std::vector<ChildProcess> children;
  for (int c = 1; c <= kChildren; ++c) {
    children.emplace_back([&cache, c] {
      for (int i = 0; i < kWritesPerProcess; ++i) {
        const uint64_t id = cache->Set(Key(c, i), std::to_string(i));
        if (!cache->WaitFor(id, std::chrono::seconds(30))) return 3;
        ReadTransaction txn = cache->BeginRead();
        if (txn.Get(Key(c, i)) != std::to_string(i)) return 4;
      }
      return 0;
    });
  }
  for (int i = 0; i < kWritesPerProcess; ++i) {
    const uint64_t id = cache->Set(Key(0, i), std::to_string(i));
    ASSERT_TRUE(cache->WaitFor(id, std::chrono::seconds(30))) << "update " << id;
  }
  for (ChildProcess& child : children) {
    const int status = child.Wait();
    EXPECT_TRUE(ChildProcess::Succeeded(status)) << ChildProcess::Describe(status);
  }
  // The children have exited (destroying their copies of the Cache); the parent's connection
  // must still serve it.
  const uint64_t last = cache->Set("after-children", "1");
  ASSERT_TRUE(cache->WaitFor(last, std::chrono::seconds(30)));
  ReadTransaction txn = cache->BeginRead();
  for (int p = 0; p <= kChildren; ++p) {
    for (int i = 0; i < kWritesPerProcess; ++i) {
      EXPECT_EQ(txn.Get(Key(p, i)), std::to_string(i)) << Key(p, i);
    }
  }
  EXPECT_EQ(txn.key_count(), 2u + (kChildren + 1) * kWritesPerProcess);
}

INSTANTIATE_TEST_SUITE_P(Logs, CacheForkTest,
                         ::testing::Values(FileLogBackend(), MysqlLogBackend()), BackendName);

}  // namespace
}  // namespace whycache::testing
