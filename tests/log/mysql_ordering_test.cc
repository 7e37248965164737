// The AUTO_INCREMENT trap, shown and avoided. Writer processes append concurrently, sleeping
// inside their transactions, while a tailer process follows the log with `update_id > last`.
//
// Why a naive log loses batches: with ids handed out the AUTO_INCREMENT way (taken at once,
// made visible at COMMIT), writer A takes id 7 and is still inside its transaction when writer
// B takes id 8 and commits. The tailer reads 8, moves its cursor to 8, and never asks for 7
// again, although 7 commits a moment later. This log's writers instead take their id under the
// meta-row lock and hold it until COMMIT, so id 8 cannot be taken before 7 is visible.
#include <iostream>
#include <map>
#include <random>
#include <set>
#include <string>
#include <thread>

#include "gtest/gtest.h"
#include "lib/log/mysql/mysql_change_log.h"
#include "tests/log/mysql_test_util.h"

namespace whycache::mysql_log {
namespace {

using testing::FreshTablePrefix;
using testing::LogUri;
using testing::RunWritersAndTailer;
using testing::WritersAndTailerResult;
using testing::WritersAndTailerRun;

// Up to 2 ms inside each transaction, so that concurrent transactions overlap.
void RandomDelay() {
  static thread_local std::mt19937 random(std::random_device{}());
  std::this_thread::sleep_for(std::chrono::microseconds(random() % 2000));
}

WritersAndTailerResult RunConcurrently(bool auto_increment_ids, int batches_per_writer) {
  std::string uri = LogUri(FreshTablePrefix());
  LogOptions create;
  create.create_if_missing = true;
  OpenMysqlChangeLog(uri, create);
  WritersAndTailerRun run;
  run.writers = 4;
  run.batches_per_writer = batches_per_writer;
  run.writer_options.before_commit = RandomDelay;
  run.writer_options.auto_increment_ids_for_test = auto_increment_ids;
  run.tail_deadline = std::chrono::seconds(20);
  return RunWritersAndTailer(uri, run);
}

// How many committed batches the tailer never read; fails the test if it read anything twice,
// out of order, or that was never committed.
size_t MissedBatches(const WritersAndTailerResult& result) {
  EXPECT_TRUE(result.child_failures.empty()) << ::testing::PrintToString(result.child_failures);
  EXPECT_TRUE(result.uncertain.empty());
  std::map<uint64_t, std::string> committed(result.committed.begin(), result.committed.end());
  EXPECT_EQ(committed.size(), result.committed.size()) << "two appends got the same id";
  std::set<uint64_t> seen;
  uint64_t last = 0;
  for (const auto& [id, key] : result.tailed) {
    EXPECT_GT(id, last) << "out of order";
    last = id;
    EXPECT_TRUE(seen.insert(id).second) << "read twice: " << id;
    auto it = committed.find(id);
    if (it == committed.end()) {
      ADD_FAILURE() << "read an id no writer committed: " << id;
    } else {
      EXPECT_EQ(it->second, key) << "id " << id;
    }
  }
  size_t missed = 0;
  for (const auto& [id, key] : committed) missed += seen.count(id) == 0 ? 1 : 0;
  return missed;
}

TEST(MysqlOrderingTest, TailerOfTheLockedLogSeesEveryBatchOnceInOrder) {
  WritersAndTailerResult result = RunConcurrently(/*auto_increment_ids=*/false, 400);
  EXPECT_EQ(result.committed.size(), 1600u);
  EXPECT_EQ(MissedBatches(result), 0u);
  EXPECT_EQ(result.tailed.size(), 1600u);
}

// The same run with AUTO_INCREMENT-style ids must lose batches; if it did not, the test above
// would prove nothing.
TEST(MysqlOrderingTest, NaiveTailerOverAutoIncrementIdsMissesBatches) {
  WritersAndTailerResult result = RunConcurrently(/*auto_increment_ids=*/true, 400);
  EXPECT_EQ(result.committed.size(), 1600u);
  size_t missed = MissedBatches(result);
  EXPECT_GT(missed, 0u) << "the naive tailer saw everything: the trap did not spring";
  std::cout << "naive tailer missed " << missed << " of " << result.committed.size()
            << " committed batches\n";
}

}  // namespace
}  // namespace whycache::mysql_log
