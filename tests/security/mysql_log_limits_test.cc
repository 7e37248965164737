// The size limits against the MySQL log: at write time, through the C++ writer (write_limits.h)
// and through the stored procedures that clients in other languages call, which refuse a batch
// beyond a limit with an error naming it; and at read time, where rows that other clients wrote
// with plain SQL beyond a limit are a corruption error that names the update id and the limit.
// (Keys cannot exceed the limit there: the key column is VARBINARY(4096).)
#include <cppconn/statement.h>

#include <string>
#include <vector>

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

  // Appends one batch of sets with plain SQL and none of the writers' checks, as a careless
  // client could; each value is an SQL expression. Returns its update id.
  uint64_t AppendUnchecked(const std::vector<std::string>& value_expressions) {
    statement_->execute("START TRANSACTION");
    statement_->execute("SELECT head_id + 1 INTO @rid FROM " + prefix_ +
                        "_meta WHERE id = 1 FOR UPDATE");
    statement_->execute("INSERT INTO " + prefix_ +
                        "_batch VALUES (@rid, UNHEX(REPLACE(UUID(), '-', '')))");
    for (size_t pos = 0; pos < value_expressions.size(); ++pos) {
      statement_->execute("SET @k = 'k" + std::to_string(pos) +
                          "', @v = " + value_expressions[pos]);
      statement_->execute(
          "INSERT INTO " + prefix_ + "_log VALUES (@rid, " + std::to_string(pos) + ", " +
          std::to_string(value_expressions.size()) +
          ", 1, @k, @v, 0, CRC32(CONCAT(CHAR(1), UNHEX(LPAD(HEX(LENGTH(@k)), 8, '0')), @k, "
          "CHAR(0), @v)), 0)");
    }
    statement_->execute("UPDATE " + prefix_ + "_meta SET head_id = @rid WHERE id = 1");
    statement_->execute("COMMIT");
    return std::stoull(QueryOne(*raw_, "SELECT @rid"));
  }

  std::string prefix_;
  std::unique_ptr<ChangeLog> log_;
  std::unique_ptr<sql::Connection> raw_;
  std::unique_ptr<sql::Statement> statement_;
};

TEST_F(OverLimitRowsTest, ValueBeyondTheLimitIsCorruptionNamingTheId) {
  const uint64_t id = AppendUnchecked({"REPEAT('v', " + std::to_string(kMaxValueBytes + 1) + ")"});
  ExpectCorruptionNaming(id, "kMaxValueBytes");
}

TEST_F(OverLimitRowsTest, MoreBytesThanTheBatchLimitIsCorruptionNamingTheId) {
  const std::string third = "REPEAT('v', " + std::to_string(kMaxBatchBytes / 3 + 1) + ")";
  ExpectCorruptionNaming(AppendUnchecked({third, third, third}), "kMaxBatchBytes");
}

TEST_F(OverLimitRowsTest, MoreMutationsThanTheLimitIsCorruptionNamingTheId) {
  const uint64_t id = log_->Append(std::vector<Mutation>{Mutation::Set("k", "v")});
  statement_->execute("UPDATE " + prefix_ +
                      "_log SET batch_size = " + std::to_string(kMaxBatchMutations + 1) +
                      " WHERE update_id = " + std::to_string(id));
  ExpectCorruptionNaming(id, "kMaxBatchMutations");
}

// The stored procedures refuse what readers would refuse, naming the limit, and append nothing:
// a client in another language cannot stop every reader with one oversized batch.
class ProcedureLimitsTest : public OverLimitRowsTest {
 protected:
  void SetUp() override {
    OverLimitRowsTest::SetUp();
    before_ = log_->Append(std::vector<Mutation>{Mutation::Set("before", "1")});
  }

  // `call` must fail with an error naming `limit_name`, and leave the log as it was: readers
  // read on, and the next batch is appended and read right after the one before.
  void ExpectRefusedNaming(const std::string& call, const std::string& limit_name) {
    try {
      statement_->execute(call);
      ADD_FAILURE() << "appended beyond " << limit_name;
    } catch (const sql::SQLException& e) {
      EXPECT_NE(std::string(e.what()).find(limit_name), std::string::npos) << e.what();
    }
    statement_->execute("CALL " + prefix_ + "_batch_discard()");
    EXPECT_EQ(log_->HeadId(), before_);
    const uint64_t after = log_->Append(std::vector<Mutation>{Mutation::Set("after", "2")});
    std::vector<Update> read = log_->ReadAfter(0, 10);
    ASSERT_EQ(read.size(), 2u);
    EXPECT_EQ(read[0].id, before_);
    EXPECT_EQ(read[1].id, after);
    EXPECT_EQ(read[1].mutations, std::vector<Mutation>{Mutation::Set("after", "2")});
  }

  std::string Repeat(size_t n) { return "REPEAT('x', " + std::to_string(n) + ")"; }

  uint64_t before_ = 0;
};

TEST_F(ProcedureLimitsTest, AppendRefusesAKeyBeyondTheLimit) {
  ExpectRefusedNaming(
      "CALL " + prefix_ + "_append(1, " + Repeat(kMaxKeyBytes + 1) + ", 'v', NULL, @id)",
      "kMaxKeyBytes");
}

TEST_F(ProcedureLimitsTest, BatchAddRefusesAKeyBeyondTheLimit) {
  ExpectRefusedNaming("CALL " + prefix_ + "_batch_add(2, " + Repeat(kMaxKeyBytes + 1) + ", NULL)",
                      "kMaxKeyBytes");
}

TEST_F(ProcedureLimitsTest, AppendRefusesAValueBeyondTheLimit) {
  ExpectRefusedNaming(
      "CALL " + prefix_ + "_append(1, 'big', " + Repeat(kMaxValueBytes + 1) + ", NULL, @id)",
      "kMaxValueBytes");
}

TEST_F(ProcedureLimitsTest, BatchAddRefusesAValueBeyondTheLimit) {
  ExpectRefusedNaming(
      "CALL " + prefix_ + "_batch_add(1, 'big', " + Repeat(kMaxValueBytes + 1) + ")",
      "kMaxValueBytes");
}

TEST_F(ProcedureLimitsTest, BatchCommitRefusesMoreBytesThanTheLimit) {
  for (const char* key : {"a", "b", "c"}) {
    statement_->execute("CALL " + prefix_ + "_batch_add(1, '" + key + "', " +
                        Repeat(kMaxBatchBytes / 3 + 1) + ")");
  }
  ExpectRefusedNaming("CALL " + prefix_ + "_batch_commit(NULL, @id)", "kMaxBatchBytes");
}

TEST_F(ProcedureLimitsTest, BatchCommitRefusesMoreMutationsThanTheLimit) {
  // Staging a million rows one CALL at a time takes minutes: the first CALL creates the staging
  // table, the rest goes in with one statement.
  statement_->execute("CALL " + prefix_ + "_batch_add(1, 'k', 'v')");
  statement_->execute("INSERT INTO " + prefix_ +
                      "_staged (op, k, value) SELECT 1, seq, '' FROM seq_1_to_" +
                      std::to_string(kMaxBatchMutations));
  ExpectRefusedNaming("CALL " + prefix_ + "_batch_commit(NULL, @id)", "kMaxBatchMutations");
}

}  // namespace
}  // namespace whycache::testing
