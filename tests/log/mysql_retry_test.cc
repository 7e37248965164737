// An append whose COMMIT reached the server but whose answer never came back: the server is
// killed right after COMMIT returns (a test hook) and stays down past the reconnect budget, so
// Append throws kUnavailable without knowing the outcome. Retried with its AppendToken once the
// server is back, it returns the first id and the log holds the batch once. The oracle is the
// test's own record of what it appended.
#include <cppconn/exception.h>
#include <cppconn/resultset.h>
#include <cppconn/statement.h>
#include <mysql_driver.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "lib/log/mysql/mysql_change_log.h"
#include "tests/support/test_mariadb.h"
#include "whycache/change_log.h"
#include "whycache/error.h"

namespace whycache::mysql_log {
namespace {

using whycache::testing::TestMariaDb;

class MysqlRetryTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { server_ = TestMariaDb::StartPrivate("").release(); }
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
  }

  void SetUp() override {
    LogOptions create;
    create.create_if_missing = true;
    OpenMysqlChangeLog(Uri(), create);
  }

  // Each test has its own tables on the suite's server.
  std::string Uri() const {
    return server_->settings().Uri(
        "t" + std::to_string(::testing::UnitTest::GetInstance()->current_test_info()->line()));
  }

  // Every batch in the log, read by a fresh reader.
  std::vector<Update> ReadAll() { return OpenMysqlChangeLog(Uri(), {})->ReadAfter(0, 1000); }

  static TestMariaDb* server_;
  const std::vector<Mutation> batch_{Mutation::Set("k", "v1"), Mutation::Delete("gone")};
  const AppendToken token_ = AppendToken::Random();
};

TestMariaDb* MysqlRetryTest::server_ = nullptr;

TEST_F(MysqlRetryTest, RetryAfterTheServerDiedRightAfterCommitReturnsTheFirstId) {
  MysqlLogOptions options;
  options.reconnect_budget = std::chrono::milliseconds(300);
  bool kill_after_commit = true;
  options.after_commit = [&] {
    if (!kill_after_commit) return;
    kill_after_commit = false;
    server_->Kill();
    // What the client sees when the answer to its COMMIT is lost.
    throw sql::SQLException("Lost connection to server during query", "HY000", 2013);
  };
  auto log = OpenMysqlChangeLog(Uri(), {}, options);
  try {
    log->Append(batch_, token_);
    ADD_FAILURE() << "the append returned although the server died before answering";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), Error::Code::kUnavailable) << e.what();
  }
  // The retry goes through a new object, as from a restarted caller: the server may come back
  // on another port if its own was taken meanwhile.
  server_->Start();
  auto retry = OpenMysqlChangeLog(Uri(), {});
  const uint64_t id = retry->Append(batch_, token_);
  EXPECT_EQ(retry->Append(batch_, token_), id);
  std::vector<Update> all = ReadAll();
  ASSERT_EQ(all.size(), 1u) << "the retried batch was appended twice";
  EXPECT_EQ(all[0].id, id);
  EXPECT_EQ(all[0].mutations, batch_);

  const std::vector<Mutation> next{Mutation::Set("k", "v2")};
  EXPECT_EQ(retry->Append(next, AppendToken::Random()), id + 1);
}

TEST_F(MysqlRetryTest, RetryAfterSuccessReturnsTheFirstId) {
  const uint64_t id = OpenMysqlChangeLog(Uri(), {})->Append(batch_, token_);
  EXPECT_EQ(OpenMysqlChangeLog(Uri(), {})->Append(batch_, token_), id);
  EXPECT_EQ(ReadAll().size(), 1u);
}

}  // namespace
}  // namespace whycache::mysql_log
