// A snapshot writer killed part way (a crash, kill -9, the OOM killer) leaves its temporary file,
// as large as the snapshot, next to the snapshot: the next writer of that snapshot removes it,
// so that repeated crashes cannot fill the disk.
#include <signal.h>
#include <sys/wait.h>

#include <filesystem>
#include <memory>
#include <set>
#include <string>

#include "gtest/gtest.h"
#include "lib/io/crash_point.h"
#include "tests/log/log_backends.h"
#include "tests/support/child_process.h"
#include "tests/support/temp_dir.h"
#include "whycache/cache.h"

namespace whycache::testing {
namespace {

// The names in `dir` that begin with `prefix`.
std::set<std::string> FilesNamed(const std::string& dir, const std::string& prefix) {
  std::set<std::string> names;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    const std::string name = entry.path().filename().string();
    if (name.starts_with(prefix)) names.insert(name);
  }
  return names;
}

TEST(SnapshotCrashTest, TheNextSnapshotRemovesWhatKilledWritersLeft) {
  TempDir dir;
  std::unique_ptr<FreshLog> log = FileLogBackend().create();
  CacheOptions options;
  options.state_path = dir.File("m.state");
  options.log_uri = log->uri();
  auto cache = Cache::Open(options);
  cache->Set("k", std::string(100'000, 'v'));
  cache->UpdateNow();
  const std::string path = dir.File("s.snapshot");

  for (const char* point : {"snapshot.before_sync", "snapshot.before_rename"}) {
    ChildProcess child([&] {
      io::ArmCrashPoint(point);
      Cache::Open(options)->CreateSnapshot(path);
      return 0;
    });
    const int status = child.Wait();
    ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)
        << point << ": " << ChildProcess::Describe(status);
  }
  ASSERT_FALSE(FilesNamed(dir.path(), "s.snapshot.tmp-").empty()) << "a killed writer left a file";

  cache->CreateSnapshot(path);
  EXPECT_EQ(FilesNamed(dir.path(), "s.snapshot"), std::set<std::string>{"s.snapshot"});
  EXPECT_EQ(cache->RestoreSnapshot(path).applied_id, 1u);
  EXPECT_EQ(cache->Get("k"), std::string(100'000, 'v'));
}

}  // namespace
}  // namespace whycache::testing
