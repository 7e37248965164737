// The MariaDB server that MySQL-backed tests talk to.
//
// If MDB_HOST (with MDB_PORT, MDB_USER, MDB_PASS, MDB_DB and optionally MDB_SOCKET) is set, the
// tests use that running server. Otherwise the first use starts a throwaway server with
// bazel/mariadb-test-server.sh in a fresh directory; it is stopped when the test process exits,
// and by a watcher if the process dies. A test that needs a server and cannot get one fails.
#ifndef WHYCACHE_TESTS_SUPPORT_TEST_MARIADB_H_
#define WHYCACHE_TESTS_SUPPORT_TEST_MARIADB_H_

#include <map>
#include <memory>
#include <string>

#include "lib/io/temp_dir.h"

namespace whycache::testing {

struct MariaDbSettings {
  std::string host;
  int port = 0;
  std::string socket;  // May be empty for a server given through MDB_*.
  std::string user;
  std::string password;
  std::string database;
  int pid = 0;  // The server's process when this process started it; else 0.

  // "mysql://USER@HOST:PORT/DATABASE", with "?table=NAME" when `table` is not empty.
  std::string Uri(const std::string& table = "") const;
  // "tcp://HOST:PORT" for Connector/C++.
  std::string ConnectorUrl() const;
};

class TestMariaDb {
 public:
  // The server of this test process, started on first use. Also sets WHYCACHE_MYSQL_PASSWORD
  // so that whycache code under test can log in. Throws std::runtime_error (with the script's
  // error output) when no server can be had.
  static TestMariaDb& Shared();

  // A throwaway server of the caller's own, started now with `extra_server_options` appended to
  // the fixture's mariadbd options (later options win), e.g.
  // "--innodb-flush-log-at-trx-commit=2". `script_settings` are MDB_* settings of
  // bazel/mariadb-test-server.sh (e.g. {"MDB_ROLE", "primary"}), given to every start, stop and
  // kill of the server. Stopped when the result is destroyed. Also sets
  // WHYCACHE_MYSQL_PASSWORD. Throws std::runtime_error when it cannot be started,
  // std::invalid_argument for an option or setting with a quote.
  using ScriptSettings = std::map<std::string, std::string>;
  static std::unique_ptr<TestMariaDb> StartPrivate(const std::string& extra_server_options,
                                                   const ScriptSettings& script_settings = {});

  const MariaDbSettings& settings() const { return settings_; }

  // True if this process started the server (and so may stop, kill and restart it).
  bool owned() const { return dir_ != nullptr; }

  // Failure injection. REQUIRES: owned().
  // Stop: clean shutdown. Kill: SIGKILL, as a crash. Start: back up on the same port and data.
  void Stop();
  void Kill();
  void Start();

  ~TestMariaDb();
  TestMariaDb(const TestMariaDb&) = delete;
  TestMariaDb& operator=(const TestMariaDb&) = delete;

 private:
  TestMariaDb(std::string extra_server_options, ScriptSettings script_settings);
  void RunScript(const std::string& command, bool keep_data);

  MariaDbSettings settings_;
  const std::string extra_server_options_;
  const ScriptSettings script_settings_;
  // The throwaway server's directory; null for an external server.
  std::unique_ptr<io::TempDir> dir_;
  pid_t owner_pid_ = 0;  // Forked children must not stop the parent's server.
};

}  // namespace whycache::testing

#endif  // WHYCACHE_TESTS_SUPPORT_TEST_MARIADB_H_
