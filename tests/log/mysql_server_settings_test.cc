// The server settings the MySQL log's durability rests on are checked where a log is created and
// where a writer appends: a server that acknowledges commits before they are on disk is refused
// with a message naming the setting, its value, the value needed and the override; the override
// (URI parameter or LogOptions) accepts it; the fixture's server passes.
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "lib/log/mysql/mysql_change_log.h"
#include "tests/log/mysql_test_util.h"
#include "tests/support/test_mariadb.h"
#include "whycache/change_log.h"
#include "whycache/error.h"

namespace whycache::mysql_log {
namespace {

using whycache::testing::TestMariaDb;

constexpr const char* kOverride = "allow_unsafe_server_settings=1";

// `work` must throw Error(kUnavailable) whose message names the flush setting, its value 2, the
// required value 1 and the override.
template <typename Work>
void ExpectRefusedForFlushSetting(Work work) {
  try {
    work();
    ADD_FAILURE() << "a server with innodb_flush_log_at_trx_commit=2 was accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), Error::Code::kUnavailable) << e.what();
    const std::string message = e.what();
    std::printf("refused: %s\n", message.c_str());
    for (const char* part : {"innodb_flush_log_at_trx_commit is 2", "must be 1", kOverride}) {
      EXPECT_NE(message.find(part), std::string::npos) << "no '" << part << "' in: " << message;
    }
  }
}

class UnsafeServerTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    server_ = TestMariaDb::StartPrivate("--innodb-flush-log-at-trx-commit=2").release();
  }
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
  }

  static TestMariaDb* server_;
};

TestMariaDb* UnsafeServerTest::server_ = nullptr;

TEST_F(UnsafeServerTest, InitIsRefusedWithoutTheOverride) {
  LogOptions create;
  create.create_if_missing = true;
  const std::string uri = server_->settings().Uri("refused");
  ExpectRefusedForFlushSetting([&] { OpenMysqlChangeLog(uri, create); });
  // Nothing was created: a writer without `init` is told to run it.
  try {
    OpenMysqlChangeLog(uri, {});
    ADD_FAILURE() << "a refused init created the log";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("not initialized"), std::string::npos) << e.what();
  }
}

TEST_F(UnsafeServerTest, AWriterIsRefusedButReadersRead) {
  LogOptions create;
  create.create_if_missing = true;
  create.allow_unsafe_server_settings = true;
  const std::string uri = server_->settings().Uri("writer");
  auto created = OpenMysqlChangeLog(uri, create);
  const uint64_t id = created->Append(std::vector<Mutation>{Mutation::Set("k", "v")});

  auto writer = OpenMysqlChangeLog(uri, {});
  ExpectRefusedForFlushSetting(
      [&] { writer->Append(std::vector<Mutation>{Mutation::Set("k", "refused")}); });
  std::vector<Update> read = writer->ReadAfter(0, 10);
  ASSERT_EQ(read.size(), 1u);
  EXPECT_EQ(read[0].id, id);
  EXPECT_EQ(writer->HeadId(), id);
}

TEST_F(UnsafeServerTest, TheUriOverrideAcceptsTheServer) {
  LogOptions create;
  create.create_if_missing = true;
  const std::string uri = server_->settings().Uri("by_uri") + "&" + kOverride;
  auto log = OpenMysqlChangeLog(uri, create);
  const uint64_t id = log->Append(std::vector<Mutation>{Mutation::Set("k", "v")});
  EXPECT_EQ(log->ReadAfter(0, 10).at(0).id, id);
  EXPECT_NE(log->Describe().find(kOverride), std::string::npos) << log->Describe();
}

// The binary log without a sync at each commit is named with its value and the value needed.
// (Session settings cannot be shown unsafe this way: Connector/C++ sets autocommit on and
// REPEATABLE-READ on every new connection, whatever the server's defaults.)
TEST(ServerSettingsTest, TheBinaryLogSyncIsChecked) {
  std::unique_ptr<TestMariaDb> server =
      TestMariaDb::StartPrivate("--log-bin --sync-binlog=0 --autocommit=0");
  LogOptions create;
  create.create_if_missing = true;
  try {
    OpenMysqlChangeLog(server->settings().Uri("binlog"), create);
    ADD_FAILURE() << "an unsafe server was accepted";
  } catch (const Error& e) {
    const std::string message = e.what();
    for (const char* part : {"sync_binlog is 0 but must be 1 while log_bin is ON", kOverride}) {
      EXPECT_NE(message.find(part), std::string::npos) << "no '" << part << "' in: " << message;
    }
    EXPECT_EQ(message.find("innodb_flush_log_at_trx_commit"), std::string::npos) << message;
    EXPECT_EQ(message.find("autocommit"), std::string::npos) << message;
  }
  create.allow_unsafe_server_settings = true;
  auto log = OpenMysqlChangeLog(server->settings().Uri("binlog"), create);
  EXPECT_EQ(log->Append(std::vector<Mutation>{Mutation::Set("k", "v")}), 1u);
  EXPECT_EQ(OpenMysqlChangeLog(server->settings().Uri("binlog"), {})->ReadAfter(0, 10).size(), 1u);
}

// Semi-synchronous replication that makes a commit visible before a replica has it is named;
// waiting for the replica first (AFTER_SYNC) passes.
TEST(ServerSettingsTest, SemiSynchronousReplicationMustWaitBeforeCommitsAreVisible) {
  // No replica acknowledges here: a commit waits the timeout (100 ms), then goes on without.
  const std::string binlog =
      "--log-bin --sync-binlog=1 --rpl-semi-sync-master-enabled=ON "
      "--rpl-semi-sync-master-timeout=100 ";
  std::unique_ptr<TestMariaDb> after_commit =
      TestMariaDb::StartPrivate(binlog + "--rpl-semi-sync-master-wait-point=AFTER_COMMIT");
  LogOptions create;
  create.create_if_missing = true;
  try {
    OpenMysqlChangeLog(after_commit->settings().Uri("semisync"), create);
    ADD_FAILURE() << "semi-synchronous replication with AFTER_COMMIT was accepted";
  } catch (const Error& e) {
    const std::string message = e.what();
    std::printf("refused: %s\n", message.c_str());
    EXPECT_NE(message.find("rpl_semi_sync_master_wait_point is AFTER_COMMIT but must be "
                           "AFTER_SYNC while rpl_semi_sync_master_enabled is ON"),
              std::string::npos)
        << message;
  }
  after_commit.reset();
  std::unique_ptr<TestMariaDb> after_sync =
      TestMariaDb::StartPrivate(binlog + "--rpl-semi-sync-master-wait-point=AFTER_SYNC");
  auto log = OpenMysqlChangeLog(after_sync->settings().Uri("semisync"), create);
  EXPECT_EQ(log->Append(std::vector<Mutation>{Mutation::Set("k", "v")}), 1u);
}

TEST(FixtureServerSettingsTest, TheFixtureServerPasses) {
  std::unique_ptr<ChangeLog> log = testing::CreateFreshLog();
  const uint64_t id = log->Append(std::vector<Mutation>{Mutation::Set("k", "v")});
  EXPECT_EQ(log->ReadAfter(0, 10).at(0).id, id);
}

}  // namespace
}  // namespace whycache::mysql_log
