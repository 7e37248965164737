// The chaos run (chaos_harness.h) against a MySQL log, with the test's MariaDB killed with
// SIGKILL and restarted on its data twice while the run goes on.
#include <cstdio>
#include <random>
#include <string>

#include "gtest/gtest.h"
#include "tests/chaos/chaos_harness.h"
#include "tests/log/log_backends.h"
#include "tests/support/test_mariadb.h"

namespace whycache::testing {
namespace {

using std::chrono::milliseconds;

TEST(MysqlChaosTest, ReadsNeverBreakAndNoWriteIsLost) {
  std::unique_ptr<FreshLog> fresh = MysqlLogBackend().create();
  TestMariaDb& server = TestMariaDb::Shared();
  ASSERT_TRUE(server.owned()) << "this test kills MariaDB, so it starts its own: unset MDB_HOST";
  const int port = server.settings().port;
  int restarts = 0;
  auto crash = [&] { server.Kill(); };
  auto restart = [&] {
    server.Start();
    ++restarts;
  };
  ChaosOptions options;
  options.log = fresh.get();
  options.duration = ChaosDuration(milliseconds(45'000));
  options.seed = std::random_device()();
  options.disruptions = {
      {.name = "MariaDB down", .start = 0.25, .end = 0.35, .begin = crash, .finish = restart},
      {.name = "MariaDB down again", .start = 0.60, .end = 0.66, .begin = crash, .finish = restart},
  };
  std::printf("seed %llu, %lld ms\n", static_cast<unsigned long long>(options.seed),
              static_cast<long long>(options.duration.count()));

  const ChaosReport report = RunChaos(options);
  std::printf("%sMariaDB killed and restarted %d times\n",
              report.Summary(options.disruptions).c_str(), restarts);
  EXPECT_EQ(server.settings().port, port) << "the server came back on another port";
  EXPECT_EQ(restarts, 2);
  ExpectNothingBrokeOrLost(report);
  EXPECT_GT(report.writes_returned[0], 0u);
  EXPECT_GT(report.writes_refused[1], 0u) << "no write noticed the server was down";
}

}  // namespace
}  // namespace whycache::testing
