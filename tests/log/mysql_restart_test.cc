// Lost connections and server restarts while writers and a tailer run: the clients reconnect
// by themselves and no batch is lost or appended twice.
#include <cppconn/resultset.h>
#include <cppconn/statement.h>

#include <map>
#include <random>
#include <set>
#include <string>
#include <thread>

#include "gtest/gtest.h"
#include "lib/log/mysql/mysql_change_log.h"
#include "tests/log/mysql_test_util.h"
#include "tests/support/test_mariadb.h"

namespace whycache::mysql_log {
namespace {

using testing::CreateFreshLog;
using testing::FreshTablePrefix;
using testing::KillOtherConnections;
using testing::LogUri;
using testing::RawConnection;
using testing::RunWritersAndTailer;
using testing::Server;
using testing::WritersAndTailerResult;
using testing::WritersAndTailerRun;
using whycache::testing::TestMariaDb;

// The connection dies right before COMMIT: the append reconnects, finds its batch was not
// committed, and commits it once.
TEST(MysqlRestartTest, AppendSurvivesAConnectionKilledInsideItsTransaction) {
  auto raw = RawConnection();
  int kills = 0;
  MysqlLogOptions options;
  options.before_commit = [&] {
    if (kills++ == 0) KillOtherConnections(*raw);
  };
  auto log = CreateFreshLog(options);
  Mutation m = Mutation::Set("k", "v");
  uint64_t id = log->Append({&m, 1});
  EXPECT_EQ(kills, 2) << "the first attempt was not interrupted";
  std::vector<Update> read = log->ReadAfter(0, 10);
  ASSERT_EQ(read.size(), 1u);
  EXPECT_EQ(read[0].id, id);
  EXPECT_EQ(log->HeadId(), id);
}

// The COMMIT happens but its answer is lost: the retry finds the batch's token and returns the
// committed id instead of appending the batch again.
TEST(MysqlRestartTest, RetryAfterALostCommitAnswerDoesNotDuplicate) {
  auto raw = RawConnection();
  int commits = 0;
  MysqlLogOptions options;
  options.after_commit = [&] {
    if (commits++ == 0) {
      KillOtherConnections(*raw);
      throw sql::SQLException("Lost connection to server during query", "HY000", 2013);
    }
  };
  auto log = CreateFreshLog(options);
  std::vector<Mutation> batch = {Mutation::Set("a", "1"), Mutation::Set("b", "2")};
  uint64_t id = log->Append(batch);
  EXPECT_EQ(commits, 1) << "the batch was committed again";
  std::vector<Update> read = log->ReadAfter(0, 10);
  ASSERT_EQ(read.size(), 1u);
  EXPECT_EQ(read[0].id, id);
  EXPECT_EQ(read[0].mutations, batch);
  Mutation next = Mutation::Set("c", "3");
  EXPECT_EQ(log->Append({&next, 1}), id + 1);
}

TEST(MysqlRestartTest, ReadsAndHeadReconnectAfterAKilledConnection) {
  auto log = CreateFreshLog();
  Mutation m = Mutation::Set("k", "v");
  uint64_t id = log->Append({&m, 1});
  KillOtherConnections(*RawConnection());
  EXPECT_EQ(log->HeadId(), id);
  KillOtherConnections(*RawConnection());
  EXPECT_EQ(log->ReadAfter(0, 10).size(), 1u);
}

void RandomDelay() {
  static thread_local std::mt19937 random(std::random_device{}());
  std::this_thread::sleep_for(std::chrono::microseconds(random() % 2000));
}

TEST(MysqlRestartTest, NoBatchLostOrDuplicatedAcrossServerRestarts) {
  TestMariaDb& server = Server();
  if (!server.owned()) GTEST_SKIP() << "the server named by MDB_* is not ours to restart";
  std::string uri = LogUri(FreshTablePrefix());
  LogOptions create;
  create.create_if_missing = true;
  OpenMysqlChangeLog(uri, create);

  WritersAndTailerRun run;
  run.writers = 4;
  run.batches_per_writer = 600;
  run.writer_options.before_commit = RandomDelay;
  run.writer_options.reconnect_budget = std::chrono::seconds(60);
  const int port = server.settings().port;
  run.meanwhile = [&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(700));
    server.Kill();  // A crash: transactions in flight, some inside COMMIT.
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    server.Start();
    std::this_thread::sleep_for(std::chrono::milliseconds(700));
    server.Stop();  // A clean shutdown.
    server.Start();
    // The clients know only the old port; BUILD starts this test's servers away from the
    // ports other tests use, so that none can take it while the server is down.
    EXPECT_EQ(server.settings().port, port) << "the restarted server moved to another port";
  };
  WritersAndTailerResult result = RunWritersAndTailer(uri, run);

  EXPECT_TRUE(result.child_failures.empty()) << ::testing::PrintToString(result.child_failures);
  EXPECT_TRUE(result.uncertain.empty())
      << "appends gave up instead of reconnecting: " << result.uncertain.size();
  EXPECT_EQ(result.committed.size(), 2400u);
  std::map<uint64_t, std::string> tailed;
  std::map<std::string, uint64_t> tailed_keys;
  uint64_t last = 0;
  for (const auto& [id, key] : result.tailed) {
    EXPECT_GT(id, last) << "out of order or repeated";
    last = id;
    tailed[id] = key;
    auto [it, inserted] = tailed_keys.emplace(key, id);
    EXPECT_TRUE(inserted) << "batch " << key << " appended twice: ids " << it->second << " and "
                          << id;
  }
  for (const auto& [id, key] : result.committed) {
    auto it = tailed.find(id);
    if (it == tailed.end()) {
      ADD_FAILURE() << "committed id " << id << " (" << key << ") never read";
    } else {
      EXPECT_EQ(it->second, key) << "id " << id;
    }
  }
  EXPECT_EQ(tailed.size(), result.committed.size());
}

}  // namespace
}  // namespace whycache::mysql_log
