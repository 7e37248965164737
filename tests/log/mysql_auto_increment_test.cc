// A server whose AUTO_INCREMENT counts in steps of 2 from 2 (as on one node of a multi-master
// pair): batches appended through the stored procedures and through the C++ writer are read back
// whole and in order, positions 0, 1, 2, ... within each batch. The oracle is the test's own list
// of what it appended.
#include <cppconn/statement.h>
#include <mysql_driver.h>

#include <memory>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "lib/log/mysql/mysql_change_log.h"
#include "tests/support/test_mariadb.h"
#include "whycache/change_log.h"

namespace whycache::mysql_log {
namespace {

using whycache::testing::TestMariaDb;

std::string QueryOne(sql::Connection& connection, const std::string& sql) {
  std::unique_ptr<sql::Statement> statement(connection.createStatement());
  std::unique_ptr<sql::ResultSet> rows(statement->executeQuery(sql));
  return rows->next() ? std::string(rows->getString(1)) : "";
}

TEST(MysqlAutoIncrementTest, ProceduresAndWriterNumberPositionsWhateverTheIncrement) {
  std::unique_ptr<TestMariaDb> server =
      TestMariaDb::StartPrivate("--auto-increment-increment=2 --auto-increment-offset=2");
  const auto& s = server->settings();
  const std::string prefix = "steps";
  LogOptions create;
  create.create_if_missing = true;
  auto log = OpenMysqlChangeLog(s.Uri(prefix), create);

  std::unique_ptr<sql::Connection> raw(
      sql::mysql::get_mysql_driver_instance()->connect(s.ConnectorUrl(), s.user, s.password));
  raw->setSchema(s.database);
  ASSERT_EQ(QueryOne(*raw, "SELECT @@auto_increment_increment"), "2");
  std::unique_ptr<sql::Statement> sql(raw->createStatement());

  std::vector<Update> expected;
  auto append_cpp = [&](std::vector<Mutation> batch) {
    expected.push_back({.id = log->Append(batch), .mutations = std::move(batch)});
  };
  auto commit_staged = [&](std::vector<Mutation> batch) {
    for (const Mutation& m : batch) {
      sql->execute("CALL " + prefix + "_batch_add(" + std::to_string(static_cast<int>(m.op)) +
                   ", '" + m.key + "', " +
                   (m.op == Mutation::Op::kSet ? "'" + m.value + "'" : "NULL") + ")");
    }
    sql->execute("CALL " + prefix + "_batch_commit(NULL, @id)");
    expected.push_back(
        {.id = std::stoull(QueryOne(*raw, "SELECT @id")), .mutations = std::move(batch)});
  };

  append_cpp({Mutation::Set("a", "1"), Mutation::Set("b", "2"), Mutation::Set("c", "3")});
  commit_staged({Mutation::Set("d", "4"), Mutation::Delete("a"), Mutation::Set("e", "5")});
  sql->execute("CALL " + prefix + "_append(1, 'f', '6', NULL, @id)");
  expected.push_back(
      {.id = std::stoull(QueryOne(*raw, "SELECT @id")), .mutations = {Mutation::Set("f", "6")}});
  commit_staged({Mutation::Set("g", "7"), Mutation::Set("h", "8")});
  append_cpp({Mutation::Delete("b"), Mutation::Set("i", "9")});

  std::vector<Update> read = log->ReadAfter(0, 100);
  ASSERT_EQ(read.size(), expected.size());
  for (size_t i = 0; i < expected.size(); ++i) {
    EXPECT_EQ(read[i].id, expected[i].id) << "batch " << i;
    EXPECT_EQ(read[i].mutations, expected[i].mutations) << "batch " << i;
  }
  // A reader that starts in the middle reads the rest the same way.
  std::vector<Update> rest = log->ReadAfter(expected[1].id, 100);
  ASSERT_EQ(rest.size(), expected.size() - 2);
  EXPECT_EQ(rest.back().mutations, expected.back().mutations);
}

}  // namespace
}  // namespace whycache::mysql_log
