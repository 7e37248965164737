// MariaDB stopped for a few seconds under load: readers keep reading the last applied state,
// update() reports the error and the lag without throwing, and once the server is back the
// machine catches up with nothing lost or applied twice.
#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <random>
#include <set>
#include <string>
#include <thread>

#include "gtest/gtest.h"
#include "tests/cache/cache_test_util.h"
#include "tests/log/log_backends.h"
#include "tests/support/child_process.h"
#include "tests/support/temp_dir.h"
#include "tests/support/test_mariadb.h"
#include "whycache/cache.h"
#include "whycache/error.h"

namespace whycache::testing {
namespace {

using std::chrono::milliseconds;
using Clock = std::chrono::steady_clock;

uint64_t CountLines(const std::string& path) {
  std::ifstream in(path);
  uint64_t lines = 0;
  for (std::string line; std::getline(in, line);) ++lines;
  return lines;
}

TEST(LogOutageTest, MachineServesThroughADatabaseOutageAndCatchesUp) {
  TempDir dir;
  std::unique_ptr<FreshLog> fresh = MysqlLogBackend().create();
  TestMariaDb& server = TestMariaDb::Shared();
  if (!server.owned()) GTEST_SKIP() << "stops the server, so it needs one of its own, not MDB_*";
  const int port = server.settings().port;
  CacheOptions options;
  options.state_path = dir.File("machine.state");
  options.log_uri = fresh->uri();
  options.poll_interval = milliseconds(20);
  const std::string stop_file = dir.File("stop");
  const std::string ids_file = dir.File("ids");
  {
    auto cache = Cache::Open(options);
    for (int i = 0; i < 50; ++i) cache->Set("key:" + std::to_string(i), "before");
    cache->UpdateNow();
  }

  // A writer that keeps writing, retrying what the outage refuses; it records the ids it got.
  ChildProcess writer([&] {
    auto cache = Cache::Open(options);
    std::ofstream ids(ids_file);
    std::mt19937_64 rng(5);
    for (int i = 0; !std::filesystem::exists(stop_file) && i < 100'000; ++i) {
      const std::vector<Mutation> batch = RandomBatch(rng);
      try {
        ids << cache->Write(batch) << "\n" << std::flush;
      } catch (const Error& e) {
        if (e.code() != Error::Code::kUnavailable) throw;
        std::this_thread::sleep_for(milliseconds(100));
      }
      std::this_thread::sleep_for(milliseconds(5));
    }
    return 0;
  });
  // Readers that call Update() before each request and must never fail to read.
  std::vector<ChildProcess> readers;
  for (int r = 0; r < 2; ++r) {
    readers.emplace_back([&] {
      auto cache = Cache::Open(options);
      uint64_t reads = 0, misses = 0;
      while (!std::filesystem::exists(stop_file)) {
        cache->Update();
        ReadTransaction txn = cache->BeginRead();
        for (int i = 0; i < 50; ++i) misses += !txn.Get("key:" + std::to_string(i)).has_value();
        reads += 50;
      }
      return reads > 0 && misses == 0 ? 0 : 1;
    });
  }

  auto cache = Cache::Open(options);
  std::this_thread::sleep_for(milliseconds(500));
  server.Stop();
  const auto down_since = Clock::now();
  // While it is down: update() returns, reports the error, and the lag grows.
  CacheStats during;
  while (Clock::now() - down_since < std::chrono::seconds(3)) {
    cache->Update();
    during = cache->Stats();
    std::this_thread::sleep_for(milliseconds(20));
  }
  EXPECT_FALSE(during.last_error.empty());
  EXPECT_NE(during.last_error.find("127.0.0.1"), std::string::npos) << during.last_error;
  EXPECT_GT(during.poll_errors, 0u);
  EXPECT_GT(during.lag_us, 1'000'000) << "the lag should cover the outage";
  EXPECT_EQ(cache->Get("key:0"), "before");

  server.Start();
  ASSERT_EQ(server.settings().port, port) << "the server came back on another port";
  // Stop once the writer has written on both sides of the outage. Counted rather than timed: a
  // loaded machine writes slowly, and a fixed wait would leave the check below to chance.
  const uint64_t returned_at_restart = CountLines(ids_file);
  const auto restarted = Clock::now();
  while (CountLines(ids_file) < std::max<uint64_t>(100, returned_at_restart + 20) &&
         Clock::now() - restarted < std::chrono::seconds(60)) {
    std::this_thread::sleep_for(milliseconds(50));
  }
  std::ofstream(stop_file).put('x');
  const int writer_status = writer.Wait();
  ASSERT_TRUE(ChildProcess::Succeeded(writer_status)) << ChildProcess::Describe(writer_status);
  for (ChildProcess& r : readers) {
    const int status = r.Wait();
    EXPECT_TRUE(ChildProcess::Succeeded(status)) << "reader " << ChildProcess::Describe(status);
  }

  auto log = fresh->Open({});
  const uint64_t head = log->HeadId();
  ASSERT_TRUE(cache->WaitFor(head, milliseconds(30'000)));
  EXPECT_EQ(cache->AppliedId(), head);
  EXPECT_EQ(FirstDifference(ReplayLog(*log), ScanAll(*cache)), "");
  EXPECT_TRUE(cache->Stats().last_error.empty());
  // Every id a write returned is in the log, once.
  std::set<uint64_t> logged;
  for (uint64_t after = 0;;) {
    std::vector<Update> page = log->ReadAfter(after, 1000);
    if (page.empty()) break;
    for (const Update& u : page) EXPECT_TRUE(logged.insert(u.id).second);
    after = page.back().id;
  }
  std::ifstream ids(ids_file);
  uint64_t returned = 0;
  for (uint64_t id; ids >> id; ++returned) EXPECT_TRUE(logged.count(id)) << "lost update " << id;
  EXPECT_GE(returned, 100u);
  EXPECT_GE(returned, returned_at_restart + 20) << "the writer wrote nothing after the restart";
}

}  // namespace
}  // namespace whycache::testing
