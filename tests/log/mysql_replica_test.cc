// Which reads of the MySQL log write: machines read with a SELECT-only account from a primary with
// a binary log and from its replicas, while on a server without one a read makes what it returns
// durable with a write (MysqlLogOptions::durable_reads). The oracle is the test's own record of
// the batches it appended.
#include <cppconn/connection.h>
#include <cppconn/resultset.h>
#include <cppconn/statement.h>

#include <cstdint>
#include <fstream>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "tests/support/temp_dir.h"
#include "tests/support/test_mariadb.h"
#include "tests/support/test_mariadb_replication.h"
#include "whycache/change_log.h"
#include "whycache/error.h"

namespace whycache {
namespace {

using testing::MariaDbSettings;
using testing::TestMariaDb;
using testing::TestReplicaSet;

constexpr char kPrefix[] = "fleet";

int64_t QueryInt(sql::Connection& connection, const std::string& query) {
  std::unique_ptr<sql::Statement> statement(connection.createStatement());
  std::unique_ptr<sql::ResultSet> rows(statement->executeQuery(query));
  if (!rows->next()) throw std::runtime_error("no row from " + query);
  return rows->getInt64(1);
}

class MysqlReplicaTest : public ::testing::Test {
 protected:
  // A primary with a binary log and `replicas` replicas of it, each with a SELECT-only reader.
  void StartSet(int replicas) {
    set_ = TestReplicaSet::Start(replicas, {});
    primary_ = &set_->primary_settings();
    reader_ = set_->AsReader(*primary_);
    CreateLog();
  }

  // A server without a binary log, and a SELECT-only reader made on it here.
  void StartServerWithoutBinaryLog() {
    plain_ = TestMariaDb::StartPrivate("");
    primary_ = &plain_->settings();
    reader_ = *primary_;
    reader_.user = "select_only";
    reader_.password = "select-only-pw";
    auto root = testing::ConnectAsRoot(*primary_);
    std::unique_ptr<sql::Statement> statement(root->createStatement());
    for (const char* host : {"127.0.0.1", "localhost"}) {
      const std::string account = "'select_only'@'" + std::string(host) + "'";
      statement->execute("CREATE USER " + account + " IDENTIFIED BY '" + reader_.password + "'");
      statement->execute("GRANT SELECT ON `" + primary_->database + "`.* TO " + account);
    }
    CreateLog();
  }

  void CreateLog() {
    // The writer logs in as the test user, whose password the fixture puts in the environment.
    LogOptions create;
    create.create_if_missing = true;
    writer_ = OpenChangeLog(primary_->Uri(kPrefix), create);
    // Readers take the reader's password from an option file, as a deployment would.
    defaults_file_ = dir_.path() + "/reader.cnf";
    std::ofstream(defaults_file_) << "[client]\npassword=" << reader_.password << "\n";
  }

  // The URI a machine reading as the SELECT-only user uses for `server`, plus `extra`.
  std::string ReaderUri(const MariaDbSettings& server, const std::string& extra = "") const {
    MariaDbSettings as_reader = server;
    as_reader.user = reader_.user;
    return as_reader.Uri(kPrefix) + "&defaults-file=" + defaults_file_ + extra;
  }

  // Appends `count` one-mutation batches and records them.
  void Append(int count) {
    for (int i = 0; i < count; ++i) {
      const std::string key = "k" + std::to_string(appended_.size());
      const uint64_t id = writer_->Append(std::vector<Mutation>{Mutation::Set(key, "v")});
      ASSERT_TRUE(appended_.emplace(id, key).second) << "id " << id << " returned twice";
    }
  }

  // Reads `log` from `after_id` to its end and checks each batch against the record.
  uint64_t ReadToEnd(ChangeLog& log, uint64_t after_id) {
    for (int round = 0; round < 1000; ++round) {
      std::vector<Update> updates = log.ReadAfter(after_id, 7);
      if (updates.empty()) return after_id;
      for (const Update& update : updates) {
        EXPECT_GT(update.id, after_id) << "went back or repeated";
        auto it = appended_.upper_bound(after_id);
        EXPECT_TRUE(it != appended_.end() && it->first == update.id)
            << "update " << update.id << " does not follow " << after_id << " in the record";
        if (it != appended_.end()) {
          EXPECT_EQ(update.mutations, std::vector<Mutation>{Mutation::Set(it->second, "v")});
        }
        after_id = update.id;
      }
    }
    ADD_FAILURE() << "the log did not end";
    return after_id;
  }

  int64_t ReaderSyncs() {
    auto root = testing::ConnectAsRoot(*primary_);
    return QueryInt(*root, "SELECT syncs FROM " + primary_->database + "." + kPrefix +
                               "_reader_sync WHERE id = 1");
  }

  testing::TempDir dir_;
  std::string defaults_file_;
  std::unique_ptr<TestReplicaSet> set_;
  std::unique_ptr<TestMariaDb> plain_;
  const MariaDbSettings* primary_ = nullptr;  // The server writers write to.
  MariaDbSettings reader_;                    // Its SELECT-only account.
  std::unique_ptr<ChangeLog> writer_;
  std::map<uint64_t, std::string> appended_;  // update id -> key, as Append returned them
};

// A machine needs SELECT and nothing else, on the primary and on a replica: every read would
// fail with an access error if it wrote.
TEST_F(MysqlReplicaTest, ASelectOnlyReaderTailsThePrimaryAndAReplica) {
  StartSet(1);
  Append(20);
  set_->WaitForReplicas();
  const int64_t syncs = ReaderSyncs();
  for (const MariaDbSettings* server : {&set_->primary_settings(), &set_->replica_settings(0)}) {
    SCOPED_TRACE(server->Uri());
    std::unique_ptr<ChangeLog> reader = OpenChangeLog(ReaderUri(*server));
    EXPECT_EQ(ReadToEnd(*reader, 0), appended_.rbegin()->first);
    EXPECT_EQ(reader->HeadId(), appended_.rbegin()->first);
    EXPECT_EQ(reader->Horizon(), writer_->Horizon());
    EXPECT_EQ(reader->CompactedBelow(), writer_->CompactedBelow());
    EXPECT_EQ(reader->DatasetId(), writer_->DatasetId());
  }
  const uint64_t head = appended_.rbegin()->first;
  Append(5);
  set_->WaitForReplicas();
  std::unique_ptr<ChangeLog> replica_reader = OpenChangeLog(ReaderUri(set_->replica_settings(0)));
  EXPECT_EQ(ReadToEnd(*replica_reader, head), appended_.rbegin()->first);
  EXPECT_EQ(ReaderSyncs(), syncs) << "a read wrote to the primary";
}

// With the binary log on, a read needs no write of its own; asked to, it still makes one.
TEST_F(MysqlReplicaTest, OnAPrimaryWithABinaryLogReadsWriteOnlyWithDurableReads) {
  StartSet(0);
  Append(10);
  const int64_t syncs = ReaderSyncs();
  std::unique_ptr<ChangeLog> reader = OpenChangeLog(primary_->Uri(kPrefix));
  EXPECT_EQ(ReadToEnd(*reader, 0), appended_.rbegin()->first);
  EXPECT_EQ(ReaderSyncs(), syncs);
  std::unique_ptr<ChangeLog> durable = OpenChangeLog(primary_->Uri(kPrefix) + "&durable_reads=1");
  EXPECT_EQ(ReadToEnd(*durable, 0), appended_.rbegin()->first);
  EXPECT_GT(ReaderSyncs(), syncs);
}

// Without a binary log a commit can be seen before it is on disk: a read that returns new batches
// commits a write first, and a reader that may not write is told what to do, losing nothing.
TEST_F(MysqlReplicaTest, WithoutABinaryLogReadsMakeWhatTheyReturnDurable) {
  StartServerWithoutBinaryLog();
  Append(10);
  const uint64_t head = appended_.rbegin()->first;
  int64_t syncs = ReaderSyncs();
  std::unique_ptr<ChangeLog> writer_account = OpenChangeLog(primary_->Uri(kPrefix));
  EXPECT_EQ(ReadToEnd(*writer_account, 0), head);
  EXPECT_GT(ReaderSyncs(), syncs);

  std::unique_ptr<ChangeLog> select_only = OpenChangeLog(ReaderUri(*primary_));
  try {
    select_only->ReadAfter(0, 100);
    ADD_FAILURE() << "a SELECT-only reader returned batches it could not make durable";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), Error::Code::kUnavailable);
    const std::string message = e.what();
    EXPECT_NE(message.find("takes writes without a binary log"), std::string::npos) << message;
    EXPECT_NE(message.find("grant it UPDATE on " + std::string(kPrefix) + "_reader_sync"),
              std::string::npos)
        << message;
    EXPECT_NE(message.find("durable_reads=0"), std::string::npos) << message;
  }
  // Nothing new: nothing to make durable, so an up-to-date reader polls on.
  EXPECT_TRUE(select_only->ReadAfter(head, 100).empty());

  syncs = ReaderSyncs();
  std::unique_ptr<ChangeLog> risk_accepted =
      OpenChangeLog(ReaderUri(*primary_, "&durable_reads=0"));
  EXPECT_EQ(ReadToEnd(*risk_accepted, 0), head);
  EXPECT_EQ(ReaderSyncs(), syncs);
}

}  // namespace
}  // namespace whycache
