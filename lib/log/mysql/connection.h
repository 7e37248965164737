// One MySQL connection with the policy every part of the MySQL log shares: log in with the
// password from the environment or an option file, never reconnect silently (OPT_RECONNECT off,
// which would drop prepared statements), and on a lost connection reconnect with backoff and
// retry the caller's whole unit of work.
#ifndef WHYCACHE_LIB_LOG_MYSQL_CONNECTION_H_
#define WHYCACHE_LIB_LOG_MYSQL_CONNECTION_H_

#include <cppconn/connection.h>
#include <cppconn/exception.h>
#include <cppconn/prepared_statement.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>

#include "lib/log/mysql/mysql_uri.h"

namespace whycache::mysql_log {

// The password for `uri`: the [client] password of uri.defaults_file when one is named,
// else $WHYCACHE_MYSQL_PASSWORD, else empty. Throws Error(kInvalidArgument) naming the option
// file when it cannot be read.
std::string LookUpPassword(const MysqlUri& uri);

// True for the errors that mean the connection is gone or the server is restarting (client
// errors 2002, 2003, 2006, 2013, 2055; server shutdown 1053 and connection-killed 1927): the
// work can be retried on a new connection.
bool IsConnectionLost(const sql::SQLException& e);

// Thread-safety: none. One MysqlConnection per thread; never share it (nor what it returns).
class MysqlConnection {
 public:
  // Does not connect yet. `reconnect_budget` bounds the total time Run() spends reconnecting.
  // Throws Error(kInvalidArgument) unless IsValidTablePrefix(uri.table_prefix).
  MysqlConnection(MysqlUri uri, std::chrono::milliseconds reconnect_budget);
  ~MysqlConnection();
  MysqlConnection(const MysqlConnection&) = delete;
  MysqlConnection& operator=(const MysqlConnection&) = delete;

  const MysqlUri& uri() const { return uri_; }

  // How many times this object has connected: a session setting checked at one value holds
  // until it changes (a reconnect may reach a server restarted with other settings).
  uint64_t sessions() const { return sessions_; }

  // Connects if needed, runs `work(attempt)` (attempt counts from 0; `work` issues its
  // statements through Prepare() and Execute()) and returns its result. When it throws a
  // lost-connection error, drops the connection, waits (10 ms doubling up to 1 s), reconnects
  // and runs it again from the start; `work` must therefore be a whole unit that is safe to
  // repeat (a transaction, or a read). Throws Error(kUnavailable) naming the endpoint when the
  // server stays unreachable past the reconnect budget or refuses the login; any other SQL
  // error propagates as sql::SQLException.
  template <typename Work>
  auto Run(Work&& work) {
    auto deadline = std::chrono::steady_clock::now() + reconnect_budget_;
    for (int attempt = 0;; ++attempt) {
      try {
        EnsureConnected();
        return work(attempt);
      } catch (const sql::SQLException& e) {
        if (!IsConnectionLost(e)) throw;
        Drop();
        WaitBeforeRetry(attempt, deadline, e);
      }
    }
  }

  // A statement prepared on the current connection, cached by its text until the connection is
  // dropped. REQUIRES: called inside Run()'s work.
  sql::PreparedStatement& Prepare(const std::string& sql);

  // Executes a statement that takes no parameters and returns no rows (START TRANSACTION,
  // COMMIT, ROLLBACK, DDL). REQUIRES: called inside Run()'s work.
  void Execute(const std::string& sql);

  // Rolls back the current transaction, ignoring failures: used after an error, when the
  // connection may be gone already (a lost connection rolls back on the server by itself).
  void RollbackQuietly();

  // Forgets the connection and its prepared statements; the next Run() reconnects.
  void Drop();

  // Throws Error(kUnavailable) for a SQL error that retrying cannot fix, naming the endpoint,
  // the database and what was being done, e.g. Fail("reading the log head", e).
  [[noreturn]] void Fail(std::string_view doing, const sql::SQLException& e) const;

 private:
  void EnsureConnected();
  void WaitBeforeRetry(int attempt, std::chrono::steady_clock::time_point deadline,
                       const sql::SQLException& cause);
  [[noreturn]] void ThrowUnreachable(const sql::SQLException& cause) const;
  // What to check after a refused login: where this connection took its password from.
  std::string PasswordAdvice() const;

  const MysqlUri uri_;
  const std::chrono::milliseconds reconnect_budget_;
  std::unique_ptr<sql::Connection> connection_;
  uint64_t sessions_ = 0;
  std::unordered_map<std::string, std::unique_ptr<sql::PreparedStatement>> statements_;
};

}  // namespace whycache::mysql_log

#endif  // WHYCACHE_LIB_LOG_MYSQL_CONNECTION_H_
