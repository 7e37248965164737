// Proves the MariaDB fixture gives a real, working server: binary bytes round-trip through it.
#include "tests/support/test_mariadb.h"

#include <cppconn/connection.h>
#include <cppconn/prepared_statement.h>
#include <cppconn/resultset.h>
#include <cppconn/statement.h>
#include <mysql_driver.h>

#include <memory>
#include <sstream>
#include <string>

#include "gtest/gtest.h"

namespace whycache::testing {
namespace {

std::unique_ptr<sql::Connection> Connect(const MariaDbSettings& s) {
  sql::mysql::MySQL_Driver* driver = sql::mysql::get_mysql_driver_instance();
  std::unique_ptr<sql::Connection> conn(driver->connect(s.ConnectorUrl(), s.user, s.password));
  conn->setSchema(s.database);
  return conn;
}

TEST(TestMariaDbTest, BinaryRowRoundTrips) {
  const MariaDbSettings& s = TestMariaDb::Shared().settings();
  auto conn = Connect(s);
  std::unique_ptr<sql::Statement> stmt(conn->createStatement());
  stmt->execute("DROP TABLE IF EXISTS fixture_probe");
  stmt->execute("CREATE TABLE fixture_probe (id INT PRIMARY KEY, v LONGBLOB NOT NULL)");

  std::string bytes("a\0b\xff\x00\n\x01z", 8);
  {
    std::unique_ptr<sql::PreparedStatement> insert(
        conn->prepareStatement("INSERT INTO fixture_probe (id, v) VALUES (?, ?)"));
    std::istringstream blob(bytes);
    insert->setInt(1, 7);
    insert->setBlob(2, &blob);
    EXPECT_EQ(insert->executeUpdate(), 1);
  }
  std::unique_ptr<sql::PreparedStatement> select(
      conn->prepareStatement("SELECT v FROM fixture_probe WHERE id = ?"));
  select->setInt(1, 7);
  std::unique_ptr<sql::ResultSet> rows(select->executeQuery());
  ASSERT_TRUE(rows->next());
  EXPECT_EQ(std::string(rows->getString(1)), bytes);
  EXPECT_FALSE(rows->next());
  stmt->execute("DROP TABLE fixture_probe");
}

TEST(TestMariaDbTest, ServerComesBackAfterKill) {
  TestMariaDb& server = TestMariaDb::Shared();
  if (!server.owned()) {
    GTEST_SKIP() << "the server named by MDB_* is not ours to kill";
  }
  server.Kill();
  EXPECT_THROW(Connect(server.settings()), sql::SQLException);
  server.Start();
  auto conn = Connect(server.settings());
  std::unique_ptr<sql::Statement> stmt(conn->createStatement());
  std::unique_ptr<sql::ResultSet> rows(stmt->executeQuery("SELECT 1"));
  ASSERT_TRUE(rows->next());
  EXPECT_EQ(rows->getInt(1), 1);
}

}  // namespace
}  // namespace whycache::testing
