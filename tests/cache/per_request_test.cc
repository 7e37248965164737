// The per-request pattern under load: many processes on one machine call Update() and read
// before each "request" while a writer writes. Readers must only ever see whole batches, views
// must not change under a read transaction, and the machine must poll the log at most once per
// interval however many processes call Update().
//
// Every reader sees the first generation before the writer writes the second (each tells the
// test through a pipe), and reads until it has seen a generation the writer reaches later, so
// each one sees the state change under it whatever the scheduler does.
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <thread>

#include "gtest/gtest.h"
#include "tests/log/log_backends.h"
#include "tests/support/child_process.h"
#include "tests/support/pipe_signal.h"
#include "tests/support/temp_dir.h"
#include "whycache/cache.h"

namespace whycache::testing {
namespace {

using std::chrono::milliseconds;
using std::chrono::steady_clock;

constexpr int kGroupKeys = 10;
constexpr int kReaderProcesses = 8;
constexpr uint64_t kLastGeneration = 300;
constexpr auto kPollInterval = milliseconds(25);
// Bounds every wait; reaching it is a failure, never the normal end of a run.
constexpr auto kGiveUp = std::chrono::seconds(120);

std::string GroupKey(int i) { return "group:" + std::to_string(i); }

class PerRequestTest : public ::testing::TestWithParam<ChangeLogBackend> {};

TEST_P(PerRequestTest, ManyProcessesSeeWholeBatchesAndPollWithinTheBudget) {
  TempDir dir;
  std::unique_ptr<FreshLog> fresh = GetParam().create();
  CacheOptions options;
  options.state_path = dir.File("machine.state");
  options.log_uri = fresh->uri();
  options.poll_interval = kPollInterval;
  const std::string stop_file = dir.File("stop");
  Cache::Open(options);  // Creates the state file before the processes race to open it.

  int ready[2];  // Each reader writes a byte once it has seen generation 1.
  int go[2];     // The test writes a byte once every reader has.
  ASSERT_EQ(::pipe(ready), 0);
  ASSERT_EQ(::pipe(go), 0);
  const auto started = steady_clock::now();
  ChildProcess writer([&] {
    auto cache = Cache::Open(options);
    for (uint64_t generation = 1; !std::filesystem::exists(stop_file); ++generation) {
      std::vector<std::pair<std::string, std::string>> group;
      for (int i = 0; i < kGroupKeys; ++i) {
        group.emplace_back(GroupKey(i), std::to_string(generation));
      }
      cache->SetMulti(group);
      if (generation == 1 && !ReadByte(go[0], kGiveUp)) return 7;
      std::this_thread::sleep_for(milliseconds(5));
      if (generation > 100'000) return 1;
    }
    return 0;
  });

  std::vector<ChildProcess> readers;
  for (int r = 0; r < kReaderProcesses; ++r) {
    readers.emplace_back([&] {
      auto cache = Cache::Open(options);
      uint64_t requests = 0, generations_seen = 0, last_generation = 0;
      while (last_generation < kLastGeneration) {
        if (steady_clock::now() - started > kGiveUp) {
          std::fprintf(stderr, "stuck at generation %llu\n",
                       static_cast<unsigned long long>(last_generation));
          return 8;
        }
        cache->Update();
        ReadTransaction txn = cache->BeginRead();
        std::optional<std::string_view> first = txn.Get(GroupKey(0));
        for (int i = 1; i < kGroupKeys; ++i) {
          if (txn.Get(GroupKey(i)) != first) {
            std::fprintf(stderr, "mixed batch: key %d differs from key 0\n", i);
            return 2;
          }
        }
        if (first) {
          const std::string copy(*first);
          std::this_thread::sleep_for(std::chrono::microseconds(50));
          if (*first != copy || txn.Get(GroupKey(0)) != first) {
            std::fprintf(stderr, "a view changed inside its read transaction\n");
            return 3;
          }
          const uint64_t generation = std::stoull(copy);
          if (generation < last_generation) {
            std::fprintf(stderr, "went back from generation %llu to %llu\n",
                         static_cast<unsigned long long>(last_generation),
                         static_cast<unsigned long long>(generation));
            return 4;
          }
          if (generation > last_generation) ++generations_seen;
          if (last_generation == 0 && !WriteByte(ready[1])) return 9;
          last_generation = generation;
        }
        ++requests;
      }
      const CacheStats s = cache->Stats();
      if (!s.last_error.empty()) {
        std::fprintf(stderr, "update error: %s\n", s.last_error.c_str());
        return 5;
      }
      // Generation 1 and one of at least kLastGeneration, by the handshake.
      return requests > 0 && generations_seen >= 2 ? 0 : 6;
    });
  }
  int ready_readers = 0;
  while (ready_readers < kReaderProcesses && ReadByte(ready[0], kGiveUp)) ++ready_readers;
  ASSERT_EQ(ready_readers, kReaderProcesses) << "readers never saw the first generation";
  ASSERT_TRUE(WriteByte(go[1]));
  for (int fd : {ready[0], ready[1], go[0], go[1]}) ::close(fd);
  for (ChildProcess& r : readers) {
    const int status = r.Wait();
    EXPECT_TRUE(ChildProcess::Succeeded(status)) << "reader " << ChildProcess::Describe(status);
  }
  const auto elapsed = steady_clock::now() - started;
  // Read the poll count before anything below polls.
  const CacheStats stats = Cache::Open(options)->Stats();
  std::ofstream(stop_file).put('x');
  const int status = writer.Wait();
  EXPECT_TRUE(ChildProcess::Succeeded(status)) << "writer " << ChildProcess::Describe(status);

  const uint64_t budget = static_cast<uint64_t>(elapsed / kPollInterval) + 3;
  EXPECT_LE(stats.polls, budget) << "the machine polled more than once per interval";
  EXPECT_GE(stats.batches_applied, kLastGeneration);
  EXPECT_EQ(stats.poll_errors, 0u);
  std::printf("%s: %llu polls in %.2f s at %lld ms intervals (budget %llu), %llu batches\n",
              GetParam().name.c_str(), static_cast<unsigned long long>(stats.polls),
              std::chrono::duration<double>(elapsed).count(),
              static_cast<long long>(kPollInterval.count()),
              static_cast<unsigned long long>(budget),
              static_cast<unsigned long long>(stats.batches_applied));
}

INSTANTIATE_TEST_SUITE_P(Logs, PerRequestTest,
                         ::testing::Values(FileLogBackend(), MysqlLogBackend()), BackendName);

}  // namespace
}  // namespace whycache::testing
