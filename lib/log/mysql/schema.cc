#include "lib/log/mysql/schema.h"

#include <cppconn/resultset.h>

#include <memory>
#include <stdexcept>

#include "whycache/error.h"
#include "whycache/version.h"

namespace whycache::mysql_log {
namespace {

constexpr int kInitLockWaitSeconds = 60;

std::string VersionTable(std::string_view prefix) {
  return std::string(prefix) + "_schema_version";
}

// The version recorded in {prefix}_schema_version, 0 when none is.
uint32_t AppliedVersion(MysqlConnection& connection) {
  sql::PreparedStatement& query = connection.Prepare("SELECT COALESCE(MAX(version), 0) FROM " +
                                                     VersionTable(connection.uri().table_prefix));
  std::unique_ptr<sql::ResultSet> rows(query.executeQuery());
  return rows->next() ? rows->getUInt(1) : 0;
}

[[noreturn]] void ThrowNewerSchema(const MysqlConnection& connection, uint32_t version) {
  throw Error(Error::Code::kUnavailable,
              "the MySQL log " + connection.uri().Describe() + " has schema version " +
                  std::to_string(version) + ", newer than this whycache understands (" +
                  std::to_string(kMysqlSchemaVersion) + "): upgrade whycache");
}

void ApplyLocked(MysqlConnection& connection) {
  const std::string& prefix = connection.uri().table_prefix;
  connection.Execute("CREATE TABLE IF NOT EXISTS " + VersionTable(prefix) +
                     " (version INT UNSIGNED NOT NULL PRIMARY KEY,"
                     " file VARCHAR(255) NOT NULL,"
                     " applied_at TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6)"
                     ") ENGINE = InnoDB");
  uint32_t applied = AppliedVersion(connection);
  if (applied > kMysqlSchemaVersion) ThrowNewerSchema(connection, applied);
  for (const SchemaFile& file : SchemaFiles()) {
    uint32_t version = SchemaFileVersion(file);
    if (version <= applied) continue;
    try {
      for (const std::string& statement : SchemaStatements(file.text, prefix)) {
        connection.Execute(statement);
      }
    } catch (const sql::SQLException& e) {
      if (IsConnectionLost(e)) throw;
      connection.Fail("applying schema/" + std::string(file.name), e);
    }
    sql::PreparedStatement& record = connection.Prepare("INSERT INTO " + VersionTable(prefix) +
                                                        " (version, file) VALUES (?, ?)");
    record.setUInt(1, version);
    record.setString(2, file.name);
    record.executeUpdate();
  }
}

}  // namespace

uint32_t SchemaFileVersion(const SchemaFile& file) {
  std::string_view name = file.name;
  uint32_t version = 0;
  size_t digits = 0;
  while (digits < name.size() && digits < 9 && name[digits] >= '0' && name[digits] <= '9') {
    version = version * 10 + static_cast<uint32_t>(name[digits] - '0');
    ++digits;
  }
  if (digits == 0 || digits >= name.size() || name[digits] != '_' || version == 0) {
    throw std::logic_error("schema file '" + std::string(name) + "' is not named NNN_what.sql");
  }
  return version;
}

std::vector<std::string> SchemaStatements(std::string_view text, std::string_view table_prefix) {
  std::vector<std::string> statements;
  std::string delimiter = ";";
  std::string current;
  while (!text.empty()) {
    size_t newline = text.find('\n');
    std::string_view line = text.substr(0, newline);
    text = newline == std::string_view::npos ? std::string_view() : text.substr(newline + 1);
    std::string_view trimmed = line.substr(0, line.find_last_not_of(" \t\r") + 1);
    size_t first = trimmed.find_first_not_of(" \t");
    if (first == std::string_view::npos) {
      if (!current.empty()) current += '\n';
      continue;
    }
    std::string_view content = trimmed.substr(first);
    if (current.empty() && content.starts_with("--")) continue;
    if (current.empty() && content.starts_with("DELIMITER ")) {
      delimiter = std::string(content.substr(10));
      continue;
    }
    bool ends = trimmed.ends_with(delimiter);
    if (ends) trimmed.remove_suffix(delimiter.size());
    current.append(trimmed);
    if (!ends) {
      current += '\n';
      continue;
    }
    std::string statement;
    for (size_t at = 0; at < current.size();) {
      size_t hit = current.find("{prefix}", at);
      statement.append(current, at, hit == std::string::npos ? std::string::npos : hit - at);
      if (hit == std::string::npos) break;
      statement.append(table_prefix);
      at = hit + 8;
    }
    if (statement.find_first_not_of(" \t\n") != std::string::npos) {
      statements.push_back(std::move(statement));
    }
    current.clear();
  }
  return statements;
}

void ApplySchema(MysqlConnection& connection) {
  try {
    connection.Run([&](int) {
      sql::PreparedStatement& lock = connection.Prepare(
          "SELECT GET_LOCK(CONCAT('whycache_init.', LEFT(MD5(CONCAT(DATABASE(), '.', ?)), 32)),"
          " ?)");
      lock.setString(1, connection.uri().table_prefix);
      lock.setInt(2, kInitLockWaitSeconds);
      std::unique_ptr<sql::ResultSet> got(lock.executeQuery());
      if (!got->next() || got->getInt(1) != 1) {
        throw Error(Error::Code::kBusy, "another `whycache init` of " +
                                            connection.uri().Describe() + " held its lock for " +
                                            std::to_string(kInitLockWaitSeconds) + " s");
      }
      // The lock is also released when the connection ends, so an error here cannot leak it.
      ApplyLocked(connection);
      connection.Execute("DO RELEASE_ALL_LOCKS()");
      return 0;
    });
  } catch (const sql::SQLException& e) {
    connection.Fail("creating the log's tables", e);
  }
}

void CheckSchema(MysqlConnection& connection) {
  uint32_t version = 0;
  try {
    version = AppliedVersion(connection);
  } catch (const sql::SQLException& e) {
    if (e.getErrorCode() != 1146) throw;  // 1146: no such table, the log is not initialized.
  }
  if (version > kMysqlSchemaVersion) ThrowNewerSchema(connection, version);
  if (version < kMysqlSchemaVersion) {
    throw Error(Error::Code::kUnavailable,
                "the MySQL log " + connection.uri().Describe() +
                    (version == 0 ? std::string(" is not initialized")
                                  : " has the old schema version " + std::to_string(version)) +
                    ": run `whycache init` with this --log");
  }
}

std::vector<uint64_t> ReadMetaColumns(MysqlConnection& connection,
                                      std::initializer_list<std::string_view> columns) {
  const std::string meta_table = connection.uri().table_prefix + "_meta";
  std::string list;
  for (std::string_view column : columns) list += (list.empty() ? "" : ", ") + std::string(column);
  sql::PreparedStatement& read =
      connection.Prepare("SELECT " + list + " FROM " + meta_table + " WHERE id = 1");
  std::unique_ptr<sql::ResultSet> rows(read.executeQuery());
  if (!rows->next()) {
    throw Error(Error::Code::kCorruption, "the MySQL log " + connection.uri().Describe() +
                                              " has no row 1 in " + meta_table +
                                              ": run `whycache init` to restore it");
  }
  std::vector<uint64_t> values;
  for (uint32_t i = 1; i <= columns.size(); ++i) values.push_back(rows->getUInt64(i));
  return values;
}

uint64_t ReadMetaColumn(MysqlConnection& connection, std::string_view column) {
  return ReadMetaColumns(connection, {column})[0];
}

}  // namespace whycache::mysql_log
