// The change log in MySQL/MariaDB tables (layout and protocol: schema/001_create_log.sql).
//
// Appends are serialized on the meta row, so update ids commit in id order and a reader paging
// with `update_id > last` never skips one. Every append carries a random 128-bit token stored
// with its batch: after a lost connection the writer reconnects, finds out whether its COMMIT
// happened, and either returns the committed id or retries, so a batch is never appended twice.
// On a server that takes writes without a binary log, a read commits a one-row update before
// returning batches it has not returned before, so that nothing it returns can be lost to a
// server crash (MysqlLogOptions::durable_reads, schema/README.md); elsewhere reads only read.
// HeadId() and Horizon() are plain single-row reads. Compact() rewrites old history in chunked
// transactions while others append and read (mysql_compaction.h).
#ifndef WHYCACHE_LIB_LOG_MYSQL_MYSQL_CHANGE_LOG_H_
#define WHYCACHE_LIB_LOG_MYSQL_MYSQL_CHANGE_LOG_H_

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "lib/log/mysql/mysql_log_options.h"
#include "whycache/change_log.h"

namespace whycache::mysql_log {

// Opens the MySQL log named by `uri` (a mysql:// URI, see mysql_uri.h). With
// options.create_if_missing, creates or upgrades its tables first (what `whycache init` does).
// Throws Error(kInvalidArgument) for a malformed URI, Error(kUnavailable) if the server cannot
// be reached, refuses the login or the log is not initialized.
// The result owns one connection: use it from one thread at a time.
std::unique_ptr<ChangeLog> OpenMysqlChangeLog(std::string_view uri, const LogOptions& options,
                                              const MysqlLogOptions& mysql_options = {});

}  // namespace whycache::mysql_log

#endif  // WHYCACHE_LIB_LOG_MYSQL_MYSQL_CHANGE_LOG_H_
