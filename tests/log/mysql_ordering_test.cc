// The AUTO_INCREMENT trap, shown and avoided. Writer processes append concurrently, sleeping
// inside their transactions, while a tailer process follows the log with `update_id > last`.
//
// Why a naive log loses batches: with ids handed out the AUTO_INCREMENT way (taken at once,
// made visible at COMMIT), writer A takes id 7 and is still inside its transaction when writer
// B takes id 8 and commits. The tailer reads 8, moves its cursor to 8, and never asks for 7
// again, although 7 commits a moment later. This log's writers instead take their id under the
// meta-row lock and hold it until COMMIT, so id 8 cannot be taken before 7 is visible.
//
// The trap is shown by driving that interleaving: a writer process tells the test through a
// pipe that it is inside its transaction and waits there while the test appends and tails.
#include <unistd.h>

#include <iostream>
#include <map>
#include <random>
#include <set>
#include <string>
#include <thread>

#include "gtest/gtest.h"
#include "lib/log/mysql/mysql_change_log.h"
#include "tests/log/mysql_test_util.h"
#include "tests/support/child_process.h"
#include "tests/support/pipe_signal.h"

namespace whycache::mysql_log {
namespace {

using testing::FreshTablePrefix;
using testing::LogUri;
using testing::RunWritersAndTailer;
using testing::WritersAndTailerResult;
using testing::WritersAndTailerRun;
using whycache::testing::ChildProcess;
using whycache::testing::ReadByte;
using whycache::testing::WriteByte;

// Up to 2 ms inside each transaction, so that concurrent transactions overlap.
void RandomDelay() {
  static thread_local std::mt19937 random(std::random_device{}());
  std::this_thread::sleep_for(std::chrono::microseconds(random() % 2000));
}

WritersAndTailerResult RunConcurrently(int batches_per_writer) {
  std::string uri = LogUri(FreshTablePrefix());
  LogOptions create;
  create.create_if_missing = true;
  OpenMysqlChangeLog(uri, create);
  WritersAndTailerRun run;
  run.writers = 4;
  run.batches_per_writer = batches_per_writer;
  run.writer_options.before_commit = RandomDelay;
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
  WritersAndTailerResult result = RunConcurrently(400);
  EXPECT_EQ(result.committed.size(), 1600u);
  EXPECT_EQ(MissedBatches(result), 0u);
  EXPECT_EQ(result.tailed.size(), 1600u);
}

// With AUTO_INCREMENT-style ids the tailer must lose the batch that commits after a later id;
// if it did not, the test above would prove nothing.
TEST(MysqlOrderingTest, NaiveTailerOverAutoIncrementIdsMissesABatchCommittedLate) {
  const std::string uri = LogUri(FreshTablePrefix());
  LogOptions create;
  create.create_if_missing = true;
  OpenMysqlChangeLog(uri, create);
  MysqlLogOptions naive;
  naive.auto_increment_ids_for_test = true;
  int inside[2];  // The early writer writes a byte once it has its id, before COMMIT.
  int commit[2];  // The test writes a byte when the early writer may commit.
  ASSERT_EQ(::pipe(inside), 0);
  ASSERT_EQ(::pipe(commit), 0);
  ChildProcess early([&] {
    MysqlLogOptions options = naive;
    options.before_commit = [&] {
      if (!WriteByte(inside[1]) || !ReadByte(commit[0], std::chrono::seconds(60))) ::_exit(3);
    };
    OpenMysqlChangeLog(uri, {}, options)->Append(std::vector{Mutation::Set("early", "")});
    return 0;
  });
  ASSERT_TRUE(ReadByte(inside[0], std::chrono::seconds(60))) << "the early writer never began";
  const uint64_t late_id =
      OpenMysqlChangeLog(uri, {}, naive)->Append(std::vector{Mutation::Set("late", "")});

  std::unique_ptr<ChangeLog> tailer = OpenMysqlChangeLog(uri, {});
  const std::vector<Update> first = tailer->ReadAfter(0, 100);
  ASSERT_EQ(first.size(), 1u);
  EXPECT_EQ(first[0].id, late_id);
  ASSERT_TRUE(WriteByte(commit[1]));
  const int status = early.Wait();
  ASSERT_TRUE(ChildProcess::Succeeded(status)) << ChildProcess::Describe(status);
  for (int fd : {inside[0], inside[1], commit[0], commit[1]}) ::close(fd);

  // The early batch is committed, under an id below the tailer's cursor: it never reads it.
  EXPECT_TRUE(tailer->ReadAfter(late_id, 100).empty());
  const std::vector<Update> all = OpenMysqlChangeLog(uri, {})->ReadAfter(0, 100);
  ASSERT_EQ(all.size(), 2u);
  EXPECT_LT(all[0].id, late_id);
  EXPECT_EQ(all[0].mutations.at(0).key, "early");
}

}  // namespace
}  // namespace whycache::mysql_log
