// Settings of the MySQL log beyond the public LogOptions: tuning, and hooks for tests.
#ifndef WHYCACHE_LIB_LOG_MYSQL_MYSQL_LOG_OPTIONS_H_
#define WHYCACHE_LIB_LOG_MYSQL_MYSQL_LOG_OPTIONS_H_

#include <chrono>
#include <cstddef>
#include <functional>
#include <string>

namespace whycache::mysql_log {

struct MysqlLogOptions {
  // Total time one call may spend reconnecting (with backoff) before it throws
  // Error(kUnavailable). OpenChangeLog sets it from LogOptions::reconnect_budget.
  std::chrono::milliseconds reconnect_budget{30'000};

  // Rows per multi-row INSERT of a batch (fewer when the rows are large).
  size_t rows_per_insert = 250;
  // Most rows one tail query asks for.
  size_t read_page_rows = 10'000;

  // Whether a read, before returning batches it has not returned before, commits a one-row
  // update (see {prefix}_reader_sync in schema/) so that no batch it returns can vanish in a
  // crash of the server's machine. That can happen only on a server without a binary log, where
  // InnoDB shows a commit to other sessions a moment before it flushes its redo. With the binary
  // log on, a commit is written to it and synced (sync_binlog = 1, which writers require,
  // server_settings.h) before other sessions see it, and crash recovery keeps it.
  //   kAuto     only on a server that takes writes without a binary log (log_bin and read_only
  //             OFF, server_settings.h), checked once per connection session: a reader of a
  //             server with a binary log, or of a read-only replica, needs only SELECT.
  //   kAlways   on every server (URI: durable_reads=1).
  //   kNever    never (URI: durable_reads=0): a crash of a server without a binary log can take
  //             back batches a machine has applied, whose ids then go to other batches.
  enum class DurableReads { kAuto, kAlways, kNever };
  DurableReads durable_reads = DurableReads::kAuto;

  // Reads from replicas (replicas= in the URI; read_servers.h). The name that picks this
  // machine's preferred replica; empty means the host name.
  std::string machine_name;
  // A replica whose head id is below the head id the primary had this long ago is skipped.
  std::chrono::milliseconds max_replica_lag{10'000};
  // Reads sample the primary's head id (and their replica's) at most this often.
  std::chrono::milliseconds lag_sample_interval{1'000};
  // How long reads keep reconnecting to a replica before they move on (at most the reconnect
  // budget); the primary, the last resort, gets the whole reconnect budget.
  std::chrono::milliseconds replica_reconnect_budget{1'000};
  // How often a machine reading elsewhere tries its preferred replica again.
  std::chrono::milliseconds replica_retry_interval{10'000};

  // Compaction removes a batch whose mutations are all superseded, together with its
  // idempotency token, only once it was written at least this long ago: a writer that lost the
  // answer to its COMMIT looks the token up when it retries, and must still find it. Keep it
  // well above the longest time a writer retries (its reconnect budget plus socket timeouts).
  std::chrono::seconds token_retention{std::chrono::hours(1)};
  // Rows compaction reads and rewrites per transaction (more for a single larger batch).
  size_t compaction_chunk_rows = 5'000;

  // Test hook: runs inside every append transaction, after the batch is written and before
  // COMMIT (e.g. to sleep, so that concurrent writers interleave).
  std::function<void()> before_commit;
  // Test hook: runs right after COMMIT succeeds, before Append returns. A lost-connection
  // sql::SQLException (e.g. 2013) thrown here stands for a COMMIT whose answer never arrived.
  std::function<void()> after_commit;

  // Test hook: runs inside ReadAfter and ReadTail between two of their queries (e.g. to compact
  // the log while a read has a batch half read).
  std::function<void()> between_read_queries;

  // Test only: allocate update ids the way AUTO_INCREMENT does, in a statement of their own
  // before the batch's transaction, instead of under the meta-row lock. Ids then become
  // visible in commit order rather than id order, and a tailer loses batches: the trap this
  // log's protocol exists to avoid. Never set it outside that test.
  bool auto_increment_ids_for_test = false;
};

}  // namespace whycache::mysql_log

#endif  // WHYCACHE_LIB_LOG_MYSQL_MYSQL_LOG_OPTIONS_H_
