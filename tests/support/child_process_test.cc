#include "tests/support/child_process.h"

#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <stdexcept>
#include <thread>

#include "gtest/gtest.h"
#include "tests/support/temp_dir.h"

namespace whycache::testing {
namespace {

TEST(ChildProcessTest, ReportsExitStatus) {
  ChildProcess ok([] { return 0; });
  ChildProcess three([] { return 3; });
  EXPECT_TRUE(ChildProcess::Succeeded(ok.Wait()));
  int status = three.Wait();
  EXPECT_FALSE(ChildProcess::Succeeded(status));
  EXPECT_EQ(ChildProcess::Describe(status), "exited with 3");
}

TEST(ChildProcessTest, UncaughtExceptionBecomesItsOwnStatus) {
  ChildProcess child([]() -> int { throw std::runtime_error("boom"); });
  EXPECT_EQ(ChildProcess::Describe(child.Wait()),
            "exited with " + std::to_string(ChildProcess::kUncaughtException));
}

TEST(ChildProcessTest, KillIsReported) {
  ChildProcess child([] {
    for (int i = 0; i < 600; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(100));
    return 0;
  });
  EXPECT_FALSE(child.WaitFor(std::chrono::milliseconds(20)).has_value());
  child.Signal(SIGKILL);
  int status = child.Wait();
  EXPECT_FALSE(ChildProcess::Succeeded(status));
  EXPECT_NE(ChildProcess::Describe(status).find("killed by signal 9"), std::string::npos);
}

TEST(ChildProcessTest, DestructorReapsARunningChild) {
  pid_t pid;
  {
    ChildProcess child([] {
      pause();
      return 0;
    });
    pid = child.pid();
  }
  // Reaped: the pid no longer names a child of ours.
  EXPECT_EQ(waitpid(pid, nullptr, WNOHANG), -1);
}

TEST(TempDirTest, IsCreatedAndRemoved) {
  std::string path;
  {
    TempDir dir;
    path = dir.path();
    EXPECT_EQ(access(path.c_str(), W_OK), 0);
    EXPECT_EQ(dir.File("x"), path + "/x");
  }
  EXPECT_NE(access(path.c_str(), F_OK), 0);
}

}  // namespace
}  // namespace whycache::testing
