#include "lib/log/mysql/server_settings.h"

#include <cppconn/resultset.h>

#include <map>
#include <memory>

#include "whycache/error.h"

namespace whycache::mysql_log {

namespace {

// Name -> value of the variables named in `quoted_names` ("'a', 'b'"), as the session sees
// them: the session's value where there is one, else the global one. SHOW VARIABLES rather than
// @@names: MySQL 8 dropped tx_isolation and MariaDB before 11.1 lacks transaction_isolation, and
// a missing @@name is an error; a missing name here is just absent from the map.
std::map<std::string, std::string> ShowVariables(MysqlConnection& connection,
                                                 const std::string& quoted_names) {
  sql::PreparedStatement& show =
      connection.Prepare("SHOW SESSION VARIABLES WHERE Variable_name IN (" + quoted_names + ")");
  std::unique_ptr<sql::ResultSet> rows(show.executeQuery());
  std::map<std::string, std::string> values;
  while (rows->next()) values[rows->getString(1)] = rows->getString(2);
  return values;
}

}  // namespace

std::vector<UnsafeSetting> FindUnsafeServerSettings(MysqlConnection& connection) {
  std::map<std::string, std::string> values =
      ShowVariables(connection,
                    "'innodb_flush_log_at_trx_commit', 'log_bin', 'sync_binlog', 'autocommit', "
                    "'tx_isolation', 'transaction_isolation', 'rpl_semi_sync_master_enabled', "
                    "'rpl_semi_sync_master_wait_point'");

  std::vector<UnsafeSetting> unsafe;
  const std::string flush = values["innodb_flush_log_at_trx_commit"];
  if (flush != "1") {
    unsafe.push_back({"innodb_flush_log_at_trx_commit", flush.empty() ? "unknown" : flush, "1",
                      "a crash of the server's machine can lose batches whose COMMIT returned"});
  }
  const std::string sync_binlog = values["sync_binlog"];
  if (values["log_bin"] == "ON" && sync_binlog != "1") {
    unsafe.push_back({"sync_binlog", sync_binlog, "1 while log_bin is ON",
                      "crash recovery rolls back committed batches missing from the binary log"});
  }
  const std::string wait_point = values["rpl_semi_sync_master_wait_point"];
  if (values["rpl_semi_sync_master_enabled"] == "ON" && wait_point != "AFTER_SYNC") {
    unsafe.push_back({"rpl_semi_sync_master_wait_point",
                      wait_point.empty() ? "unknown" : wait_point,
                      "AFTER_SYNC while rpl_semi_sync_master_enabled is ON",
                      "readers can apply a batch that no replica has received, which a failover "
                      "to a replica then loses"});
  }
  const std::string autocommit = values["autocommit"];
  if (autocommit != "ON" && autocommit != "1") {
    unsafe.push_back({"autocommit", autocommit, "ON",
                      "a reader keeps one snapshot and stops seeing new batches"});
  }
  std::string isolation = values["transaction_isolation"];
  if (isolation.empty()) isolation = values["tx_isolation"];
  if (isolation != "READ-COMMITTED" && isolation != "REPEATABLE-READ" &&
      isolation != "SERIALIZABLE") {
    unsafe.push_back({"transaction_isolation", isolation.empty() ? "unknown" : isolation,
                      "READ-COMMITTED, REPEATABLE-READ or SERIALIZABLE",
                      "readers can apply a batch that is then rolled back"});
  }
  return unsafe;
}

bool CheckServerSettings(MysqlConnection& connection, bool allow_unsafe) {
  const std::vector<UnsafeSetting> unsafe = FindUnsafeServerSettings(connection);
  if (unsafe.empty()) return true;
  if (allow_unsafe) return false;
  std::string message = "the MySQL server of the log " + connection.uri().Describe() +
                        " is not safe for the change log:";
  for (const UnsafeSetting& s : unsafe) {
    message +=
        " " + s.name + " is " + s.value + " but must be " + s.required + " (" + s.risk + ");";
  }
  message += " change the server's settings, or accept the risk with " +
             std::string(kAllowUnsafeServerSettingsParameter) +
             "=1 in the log URI (LogOptions::allow_unsafe_server_settings)";
  throw Error(Error::Code::kUnavailable, message);
}

bool ShowsCommitsBeforeTheyAreDurable(MysqlConnection& connection) {
  // Both are global only: the session sees the server's values.
  std::map<std::string, std::string> values = ShowVariables(connection, "'log_bin', 'read_only'");
  return values["log_bin"] != "ON" && values["read_only"] != "ON";
}

}  // namespace whycache::mysql_log
