// A MariaDB replication set for tests: one primary and N replicas, each a throwaway server of
// bazel/mariadb-test-server.sh in its own temporary directory on a free loopback port.
//
// The primary writes a binary log in ROW format with GTIDs and makes every commit durable before
// it is visible or replicated (sync_binlog=1, innodb_flush_log_at_trx_commit=1). Each replica is
// read-only and replicates from the primary with MASTER_USE_GTID=slave_pos, so its position lives
// in InnoDB and survives a crash. Every server has the test user of TestMariaDb (all privileges
// on the test database; on a read-only replica that means reading) and a reader user with SELECT
// on the test database and nothing else.
//
// All servers are stopped when the set is destroyed, and by the script's watcher if the test
// process dies first. A TestReplicaSet is used from one thread; forked children must not use it
// (they may destroy their copy: only the process that started the servers stops them).
#ifndef WHYCACHE_TESTS_SUPPORT_TEST_MARIADB_REPLICATION_H_
#define WHYCACHE_TESTS_SUPPORT_TEST_MARIADB_REPLICATION_H_

#include <cppconn/connection.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "tests/support/test_mariadb.h"

namespace whycache::testing {

struct ReplicaOptions {
  // slave_parallel_threads of every replica; 0 applies the primary's transactions one by one.
  int parallel_threads = 0;
  // slave_parallel_mode of every replica ("conservative", "optimistic", "aggressive", "minimal"
  // or "none"); matters only with parallel_threads > 0.
  std::string parallel_mode = "conservative";
};

// A connection as root to a server of a replication set (or any server this process started),
// e.g. to write on a replica despite read-only or to stop only its SQL thread. Root logs in
// through the server's socket. Throws sql::SQLException when the server is down.
std::unique_ptr<sql::Connection> ConnectAsRoot(const MariaDbSettings& server);

class TestReplicaSet {
 public:
  // Starts a primary and `replicas` replicas of it, replicating. Throws std::runtime_error (with
  // the script's messages on stderr) when a server cannot be started. REQUIRES: replicas >= 0.
  static std::unique_ptr<TestReplicaSet> Start(int replicas, const ReplicaOptions& options);

  // The primary, e.g. to kill and restart it; its replicas reconnect within seconds.
  TestMariaDb& primary() { return *primary_; }
  const MariaDbSettings& primary_settings() const { return primary_->settings(); }

  int replica_count() const { return static_cast<int>(replicas_.size()); }
  // REQUIRES: 0 <= i < replica_count(), here and in every method taking a replica's index.
  const MariaDbSettings& replica_settings(int i) const;

  // `server`'s settings (of the primary or a replica) with the reader's user and password.
  MariaDbSettings AsReader(const MariaDbSettings& server) const;

  // Returns once every replica that is up and replicating (not stopped by StopReplication or
  // KillReplica) has applied every transaction the primary had committed when this was called.
  // Throws std::runtime_error naming the replica, the positions and its replication threads'
  // state and errors when one has not got there within `timeout`, at once when its applier
  // (SQL) thread has stopped (e.g. on an error), and naming the server when the primary or a
  // replica cannot be reached.
  void WaitForReplicas(std::chrono::seconds timeout = std::chrono::seconds(30));

  // STOP SLAVE / START SLAVE on replica i: while stopped it fetches and applies nothing, so it
  // lags the primary. Both return once the replication threads have stopped or started.
  void StopReplication(int i);
  void StartReplication(int i);

  // Kills replica i with SIGKILL, as a crash, or starts it again on its port and data; a
  // started replica replicates again (also after StopReplication) and catches up from the
  // position it had made durable.
  void KillReplica(int i);
  void StartReplica(int i);

  ~TestReplicaSet() = default;
  TestReplicaSet(const TestReplicaSet&) = delete;
  TestReplicaSet& operator=(const TestReplicaSet&) = delete;

 private:
  struct Replica {
    std::unique_ptr<TestMariaDb> server;
    bool up = true;
    bool replicating = true;
  };

  TestReplicaSet() = default;
  Replica& At(int i);
  const Replica& At(int i) const;
  void WaitForReplica(int i, const std::string& gtid_position,
                      std::chrono::steady_clock::time_point deadline);

  // Declared before the replicas, so that they are stopped first.
  std::unique_ptr<TestMariaDb> primary_;
  std::vector<Replica> replicas_;
};

}  // namespace whycache::testing

#endif  // WHYCACHE_TESTS_SUPPORT_TEST_MARIADB_REPLICATION_H_
