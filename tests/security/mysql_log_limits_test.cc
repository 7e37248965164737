// The size limits against the MySQL log: at write time (write_limits.h), and at read time, where
// rows that other clients wrote with plain SQL beyond a limit are a corruption error that names
// the update id and the limit. (Keys cannot exceed the limit there: the key column is
// VARBINARY(4096).)
#include <cppconn/statement.h>

#include <string>

#include "gtest/gtest.h"
#include "tests/log/log_backends.h"
#include "tests/log/mysql_test_util.h"
#include "tests/security/write_limits.h"
#include "whycache/change_log.h"
#include "whycache/error.h"
#include "whycache/limits.h"

namespace whycache::testing {
namespace {

using mysql_log::testing::CreateFreshLog;
using mysql_log::testing::QueryOne;
using mysql_log::testing::RawConnection;

INSTANTIATE_TEST_SUITE_P(Mysql, WriteLimitsTest, ::testing::Values(MysqlLogBackend()), BackendName);

class OverLimitRowsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    log_ = CreateFreshLog({}, &prefix_);
    raw_ = RawConnection();
    statement_.reset(raw_->createStatement());
  }

  // Reading update `id` must fail as corrupt, naming it and `limit_name`.
  void ExpectCorruptionNaming(uint64_t id, const std::string& limit_name) {
    try {
      log_->ReadAfter(id - 1, 10);
      ADD_FAILURE() << "read rows beyond " << limit_name;
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), Error::Code::kCorruption) << e.what();
      const std::string message = e.what();
      EXPECT_NE(message.find("update id " + std::to_string(id)), std::string::npos) << message;
      EXPECT_NE(message.find(limit_name), std::string::npos) << message;
    }
  }

  std::string prefix_;
  std::unique_ptr<ChangeLog> log_;
  std::unique_ptr<sql::Connection> raw_;
  std::unique_ptr<sql::Statement> statement_;
};

TEST_F(OverLimitRowsTest, ValueBeyondTheLimitIsCorruptionNamingTheId) {
  statement_->execute("CALL " + prefix_ + "_append(1, 'big', REPEAT('v', " +
                      std::to_string(kMaxValueBytes + 1) + "), NULL, @id)");
  ExpectCorruptionNaming(std::stoull(QueryOne(*raw_, "SELECT @id")), "kMaxValueBytes");
}

TEST_F(OverLimitRowsTest, MoreBytesThanTheBatchLimitIsCorruptionNamingTheId) {
  statement_->execute("CALL " + prefix_ + "_batch_discard()");
  for (const char* key : {"a", "b", "c"}) {
    statement_->execute("CALL " + prefix_ + "_batch_add(1, '" + key + "', REPEAT('v', " +
                        std::to_string(kMaxBatchBytes / 3 + 1) + "))");
  }
  statement_->execute("CALL " + prefix_ + "_batch_commit(NULL, @id)");
  ExpectCorruptionNaming(std::stoull(QueryOne(*raw_, "SELECT @id")), "kMaxBatchBytes");
}

TEST_F(OverLimitRowsTest, MoreMutationsThanTheLimitIsCorruptionNamingTheId) {
  const uint64_t id = log_->Append(std::vector<Mutation>{Mutation::Set("k", "v")});
  statement_->execute("UPDATE " + prefix_ +
                      "_log SET batch_size = " + std::to_string(kMaxBatchMutations + 1) +
                      " WHERE update_id = " + std::to_string(id));
  ExpectCorruptionNaming(id, "kMaxBatchMutations");
}

}  // namespace
}  // namespace whycache::testing
