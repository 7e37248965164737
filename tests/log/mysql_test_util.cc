#include "tests/log/mysql_test_util.h"

#include <cppconn/resultset.h>
#include <cppconn/statement.h>
#include <mysql_driver.h>
#include <stdlib.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <optional>
#include <random>
#include <sstream>
#include <thread>

#include "lib/log/mysql/mysql_change_log.h"
#include "tests/support/child_process.h"
#include "tests/support/temp_dir.h"
#include "tests/support/test_mariadb.h"
#include "whycache/error.h"

namespace whycache::mysql_log::testing {
namespace {

using whycache::testing::ChildProcess;
using whycache::testing::TempDir;
using whycache::testing::TestMariaDb;

// Runs the tailer: reads from id 0 and records every batch until the parent has written the
// final head id into `done_file` and the tailer has read up to it.
int Tail(const std::string& uri, const std::string& out_file, const std::string& done_file,
         std::chrono::seconds deadline_after_done) {
  auto log = OpenMysqlChangeLog(uri, {});
  std::ofstream out(out_file);
  uint64_t cursor = 0;
  std::optional<uint64_t> final_head;
  std::chrono::steady_clock::time_point deadline;
  while (true) {
    std::vector<Update> updates = log->ReadAfter(cursor, 1000);
    for (const Update& u : updates) {
      out << u.id << ' ' << u.mutations.at(0).key << '\n';
      cursor = u.id;
    }
    if (!updates.empty()) continue;
    if (!final_head) {
      std::ifstream done(done_file);
      uint64_t head;
      if (done >> head) {
        final_head = head;
        deadline = std::chrono::steady_clock::now() + deadline_after_done;
      }
    }
    if (final_head && cursor >= *final_head) return 0;
    if (final_head && std::chrono::steady_clock::now() > deadline) {
      std::cerr << "tailer: stuck at id " << cursor << " below the head " << *final_head << '\n';
      return 3;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
}

int Write(const std::string& uri, const WritersAndTailerRun& run, int writer,
          const std::string& out_file) {
  auto log = OpenMysqlChangeLog(uri, {}, run.writer_options);
  std::ofstream out(out_file);
  for (int seq = 0; seq < run.batches_per_writer; ++seq) {
    std::string key = "w" + std::to_string(writer) + "/" + std::to_string(seq);
    Mutation m = Mutation::Set(key, "value of " + key);
    try {
      uint64_t id = log->Append({&m, 1});
      out << "ok " << id << ' ' << key << '\n';
    } catch (const Error& e) {
      std::cerr << "writer " << writer << ": " << e.what() << '\n';
      out << "uncertain 0 " << key << '\n';
    }
    out.flush();
  }
  return 0;
}

std::string Await(ChildProcess& child, const std::string& name) {
  std::optional<int> status = child.WaitFor(std::chrono::minutes(3));
  if (!status) return name + " still running after 3 minutes";
  if (!ChildProcess::Succeeded(*status)) return name + " " + ChildProcess::Describe(*status);
  return "";
}

}  // namespace

TestMariaDb& Server() { return TestMariaDb::Shared(); }

std::string FreshTablePrefix() {
  // Test processes in separate sandboxes can share a pid (each has its own pid namespace) and,
  // after a restart moved a server, even a server: a random part keeps their tables apart.
  static const std::string process_part = [] {
    std::random_device random;
    char hex[9];
    std::snprintf(hex, sizeof hex, "%08x", static_cast<unsigned>(random()));
    return std::string(hex);
  }();
  static std::atomic<int> counter{0};
  return "t" + process_part + "_" + std::to_string(counter++);
}

std::string LogUri(const std::string& prefix) { return Server().settings().Uri(prefix); }

std::unique_ptr<ChangeLog> CreateFreshLog(const MysqlLogOptions& options, std::string* prefix_out) {
  std::string prefix = FreshTablePrefix();
  if (prefix_out != nullptr) *prefix_out = prefix;
  LogOptions log_options;
  log_options.create_if_missing = true;
  return OpenMysqlChangeLog(LogUri(prefix), log_options, options);
}

void DropLog(const std::string& prefix) {
  auto raw = RawConnection();
  std::unique_ptr<sql::Statement> statement(raw->createStatement());
  for (const char* procedure :
       {"_append", "_batch_add", "_batch_commit", "_batch_discard", "_check_mutation"}) {
    statement->execute("DROP PROCEDURE IF EXISTS " + prefix + procedure);
  }
  statement->execute("DROP VIEW IF EXISTS " + prefix + "_history");
  statement->execute("DROP TABLE IF EXISTS " + prefix + "_log, " + prefix + "_batch, " + prefix +
                     "_meta, " + prefix + "_reader_sync, " + prefix + "_schema_version");
}

std::unique_ptr<sql::Connection> RawConnection() {
  const auto& s = Server().settings();
  std::unique_ptr<sql::Connection> connection(
      sql::mysql::get_mysql_driver_instance()->connect(s.ConnectorUrl(), s.user, s.password));
  connection->setSchema(s.database);
  return connection;
}

void KillOtherConnections(sql::Connection& raw) {
  std::unique_ptr<sql::Statement> statement(raw.createStatement());
  std::unique_ptr<sql::ResultSet> ids(statement->executeQuery(
      "SELECT id FROM information_schema.processlist "
      "WHERE user = SUBSTRING_INDEX(USER(), '@', 1) AND id <> CONNECTION_ID()"));
  std::vector<uint64_t> victims;
  while (ids->next()) victims.push_back(ids->getUInt64(1));
  for (uint64_t id : victims) {
    try {
      statement->execute("KILL CONNECTION " + std::to_string(id));
    } catch (const sql::SQLException&) {
      // Already gone.
    }
  }
}

std::string QueryOne(sql::Connection& connection, const std::string& sql) {
  std::unique_ptr<sql::Statement> statement(connection.createStatement());
  std::unique_ptr<sql::ResultSet> rows(statement->executeQuery(sql));
  if (!rows->next() || rows->isNull(1)) return "";
  return rows->getString(1);
}

WritersAndTailerResult RunWritersAndTailer(const std::string& uri, const WritersAndTailerRun& run) {
  TempDir dir;
  const std::string done_file = dir.File("done");
  ChildProcess tailer([&] { return Tail(uri, dir.File("tailed"), done_file, run.tail_deadline); });
  std::vector<ChildProcess> writers;
  writers.reserve(run.writers);
  for (int w = 0; w < run.writers; ++w) {
    writers.emplace_back(
        [&, w] { return Write(uri, run, w, dir.File("writer" + std::to_string(w))); });
  }
  if (run.meanwhile) run.meanwhile();

  WritersAndTailerResult result;
  for (int w = 0; w < run.writers; ++w) {
    std::string failure = Await(writers[w], "writer " + std::to_string(w));
    if (!failure.empty()) result.child_failures.push_back(failure);
  }
  {
    uint64_t head = OpenMysqlChangeLog(uri, {})->HeadId();
    std::ofstream(done_file + ".tmp") << head << '\n';
    std::filesystem::rename(done_file + ".tmp", done_file);
  }
  std::string failure = Await(tailer, "tailer");
  if (!failure.empty()) result.child_failures.push_back(failure);

  for (int w = 0; w < run.writers; ++w) {
    std::ifstream in(dir.File("writer" + std::to_string(w)));
    std::string status, key;
    uint64_t id;
    while (in >> status >> id >> key) {
      if (status == "ok") {
        result.committed.emplace_back(id, key);
      } else {
        result.uncertain.push_back(key);
      }
    }
  }
  std::ifstream in(dir.File("tailed"));
  std::string key;
  uint64_t id;
  while (in >> id >> key) result.tailed.emplace_back(id, key);
  return result;
}

}  // namespace whycache::mysql_log::testing
