#include "tests/support/test_mariadb_replication.h"

#include <cppconn/connection.h>
#include <cppconn/exception.h>
#include <cppconn/prepared_statement.h>
#include <cppconn/resultset.h>
#include <cppconn/statement.h>
#include <mysql_driver.h>

#include <stdexcept>

namespace whycache::testing {
namespace {

constexpr char kReaderUser[] = "whycache_reader";
constexpr char kReaderPassword[] = "whycache-reader-pw";
constexpr int kPrimaryServerId = 1;

void Execute(const MariaDbSettings& server, const std::string& statement) {
  auto conn = ConnectAsRoot(server);
  std::unique_ptr<sql::Statement> stmt(conn->createStatement());
  stmt->execute(statement);
}

std::string Describe(int i, const MariaDbSettings& server) {
  return "replica " + std::to_string(i) + " (" + server.host + ":" + std::to_string(server.port) +
         ")";
}

// The state of the replication threads of `conn`'s server, for error messages.
std::string SlaveStatus(sql::Connection& conn) {
  std::unique_ptr<sql::Statement> stmt(conn.createStatement());
  std::unique_ptr<sql::ResultSet> rows(stmt->executeQuery("SHOW SLAVE STATUS"));
  if (!rows->next()) return "no replication configured";
  std::string status;
  for (const char* column : {"Gtid_IO_Pos", "Slave_IO_Running", "Slave_SQL_Running",
                             "Last_IO_Error", "Last_SQL_Error"}) {
    status += std::string(status.empty() ? "" : ", ") + column + "='" +
              std::string(rows->getString(column)) + "'";
  }
  return status;
}

}  // namespace

// Replication control needs privileges the test user lacks; the script sets root up for socket
// authentication.
std::unique_ptr<sql::Connection> ConnectAsRoot(const MariaDbSettings& server) {
  sql::mysql::MySQL_Driver* driver = sql::mysql::get_mysql_driver_instance();
  return std::unique_ptr<sql::Connection>(driver->connect("unix://" + server.socket, "root", ""));
}

std::unique_ptr<TestReplicaSet> TestReplicaSet::Start(int replicas, const ReplicaOptions& options) {
  if (replicas < 0) throw std::invalid_argument("a negative number of replicas");
  std::unique_ptr<TestReplicaSet> set(new TestReplicaSet());
  const TestMariaDb::ScriptSettings readers = {{"MDB_READER_USER", kReaderUser},
                                               {"MDB_READER_PASS", kReaderPassword}};
  TestMariaDb::ScriptSettings primary = readers;
  primary["MDB_ROLE"] = "primary";
  primary["MDB_SERVER_ID"] = std::to_string(kPrimaryServerId);
  set->primary_ = TestMariaDb::StartPrivate("", primary);
  for (int i = 0; i < replicas; ++i) {
    TestMariaDb::ScriptSettings replica = readers;
    replica["MDB_ROLE"] = "replica";
    replica["MDB_SERVER_ID"] = std::to_string(kPrimaryServerId + 1 + i);
    replica["MDB_PRIMARY_PORT"] = std::to_string(set->primary_settings().port);
    replica["MDB_PARALLEL_THREADS"] = std::to_string(options.parallel_threads);
    replica["MDB_PARALLEL_MODE"] = options.parallel_mode;
    set->replicas_.push_back(Replica{TestMariaDb::StartPrivate("", replica)});
  }
  return set;
}

TestReplicaSet::Replica& TestReplicaSet::At(int i) {
  if (i < 0 || i >= replica_count()) {
    throw std::out_of_range("no replica " + std::to_string(i) + " in a set of " +
                            std::to_string(replica_count()));
  }
  return replicas_[i];
}

const TestReplicaSet::Replica& TestReplicaSet::At(int i) const {
  return const_cast<TestReplicaSet*>(this)->At(i);
}

const MariaDbSettings& TestReplicaSet::replica_settings(int i) const {
  return At(i).server->settings();
}

MariaDbSettings TestReplicaSet::AsReader(const MariaDbSettings& server) const {
  MariaDbSettings reader = server;
  reader.user = kReaderUser;
  reader.password = kReaderPassword;
  return reader;
}

void TestReplicaSet::WaitForReplicas(std::chrono::seconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  std::string position;
  try {
    auto conn = ConnectAsRoot(primary_settings());
    std::unique_ptr<sql::Statement> stmt(conn->createStatement());
    std::unique_ptr<sql::ResultSet> rows(stmt->executeQuery("SELECT @@GLOBAL.gtid_binlog_pos"));
    rows->next();
    position = rows->getString(1);
  } catch (const sql::SQLException& e) {
    throw std::runtime_error("reading the primary's GTID position on port " +
                             std::to_string(primary_settings().port) + ": " + e.what());
  }
  for (int i = 0; i < replica_count(); ++i) {
    if (replicas_[i].up && replicas_[i].replicating) WaitForReplica(i, position, deadline);
  }
}

void TestReplicaSet::WaitForReplica(int i, const std::string& gtid_position,
                                    std::chrono::steady_clock::time_point deadline) {
  const MariaDbSettings& server = replica_settings(i);
  const std::string what =
      Describe(i, server) + " has not applied the primary's GTID position " + gtid_position;
  try {
    auto conn = ConnectAsRoot(server);
    // Short waits, so that a stopped applier is reported at once rather than at the deadline.
    std::unique_ptr<sql::PreparedStatement> wait(
        conn->prepareStatement("SELECT MASTER_GTID_WAIT(?, 0.5)"));
    wait->setString(1, gtid_position);
    while (true) {
      {
        std::unique_ptr<sql::ResultSet> rows(wait->executeQuery());
        if (rows->next() && !rows->isNull(1) && rows->getInt(1) == 0) return;
      }
      std::string status = SlaveStatus(*conn);
      if (status.find("Slave_SQL_Running='Yes'") == std::string::npos) {
        throw std::runtime_error(what + ": its applier has stopped: " + status);
      }
      if (std::chrono::steady_clock::now() > deadline) {
        throw std::runtime_error(what + " in time: " + status);
      }
    }
  } catch (const sql::SQLException& e) {
    throw std::runtime_error(what + ": " + e.what() + " (error " +
                             std::to_string(e.getErrorCode()) + ")");
  }
}

void TestReplicaSet::StopReplication(int i) {
  Execute(replica_settings(i), "STOP SLAVE");
  At(i).replicating = false;
}

void TestReplicaSet::StartReplication(int i) {
  Execute(replica_settings(i), "START SLAVE");
  At(i).replicating = true;
}

void TestReplicaSet::KillReplica(int i) {
  At(i).server->Kill();
  At(i).up = false;
}

void TestReplicaSet::StartReplica(int i) {
  At(i).server->Start();
  At(i).up = true;
  At(i).replicating = true;
}

}  // namespace whycache::testing
