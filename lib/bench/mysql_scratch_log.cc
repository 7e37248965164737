#include "lib/bench/mysql_scratch_log.h"

#include <cstdio>
#include <random>

#include "lib/log/mysql/connection.h"
#include "whycache/change_log.h"

namespace whycache::bench {
namespace {

// What schema/ creates under a prefix: views and procedures first, then the tables they use.
constexpr const char* kDropStatements[] = {
    "DROP VIEW IF EXISTS {}_history",
    "DROP PROCEDURE IF EXISTS {}_append",
    "DROP PROCEDURE IF EXISTS {}_batch_add",
    "DROP PROCEDURE IF EXISTS {}_batch_commit",
    "DROP PROCEDURE IF EXISTS {}_batch_discard",
    "DROP PROCEDURE IF EXISTS {}_check_mutation",
    "DROP TABLE IF EXISTS {}_log, {}_batch, {}_meta, {}_reader_sync, {}_schema_version",
};

std::string WithPrefix(std::string statement, const std::string& prefix) {
  for (size_t at = statement.find("{}"); at != std::string::npos; at = statement.find("{}")) {
    statement.replace(at, 2, prefix);
  }
  return statement;
}

}  // namespace

MysqlScratchLog::MysqlScratchLog(const std::string& uri) : uri_(mysql_log::ParseMysqlUri(uri)) {
  std::random_device random;
  char hex[9];
  std::snprintf(hex, sizeof hex, "%08x", static_cast<unsigned>(random()));
  uri_.table_prefix = std::string("bench_") + hex;
  LogOptions options;
  options.create_if_missing = true;
  OpenChangeLog(uri_.Describe(), options);
}

MysqlScratchLog::~MysqlScratchLog() {
  try {
    mysql_log::MysqlConnection connection(uri_, std::chrono::milliseconds(2000));
    connection.Run([&](int) {
      for (const char* statement : kDropStatements) {
        connection.Execute(WithPrefix(statement, uri_.table_prefix));
      }
      return 0;
    });
  } catch (const std::exception& e) {
    // The figures are measured already: say what is left behind rather than fail the run.
    std::fprintf(stderr, "whycache bench: could not drop the tables %s_*: %s\n",
                 uri_.table_prefix.c_str(), e.what());
  }
}

}  // namespace whycache::bench
