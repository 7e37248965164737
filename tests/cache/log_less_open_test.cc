// A process that opens a state file without a log (`whycache stats`, `whycache exporter`, a
// monitoring script) only reads it: the poll interval that the machine's polling processes set
// stays theirs.
#include <chrono>
#include <string>
#include <thread>

#include "gtest/gtest.h"
#include "tests/support/temp_dir.h"
#include "whycache/cache.h"
#include "whycache/change_log.h"

namespace whycache::testing {
namespace {

TEST(LogLessOpenTest, KeepsTheMachinesPollInterval) {
  TempDir dir;
  const std::string log_uri = "file:" + dir.File("log");
  OpenChangeLog(log_uri, {.create_if_missing = true});
  CacheOptions options;
  options.state_path = dir.File("machine.state");
  options.log_uri = log_uri;
  options.poll_interval = std::chrono::hours(1);
  auto cache = Cache::Open(options);

  // A reader of the figures, with the default interval of CacheOptions and no log.
  CacheOptions reader;
  reader.state_path = options.state_path;
  ASSERT_LT(reader.poll_interval, std::chrono::milliseconds(100));
  Cache::Open(reader)->Stats();

  cache->Update();  // The first poll is due at once; the next one an interval later.
  const uint64_t polls = cache->Stats().polls;
  ASSERT_EQ(polls, 1u);
  // Longer than the reader's interval; an hour short of the machine's.
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  cache->Update();
  EXPECT_EQ(cache->Stats().polls, polls)
      << "a process without a log changed the machine's poll interval";
}

}  // namespace
}  // namespace whycache::testing
