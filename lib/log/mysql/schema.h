// The MySQL log's tables: creating and upgrading them from the versioned files of schema/
// (compiled into the library), and checking that a log is initialized before it is used.
#ifndef WHYCACHE_LIB_LOG_MYSQL_SCHEMA_H_
#define WHYCACHE_LIB_LOG_MYSQL_SCHEMA_H_

#include <cstdint>
#include <initializer_list>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "lib/log/mysql/connection.h"

namespace whycache::mysql_log {

// One file of schema/, e.g. {"001_create_log.sql", "...", 1}.
struct SchemaFile {
  const char* name;
  const char* text;
};

// Every file of schema/, in file-name order (generated at build time).
std::span<const SchemaFile> SchemaFiles();

// The schema version a file applies: the number its name starts with ("001_..." is 1).
// Throws std::logic_error for a file named otherwise (a build mistake).
uint32_t SchemaFileVersion(const SchemaFile& file);

// Splits a schema file into statements, the way the mysql client reads a script: a line
// "DELIMITER X" sets the statement terminator (";" at first), comment-only lines between
// statements are dropped, and every "{prefix}" becomes `table_prefix`.
// REQUIRES: IsValidTablePrefix(table_prefix).
std::vector<std::string> SchemaStatements(std::string_view text, std::string_view table_prefix);

// Brings the tables of `connection`'s log up to kMysqlSchemaVersion: applies, in order, every
// schema file newer than the version recorded in {prefix}_schema_version and records it.
// Concurrent callers are serialized by a named lock (GET_LOCK). Idempotent.
// Throws Error(kUnavailable) if the server cannot be reached or refuses a statement, naming the
// file and the endpoint.
void ApplySchema(MysqlConnection& connection);

// Returns normally if the log's tables exist at kMysqlSchemaVersion. Otherwise throws
// Error(kUnavailable) saying to run `whycache init` (never initialized, or an older version) or
// to upgrade whycache (a newer version). REQUIRES: called inside connection.Run()'s work; SQL
// errors other than a missing table propagate.
void CheckSchema(MysqlConnection& connection);

// The values of `columns` (e.g. "head_id") in row 1 of {prefix}_meta, read by one statement, in
// the order given. Throws Error(kCorruption) naming the log when the row is missing.
// REQUIRES: called inside connection.Run()'s work; each column is a column of the meta table
// (they are spliced into the statement).
std::vector<uint64_t> ReadMetaColumns(MysqlConnection& connection,
                                      std::initializer_list<std::string_view> columns);
// ReadMetaColumns for one column.
uint64_t ReadMetaColumn(MysqlConnection& connection, std::string_view column);

}  // namespace whycache::mysql_log

#endif  // WHYCACHE_LIB_LOG_MYSQL_SCHEMA_H_
