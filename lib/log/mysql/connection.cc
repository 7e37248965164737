#include "lib/log/mysql/connection.h"

#include <cppconn/driver.h>
#include <cppconn/statement.h>
#include <mysql_driver.h>
#include <stdlib.h>

#include <algorithm>
#include <fstream>
#include <thread>

#include "whycache/error.h"

namespace whycache::mysql_log {
namespace {

constexpr int kConnectTimeoutSeconds = 5;
// Longer than InnoDB's default lock wait (50 s), so that a writer queued behind others on the
// meta row gets the server's answer, yet a hung server does not block a caller forever.
constexpr int kReadWriteTimeoutSeconds = 120;

std::string Trim(std::string_view s) {
  size_t b = s.find_first_not_of(" \t\r");
  if (b == std::string_view::npos) return "";
  size_t e = s.find_last_not_of(" \t\r");
  return std::string(s.substr(b, e - b + 1));
}

// The `password` of the [client] group of a MySQL option file (the format of my.cnf).
std::string PasswordFromOptionFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) {
    throw Error(Error::Code::kInvalidArgument,
                "cannot read the MySQL option file '" + path + "' named by defaults-file");
  }
  std::string line;
  bool in_client = false;
  std::string password;
  for (int line_count = 0; line_count < 100000 && std::getline(in, line); ++line_count) {
    std::string t = Trim(line);
    if (t.empty() || t[0] == '#' || t[0] == ';') continue;
    if (t[0] == '[') {
      in_client = Trim(t.substr(1, t.find(']') - 1)) == "client";
      continue;
    }
    if (!in_client) continue;
    size_t eq = t.find('=');
    if (eq == std::string::npos || Trim(t.substr(0, eq)) != "password") continue;
    password = Trim(t.substr(eq + 1));
    if (password.size() >= 2 && (password[0] == '"' || password[0] == '\'') &&
        password.back() == password[0]) {
      password = password.substr(1, password.size() - 2);
    }
  }
  return password;
}

}  // namespace

std::string LookUpPassword(const MysqlUri& uri) {
  if (!uri.defaults_file.empty()) return PasswordFromOptionFile(uri.defaults_file);
  const char* env = getenv("WHYCACHE_MYSQL_PASSWORD");
  return env == nullptr ? "" : env;
}

bool IsConnectionLost(const sql::SQLException& e) {
  switch (e.getErrorCode()) {
    case 2002:  // Can't connect through the socket.
    case 2003:  // Can't connect over TCP.
    case 2006:  // Server has gone away.
    case 2013:  // Lost connection during a query.
    case 2055:  // Lost connection at a system call.
    case 1053:  // Server shutdown in progress.
    case 1927:  // Connection was killed.
      return true;
    default:
      return false;
  }
}

MysqlConnection::MysqlConnection(MysqlUri uri, std::chrono::milliseconds reconnect_budget)
    : uri_(std::move(uri)), reconnect_budget_(reconnect_budget) {
  // The table prefix is spliced into every statement's text: check it here too, where SQL is
  // made, for a MysqlUri that did not come from ParseMysqlUri.
  if (!IsValidTablePrefix(uri_.table_prefix)) {
    throw Error(Error::Code::kInvalidArgument,
                "the MySQL log's table prefix must be 1 to " +
                    std::to_string(kMaxTablePrefixBytes) +
                    " letters, digits or underscores, not starting with a digit");
  }
}

MysqlConnection::~MysqlConnection() { Drop(); }

void MysqlConnection::EnsureConnected() {
  if (connection_ != nullptr) return;
  sql::ConnectOptionsMap options;
  if (uri_.socket.empty()) {
    options["hostName"] = sql::SQLString("tcp://" + uri_.host);
    options["port"] = uri_.port;
  } else {
    options["hostName"] = sql::SQLString("unix://" + uri_.socket);
  }
  options["userName"] = sql::SQLString(uri_.user);
  options["password"] = sql::SQLString(LookUpPassword(uri_));
  options["schema"] = sql::SQLString(uri_.database);
  options["OPT_RECONNECT"] = false;
  options["OPT_CONNECT_TIMEOUT"] = kConnectTimeoutSeconds;
  options["OPT_READ_TIMEOUT"] = kReadWriteTimeoutSeconds;
  options["OPT_WRITE_TIMEOUT"] = kReadWriteTimeoutSeconds;
  try {
    connection_.reset(sql::mysql::get_mysql_driver_instance()->connect(options));
    ++sessions_;
  } catch (const sql::SQLException& e) {
    if (IsConnectionLost(e)) throw;
    switch (e.getErrorCode()) {
      case 1045:  // Access denied (wrong user or password).
        throw Error(Error::Code::kUnavailable, "MySQL refused the login of " + uri_.Endpoint() +
                                                   " (access denied): " + PasswordAdvice());
      case 1044:  // Access denied to the database.
      case 1049:  // Unknown database.
        throw Error(Error::Code::kUnavailable,
                    "MySQL at " + uri_.Endpoint() + " cannot open database '" + uri_.database +
                        "': " + e.what() + "; create it, or grant " + uri_.user + " access to it");
      default:
        ThrowUnreachable(e);
    }
  }
}

std::string MysqlConnection::PasswordAdvice() const {
  if (!uri_.defaults_file.empty()) {
    return "check the password of the [client] group in " + uri_.defaults_file +
           " (named by defaults-file)";
  }
  if (getenv("WHYCACHE_MYSQL_PASSWORD") == nullptr) {
    return "WHYCACHE_MYSQL_PASSWORD is not set: set it to the password of " + uri_.user +
           ", or name an option file with &defaults-file=PATH";
  }
  return "check the password in WHYCACHE_MYSQL_PASSWORD";
}

void MysqlConnection::Drop() {
  statements_.clear();
  connection_.reset();
}

void MysqlConnection::WaitBeforeRetry(int attempt, std::chrono::steady_clock::time_point deadline,
                                      const sql::SQLException& cause) {
  auto now = std::chrono::steady_clock::now();
  if (now >= deadline) ThrowUnreachable(cause);
  auto backoff = std::chrono::milliseconds(std::min(10 << std::min(attempt, 7), 1000));
  std::this_thread::sleep_for(
      std::min<std::chrono::steady_clock::duration>(backoff, deadline - now));
}

void MysqlConnection::ThrowUnreachable(const sql::SQLException& cause) const {
  throw Error(Error::Code::kUnavailable,
              "cannot reach MySQL at " + uri_.Endpoint() + " (database '" + uri_.database +
                  "') within " + std::to_string(reconnect_budget_.count()) + " ms: error " +
                  std::to_string(cause.getErrorCode()) + ": " + cause.what() +
                  "; check that the server is running");
}

void MysqlConnection::Fail(std::string_view doing, const sql::SQLException& e) const {
  throw Error(Error::Code::kUnavailable, "MySQL at " + uri_.Endpoint() + " (database '" +
                                             uri_.database + "'): " + std::string(doing) +
                                             " failed: error " + std::to_string(e.getErrorCode()) +
                                             ": " + e.what());
}

sql::PreparedStatement& MysqlConnection::Prepare(const std::string& sql) {
  auto it = statements_.find(sql);
  if (it != statements_.end()) return *it->second;
  std::unique_ptr<sql::PreparedStatement> statement(connection_->prepareStatement(sql));
  return *statements_.emplace(sql, std::move(statement)).first->second;
}

void MysqlConnection::Execute(const std::string& sql) {
  std::unique_ptr<sql::Statement> statement(connection_->createStatement());
  statement->execute(sql);
}

void MysqlConnection::RollbackQuietly() {
  if (connection_ == nullptr) return;
  try {
    Execute("ROLLBACK");
  } catch (const sql::SQLException&) {
    // The connection is unusable; the server rolls back when it notices.
    Drop();
  }
}

}  // namespace whycache::mysql_log
