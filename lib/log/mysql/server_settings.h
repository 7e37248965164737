// The server and session settings the MySQL log's guarantees rest on, and the one place that
// decides whether a server has them.
//
// A batch is acknowledged to its writer, and applied by readers, once its COMMIT returns; that is
// only safe if the commit is on disk by then (innodb_flush_log_at_trx_commit = 1; with the binary
// log on, sync_binlog = 1 too, since crash recovery keeps only transactions found in the binary
// log). Readers read in autocommit mode and must see committed rows only: autocommit on, and
// an isolation level other than READ-UNCOMMITTED, which would let them apply a batch that is
// later rolled back and whose id then goes to another batch. Where semi-synchronous replication
// is on, a commit must wait for a replica's acknowledgement before it becomes visible
// (rpl_semi_sync_master_wait_point = AFTER_SYNC): otherwise readers of the primary may apply a
// batch that a failover to a replica loses.
#ifndef WHYCACHE_LIB_LOG_MYSQL_SERVER_SETTINGS_H_
#define WHYCACHE_LIB_LOG_MYSQL_SERVER_SETTINGS_H_

#include <string>
#include <vector>

#include "lib/log/mysql/connection.h"

namespace whycache::mysql_log {

// One setting that fails the check.
struct UnsafeSetting {
  std::string name;      // e.g. "innodb_flush_log_at_trx_commit"
  std::string value;     // As the server reports it, e.g. "2".
  std::string required;  // e.g. "1"
  std::string risk;      // What can go wrong with it, for the message.
};

// Reads the settings of the server and of `connection`'s session, and returns those that fail
// the check (empty when the server is safe). REQUIRES: called inside connection.Run()'s work.
// Lost connections propagate as sql::SQLException (Run retries them).
std::vector<UnsafeSetting> FindUnsafeServerSettings(MysqlConnection& connection);

// Returns true when the server passes the check, false when it fails it and `allow_unsafe` is
// set; otherwise throws Error(kUnavailable) naming the endpoint, each failing setting with its
// value and the value needed, and the override. REQUIRES: called inside connection.Run()'s work.
bool CheckServerSettings(MysqlConnection& connection, bool allow_unsafe);

// Whether a commit this server shows to other sessions may still be lost to a crash of its
// machine: true for a server that takes writes (read_only OFF) and writes no binary log (log_bin
// OFF), where InnoDB shows a commit a moment before its redo is flushed. With the binary log on
// (and sync_binlog = 1, which the check above requires) a commit is in it and synced before
// other sessions see it or replicas get it, and crash recovery keeps it. A read-only server (a
// replica) holds only what its primary made durable, and after a crash fetches again from its
// primary what it lost. REQUIRES: called inside connection.Run()'s work.
bool ShowsCommitsBeforeTheyAreDurable(MysqlConnection& connection);

}  // namespace whycache::mysql_log

#endif  // WHYCACHE_LIB_LOG_MYSQL_SERVER_SETTINGS_H_
