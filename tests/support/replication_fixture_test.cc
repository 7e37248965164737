// Proves the replication fixture: what the primary commits reaches every replica, the reader
// user can only read, a replica whose replication is stopped or that crashed lags and then
// catches up, a replica that cannot apply a row is named with its error, and replicas applying
// in parallel make rows visible in the primary's commit order.
// The oracle is the test's own record of the rows it wrote.
#include <cppconn/connection.h>
#include <cppconn/exception.h>
#include <cppconn/prepared_statement.h>
#include <cppconn/resultset.h>
#include <cppconn/statement.h>
#include <mysql_driver.h>

#include <chrono>
#include <cstdint>
#include <iostream>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "tests/support/test_mariadb_replication.h"

namespace whycache::testing {
namespace {

// MariaDB's error codes for a missing table privilege and a write on a read-only server.
constexpr int kTableAccessDenied = 1142;
constexpr int kReadOnly = 1290;

using Rows = std::map<int64_t, std::string>;  // id -> value

std::unique_ptr<sql::Connection> Connect(const MariaDbSettings& s) {
  sql::mysql::MySQL_Driver* driver = sql::mysql::get_mysql_driver_instance();
  std::unique_ptr<sql::Connection> conn(driver->connect(s.ConnectorUrl(), s.user, s.password));
  conn->setSchema(s.database);
  return conn;
}

void Execute(sql::Connection& conn, const std::string& statement) {
  std::unique_ptr<sql::Statement> stmt(conn.createStatement());
  stmt->execute(statement);
}

int64_t QueryInt(sql::Connection& conn, const std::string& query) {
  std::unique_ptr<sql::Statement> stmt(conn.createStatement());
  std::unique_ptr<sql::ResultSet> rows(stmt->executeQuery(query));
  if (!rows->next()) throw std::runtime_error("no row from " + query);
  return rows->getInt64(1);
}

// The error code of running `statement` on `conn`, 0 if it succeeds.
int ErrorOf(sql::Connection& conn, const std::string& statement) {
  try {
    Execute(conn, statement);
    return 0;
  } catch (const sql::SQLException& e) {
    return e.getErrorCode();
  }
}

// Every row of `table` (columns id, v) on the server `s`.
Rows ReadRows(const MariaDbSettings& s, const std::string& table) {
  auto conn = Connect(s);
  std::unique_ptr<sql::Statement> stmt(conn->createStatement());
  std::unique_ptr<sql::ResultSet> rows(stmt->executeQuery("SELECT id, v FROM " + table));
  Rows result;
  while (rows->next()) result[rows->getInt64(1)] = rows->getString(2);
  return result;
}

// Creates `table` (id, v) on the primary.
void CreateTable(const MariaDbSettings& primary, const std::string& table) {
  Execute(*Connect(primary), "CREATE TABLE " + table +
                                 " (id BIGINT PRIMARY KEY, v VARCHAR(64) NOT NULL) ENGINE=InnoDB");
}

// Inserts `transactions` transactions of `rows_per_transaction` rows into `table` on the primary,
// with ids following the largest in `written`, and records them there.
void InsertRows(const MariaDbSettings& primary, const std::string& table, int transactions,
                int rows_per_transaction, Rows& written) {
  auto conn = Connect(primary);
  conn->setAutoCommit(false);
  std::unique_ptr<sql::PreparedStatement> insert(
      conn->prepareStatement("INSERT INTO " + table + " (id, v) VALUES (?, ?)"));
  int64_t id = written.empty() ? 1 : written.rbegin()->first + 1;
  for (int t = 0; t < transactions; ++t) {
    Rows pending;
    for (int r = 0; r < rows_per_transaction; ++r, ++id) {
      pending[id] = "row " + std::to_string(id) + " of " + table;
      insert->setInt64(1, id);
      insert->setString(2, pending[id]);
      insert->executeUpdate();
    }
    conn->commit();
    written.insert(pending.begin(), pending.end());
  }
}

class ReplicationFixtureTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { set_ = TestReplicaSet::Start(2, ReplicaOptions{}).release(); }
  static void TearDownTestSuite() {
    delete set_;
    set_ = nullptr;
  }

  static TestReplicaSet* set_;
};

TestReplicaSet* ReplicationFixtureTest::set_ = nullptr;

TEST_F(ReplicationFixtureTest, RowsCommittedOnThePrimaryReachEveryReplica) {
  Rows written;
  CreateTable(set_->primary_settings(), "reach");
  InsertRows(set_->primary_settings(), "reach", 10, 20, written);
  set_->WaitForReplicas();
  for (int i = 0; i < set_->replica_count(); ++i) {
    EXPECT_EQ(ReadRows(set_->replica_settings(i), "reach"), written) << "replica " << i;
    // A replica is read-only, also for the test user that may write on the primary.
    EXPECT_EQ(ErrorOf(*Connect(set_->replica_settings(i)), "INSERT INTO reach VALUES (0, 'x')"),
              kReadOnly);
  }
}

TEST_F(ReplicationFixtureTest, ReaderMaySelectButNotWrite) {
  Rows written;
  CreateTable(set_->primary_settings(), "readable");
  InsertRows(set_->primary_settings(), "readable", 1, 3, written);
  set_->WaitForReplicas();
  std::vector<MariaDbSettings> servers = {set_->primary_settings()};
  for (int i = 0; i < set_->replica_count(); ++i) servers.push_back(set_->replica_settings(i));
  for (const MariaDbSettings& server : servers) {
    SCOPED_TRACE("server on port " + std::to_string(server.port));
    auto reader = Connect(set_->AsReader(server));
    EXPECT_EQ(QueryInt(*reader, "SELECT COUNT(*) FROM readable"), 3);
    // On a replica read-only is checked before the privileges, so only the primary can show
    // that the reader lacks them.
    EXPECT_NE(ErrorOf(*reader, "INSERT INTO readable VALUES (100, 'reader')"), 0);
  }
  auto reader = Connect(set_->AsReader(set_->primary_settings()));
  EXPECT_EQ(ErrorOf(*reader, "INSERT INTO readable VALUES (100, 'reader')"), kTableAccessDenied);
  EXPECT_EQ(ErrorOf(*reader, "DELETE FROM readable"), kTableAccessDenied);
  EXPECT_EQ(ReadRows(set_->primary_settings(), "readable"), written);
}

TEST_F(ReplicationFixtureTest, StoppedReplicaLagsUntilReplicationStartsAgain) {
  Rows written;
  CreateTable(set_->primary_settings(), "lagging");
  InsertRows(set_->primary_settings(), "lagging", 1, 1, written);
  set_->WaitForReplicas();
  const Rows before = written;

  set_->StopReplication(0);
  InsertRows(set_->primary_settings(), "lagging", 1, 1, written);
  set_->WaitForReplicas();  // Replica 1 only: replica 0 is not replicating.
  EXPECT_EQ(ReadRows(set_->replica_settings(1), "lagging"), written);
  EXPECT_EQ(ReadRows(set_->replica_settings(0), "lagging"), before);

  set_->StartReplication(0);
  set_->WaitForReplicas();
  EXPECT_EQ(ReadRows(set_->replica_settings(0), "lagging"), written);
}

TEST_F(ReplicationFixtureTest, KilledReplicaCatchesUpAfterStart) {
  Rows written;
  CreateTable(set_->primary_settings(), "crashed");
  set_->WaitForReplicas();
  // A backlog, so that the kill is likely to land while the replica applies it; the outcome
  // must be the same wherever it lands.
  set_->StopReplication(0);
  InsertRows(set_->primary_settings(), "crashed", 100, 5, written);
  set_->StartReplication(0);
  set_->KillReplica(0);
  InsertRows(set_->primary_settings(), "crashed", 10, 5, written);
  set_->WaitForReplicas();
  EXPECT_EQ(ReadRows(set_->replica_settings(1), "crashed"), written);

  set_->StartReplica(0);
  set_->WaitForReplicas();
  EXPECT_EQ(ReadRows(set_->replica_settings(0), "crashed"), written);
}

TEST_F(ReplicationFixtureTest, WaitForReplicasNamesAReplicaWhoseApplierFailed) {
  Rows written;
  CreateTable(set_->primary_settings(), "conflicting");
  set_->WaitForReplicas();
  // A row written on replica 0 behind replication's back (root may write despite read-only)
  // makes the primary's row with the same id fail there.
  auto replica_root = ConnectAsRoot(set_->replica_settings(0));
  replica_root->setSchema(set_->replica_settings(0).database);
  Execute(*replica_root, "INSERT INTO conflicting VALUES (1, 'written on the replica')");
  InsertRows(set_->primary_settings(), "conflicting", 1, 1, written);
  try {
    set_->WaitForReplicas();
    ADD_FAILURE() << "WaitForReplicas returned although replica 0 cannot apply the row";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("replica 0 "), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("Duplicate entry"), std::string::npos) << e.what();
  }

  // Repaired, it applies the row and replicates on.
  Execute(*replica_root, "DELETE FROM conflicting");
  Execute(*replica_root, "START SLAVE");
  set_->WaitForReplicas();
  EXPECT_EQ(ReadRows(set_->replica_settings(0), "conflicting"), written);
}

// Two connections on the primary append transactions of rows with consecutive ids; each
// transaction first locks a sequence row, as the log's writers do, so ids commit in id order.
// A replica applying with 4 threads in `mode` must make them visible in that order: every read
// of the replica sees ids 1..n for some n, never a gap. The replica is stopped while the
// primary writes, so that it has a backlog to apply in parallel.
void ExpectParallelReplicaKeepsIdOrder(const std::string& mode) {
  constexpr int kWriters = 2;
  constexpr int kTransactionsPerWriter = 60;
  constexpr int kRowsPerTransaction = 5;
  constexpr int64_t kTotal = kWriters * kTransactionsPerWriter * kRowsPerTransaction;

  ReplicaOptions options;
  options.parallel_threads = 4;
  options.parallel_mode = mode;
  auto set = TestReplicaSet::Start(1, options);
  {
    auto conn = Connect(set->primary_settings());
    Execute(*conn, "CREATE TABLE seq (k INT PRIMARY KEY, next_id BIGINT NOT NULL)");
    Execute(*conn, "INSERT INTO seq VALUES (1, 1)");
    Execute(*conn,
            "CREATE TABLE ordered (id BIGINT PRIMARY KEY, v VARCHAR(64) NOT NULL) ENGINE=InnoDB");
  }
  set->WaitForReplicas();
  set->StopReplication(0);

  std::vector<Rows> written(kWriters);
  std::vector<std::string> failures(kWriters);
  std::vector<std::unique_ptr<sql::Connection>> conns;
  for (int w = 0; w < kWriters; ++w) conns.push_back(Connect(set->primary_settings()));
  std::vector<std::thread> writers;
  for (int w = 0; w < kWriters; ++w) {
    writers.emplace_back([&, w] {
      sql::mysql::get_mysql_driver_instance()->threadInit();
      try {
        sql::Connection& conn = *conns[w];
        conn.setAutoCommit(false);
        std::unique_ptr<sql::PreparedStatement> lock(
            conn.prepareStatement("SELECT next_id FROM seq WHERE k = 1 FOR UPDATE"));
        std::unique_ptr<sql::PreparedStatement> insert(
            conn.prepareStatement("INSERT INTO ordered (id, v) VALUES (?, ?)"));
        std::unique_ptr<sql::PreparedStatement> advance(
            conn.prepareStatement("UPDATE seq SET next_id = ? WHERE k = 1"));
        for (int t = 0; t < kTransactionsPerWriter; ++t) {
          int64_t next;
          {
            std::unique_ptr<sql::ResultSet> rows(lock->executeQuery());
            rows->next();
            next = rows->getInt64(1);
          }
          Rows pending;
          for (int r = 0; r < kRowsPerTransaction; ++r) {
            const int64_t id = next + r;
            pending[id] = "writer " + std::to_string(w) + " transaction " + std::to_string(t);
            insert->setInt64(1, id);
            insert->setString(2, pending[id]);
            insert->executeUpdate();
          }
          advance->setInt64(1, next + kRowsPerTransaction);
          advance->executeUpdate();
          conn.commit();
          written[w].insert(pending.begin(), pending.end());
        }
      } catch (const std::exception& e) {
        failures[w] = e.what();
      }
      sql::mysql::get_mysql_driver_instance()->threadEnd();
    });
  }
  for (std::thread& t : writers) t.join();
  conns.clear();
  Rows all;
  for (int w = 0; w < kWriters; ++w) {
    ASSERT_EQ(failures[w], "") << "writer " << w;
    all.insert(written[w].begin(), written[w].end());
  }
  ASSERT_EQ(static_cast<int64_t>(all.size()), kTotal);

  set->StartReplication(0);
  auto reader = Connect(set->AsReader(set->replica_settings(0)));
  int partial_reads = 0;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (std::chrono::steady_clock::now() < deadline) {
    std::unique_ptr<sql::Statement> stmt(reader->createStatement());
    std::unique_ptr<sql::ResultSet> rows(
        stmt->executeQuery("SELECT COUNT(*), COALESCE(MAX(id), 0) FROM ordered"));
    rows->next();
    const int64_t count = rows->getInt64(1);
    const int64_t max_id = rows->getInt64(2);
    ASSERT_EQ(count, max_id) << "the replica shows " << count << " rows up to id " << max_id;
    if (count == kTotal) break;
    if (count > 0) ++partial_reads;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));  // Pacing only.
  }
  set->WaitForReplicas();
  EXPECT_EQ(ReadRows(set->replica_settings(0), "ordered"), all);
  const int64_t retried = QueryInt(*reader,
                                   "SELECT VARIABLE_VALUE FROM information_schema.GLOBAL_STATUS"
                                   " WHERE VARIABLE_NAME = 'SLAVE_RETRIED_TRANSACTIONS'");
  std::cout << mode << ": " << partial_reads << " reads saw part of the rows; the replica retried "
            << retried << " transactions\n";
}

TEST(ReplicationParallelApplyTest, ConservativeModeKeepsIdOrder) {
  ExpectParallelReplicaKeepsIdOrder("conservative");
}

TEST(ReplicationParallelApplyTest, OptimisticModeKeepsIdOrder) {
  ExpectParallelReplicaKeepsIdOrder("optimistic");
}

}  // namespace
}  // namespace whycache::testing
