// Cache::Open while MariaDB is killed and restarted: a machine whose state file is intact opens
// and serves it whenever the server goes down, including between connecting and reading the
// log's dataset id. Found by the chaos run, where a respawned applier died of Open throwing
// "cannot reach MySQL" just after the server was killed.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <functional>
#include <random>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "tests/log/log_backends.h"
#include "tests/support/child_process.h"
#include "tests/support/temp_dir.h"
#include "tests/support/test_mariadb.h"
#include "whycache/cache.h"

namespace whycache::testing {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

TEST(MysqlOpenOutageTest, OpenServesAnIntactStateWhateverMomentTheServerDies) {
  std::unique_ptr<FreshLog> fresh = MysqlLogBackend().create();
  TestMariaDb& server = TestMariaDb::Shared();
  ASSERT_TRUE(server.owned()) << "this test kills MariaDB, so it starts its own: unset MDB_HOST";
  TempDir dir;
  CacheOptions options;
  options.state_path = dir.File("machine.state");
  options.log_uri = fresh->uri();
  {
    auto cache = Cache::Open(options);
    cache->Set("key", "value");
    cache->UpdateNow();
  }
  // The openers run until the test kills them after the last outage, however long the server
  // takes to restart; the bound only keeps one from outliving a test that died.
  const pid_t test = getpid();
  const auto end = Clock::now() + std::chrono::minutes(10);
  std::vector<ChildProcess> openers;
  for (int i = 0; i < 3; ++i) {
    openers.emplace_back(std::function<int()>([&] {
      for (int opens = 0; getppid() == test && Clock::now() < end && opens < 1'000'000; ++opens) {
        if (Cache::Open(options)->Get("key") != "value") return 1;
      }
      return 0;
    }));
  }
  std::mt19937_64 rng(std::random_device{}());
  for (int outage = 0; outage < 6; ++outage) {
    std::this_thread::sleep_for(milliseconds(300 + rng() % 700));
    server.Kill();
    std::this_thread::sleep_for(milliseconds(rng() % 500));
    server.Start();
  }
  for (ChildProcess& opener : openers) {
    opener.Signal(SIGKILL);
    const int status = opener.Wait();
    // Killed while still opening: none gave up. An exit means Open threw or read wrong.
    EXPECT_FALSE(WIFEXITED(status)) << ChildProcess::Describe(status);
  }
}

}  // namespace
}  // namespace whycache::testing
