// Shared by the MySQL log's tests and benchmarks: fresh logs in the fixture's server,
// raw SQL access, and a run of concurrent writer processes against a tailer process.
#ifndef WHYCACHE_TESTS_LOG_MYSQL_TEST_UTIL_H_
#define WHYCACHE_TESTS_LOG_MYSQL_TEST_UTIL_H_

#include <cppconn/connection.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "lib/log/mysql/mysql_log_options.h"
#include "tests/support/test_mariadb.h"
#include "whycache/change_log.h"

namespace whycache::mysql_log::testing {

// The fixture's server (TestMariaDb::Shared()).
whycache::testing::TestMariaDb& Server();

// A table prefix no other test uses ("t<random hex>_<n>").
std::string FreshTablePrefix();

// The fixture server's URI for the log with table prefix `prefix`.
std::string LogUri(const std::string& prefix);

// Creates a log under a fresh prefix (what `whycache init` does) and opens it.
std::unique_ptr<ChangeLog> CreateFreshLog(const MysqlLogOptions& options = {},
                                          std::string* prefix_out = nullptr);

// Drops everything `whycache init` created for the log with table prefix `prefix`.
void DropLog(const std::string& prefix);

// A plain Connector/C++ connection to the fixture's database, for SQL the way other clients
// write it.
std::unique_ptr<sql::Connection> RawConnection();

// Kills every connection of the test user but `raw`'s own, as a server restart would: a log's
// connection dies in the middle of whatever it is doing.
void KillOtherConnections(sql::Connection& raw);

// Runs `sql` on `connection` and returns the first column of the first row as text ("" if
// there is none or it is NULL).
std::string QueryOne(sql::Connection& connection, const std::string& sql);

struct WritersAndTailerRun {
  int writers = 4;
  int batches_per_writer = 250;
  // Options of the writers' logs (e.g. a before_commit delay, the AUTO_INCREMENT trap mode).
  MysqlLogOptions writer_options;
  // Runs in the parent while the children work (e.g. restarts the server). May be empty.
  std::function<void()> meanwhile;
  // How long the tailer keeps reading once the writers are done before giving up.
  std::chrono::seconds tail_deadline{60};
};

struct WritersAndTailerResult {
  // (update id, key) of every append that returned, as the writers saw them.
  std::vector<std::pair<uint64_t, std::string>> committed;
  // Keys of appends that threw: each committed once or not at all.
  std::vector<std::string> uncertain;
  // (update id, key) of every batch the tailer read, in the order it read them.
  std::vector<std::pair<uint64_t, std::string>> tailed;
  std::vector<std::string> child_failures;  // Children that did not exit with status 0.
};

// Forks `run.writers` writer processes, each appending `batches_per_writer` one-mutation
// batches with unique keys to the log at `uri`, and one tailer process reading it from id 0.
// Waits for all of them. REQUIRES: a single-threaded caller (it forks).
WritersAndTailerResult RunWritersAndTailer(const std::string& uri, const WritersAndTailerRun& run);

}  // namespace whycache::mysql_log::testing

#endif  // WHYCACHE_TESTS_LOG_MYSQL_TEST_UTIL_H_
