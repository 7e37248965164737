// The crash-point facility the simulation injects its faults with (lib/io/crash_point.h), in
// real child processes.
#include "lib/io/crash_point.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <functional>
#include <string>
#include <utility>

#include "gtest/gtest.h"
#include "tests/support/child_process.h"

namespace whycache::io {
namespace {

using whycache::testing::ChildProcess;

// Set in the environment of the child program that TheEnvironmentArmsAProgramFromItsStart runs.
constexpr char kChildVariable[] = "WHYCACHE_CRASH_POINT_TEST_CHILD";

// Runs `body` in a child and returns its wait status and what it reported on the pipe.
std::pair<int, std::string> RunChild(const std::function<int(int report_fd)>& body) {
  int fds[2];
  EXPECT_EQ(pipe2(fds, O_CLOEXEC), 0);
  ChildProcess child([&] {
    close(fds[0]);
    return body(fds[1]);
  });
  close(fds[1]);
  const int status = child.Wait();
  std::string report;
  char buffer[64];
  for (ssize_t n; (n = read(fds[0], buffer, sizeof(buffer))) > 0;) report.append(buffer, n);
  close(fds[0]);
  return {status, report};
}

bool KilledBySigkill(int status) { return WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL; }

TEST(CrashPoint, UnarmedPointsDoNothing) {
  const auto [status, report] = RunChild([](int) {
    CrashPoint("test.a");
    return 7;
  });
  EXPECT_EQ(ChildProcess::Describe(status), "exited with 7");
  EXPECT_EQ(report, "");
}

TEST(CrashPoint, TheArmedPointKillsOnItsNthReachAndSaysWhich) {
  const auto [status, report] = RunChild([](int report_fd) {
    ArmCrashPoint("test.b", 3, report_fd);
    CrashPoint("test.a");  // Another point: neither fires nor counts.
    CrashPoint("test.b");
    CrashPoint("test.a");
    CrashPoint("test.b");
    if (write(report_fd, "alive\n", 6) != 6) return 2;
    CrashPoint("test.b");
    return 0;
  });
  EXPECT_TRUE(KilledBySigkill(status)) << ChildProcess::Describe(status);
  EXPECT_EQ(report, "alive\ntest.b\n");
}

TEST(CrashPoint, DisarmingAndRearmingRestartTheCount) {
  const auto [status, report] = RunChild([](int report_fd) {
    ArmCrashPoint("test.c", 2, report_fd);
    CrashPoint("test.c");
    DisarmCrashPoints();
    CrashPoint("test.c");
    ArmCrashPoint("test.c", 2, report_fd);
    CrashPoint("test.c");
    if (write(report_fd, "alive\n", 6) != 6) return 2;
    CrashPoint("test.c");
    return 0;
  });
  EXPECT_TRUE(KilledBySigkill(status)) << ChildProcess::Describe(status);
  EXPECT_EQ(report, "alive\ntest.c\n");
}

TEST(CrashPoint, SpecsAreNameOrNameColonCount) {
  const auto [status, report] = RunChild([](int) {
    if (ArmCrashPointFromSpec("") || ArmCrashPointFromSpec(":2") ||
        ArmCrashPointFromSpec("test.d:0") || ArmCrashPointFromSpec("test.d:x") ||
        ArmCrashPointFromSpec("test.d:2x")) {
      return 3;
    }
    CrashPoint("test.d");  // Nothing was armed by the malformed specs.
    if (!ArmCrashPointFromSpec("test.d:2")) return 4;
    CrashPoint("test.d");
    CrashPoint("test.d");
    return 0;
  });
  EXPECT_TRUE(KilledBySigkill(status)) << ChildProcess::Describe(status);
}

TEST(CrashPoint, TheEnvironmentArmsAProgramFromItsStart) {
  // A fresh program, this test binary itself, which main() turns into the child below.
  const auto [status, report] = RunChild([](int) {
    setenv("WHYCACHE_CRASH_AT", "test.env:1", 1);
    setenv(kChildVariable, "1", 1);
    const char* argv[] = {"/proc/self/exe", nullptr};
    execv(argv[0], const_cast<char* const*>(argv));
    return 5;
  });
  EXPECT_TRUE(KilledBySigkill(status)) << ChildProcess::Describe(status);
}

}  // namespace
}  // namespace whycache::io

int main(int argc, char** argv) {
  // The child of TheEnvironmentArmsAProgramFromItsStart, started with WHYCACHE_CRASH_AT set:
  // the point must kill it; exit code 6 tells the parent it did not.
  if (getenv(whycache::io::kChildVariable) != nullptr) {
    whycache::io::CrashPoint("test.env");
    return 6;
  }
  ::testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
