#include "lib/log/mysql/mysql_change_log.h"

#include <cppconn/resultset.h>

#include <algorithm>
#include <bit>
#include <optional>
#include <utility>

#include "lib/format/batch_record.h"
#include "lib/io/clock.h"
#include "lib/io/crash_point.h"
#include "lib/log/mysql/connection.h"
#include "lib/log/mysql/mysql_compaction.h"
#include "lib/log/mysql/mysql_uri.h"
#include "lib/log/mysql/read_servers.h"
#include "lib/log/mysql/row_codec.h"
#include "lib/log/mysql/schema.h"
#include "lib/log/mysql/server_settings.h"
#include "whycache/error.h"
#include "whycache/limits.h"

namespace whycache::mysql_log {
namespace {

// One multi-row INSERT stays below this many value and key bytes (servers refuse statements
// above max_allowed_packet, 16 MiB by default), unless one row alone is bigger.
constexpr size_t kMaxInsertBytes = size_t{4} << 20;
// A read returns early, at a batch boundary, once it holds this many bytes.
constexpr size_t kMaxReadBytes = size_t{64} << 20;
// Deadlocks, lock wait timeouts and token collisions are retried this often per append.
constexpr int kMaxConflictRetries = 10;
constexpr size_t kLogColumns = 9;

class MysqlChangeLog final : public ChangeLog {
 public:
  MysqlChangeLog(MysqlUri uri, const MysqlLogOptions& options)
      : options_(options),
        connection_(std::move(uri), options.reconnect_budget),
        reads_(connection_.uri(), connection_, options),
        meta_table_(connection_.uri().table_prefix + "_meta"),
        batch_table_(connection_.uri().table_prefix + "_batch"),
        log_table_(connection_.uri().table_prefix + "_log"),
        reader_sync_table_(connection_.uri().table_prefix + "_reader_sync"),
        log_columns_("update_id, pos, batch_size, op, k, value, encoding, checksum, write_time_us"),
        durable_reads_(!connection_.uri().durable_reads   ? options.durable_reads
                       : *connection_.uri().durable_reads ? MysqlLogOptions::DurableReads::kAlways
                                                          : MysqlLogOptions::DurableReads::kNever) {
    options_.rows_per_insert = std::max<size_t>(options_.rows_per_insert, 1);
    options_.read_page_rows = std::max<size_t>(options_.read_page_rows, 1);
    for (size_t size = options_.rows_per_insert; size > 0; size = std::bit_floor(size - 1)) {
      insert_sizes_.push_back(size);
      if (size == 1) break;
    }
  }

  void Open(const LogOptions& options) {
    allow_unsafe_server_ =
        options.allow_unsafe_server_settings || connection_.uri().allow_unsafe_server_settings;
    if (options.create_if_missing) {
      // `init` is a writer: it refuses an unsafe server before it creates anything there.
      try {
        connection_.Run([&](int) {
          CheckWriterSession();
          return 0;
        });
      } catch (const sql::SQLException& e) {
        connection_.Fail("reading the server's settings", e);
      }
      ApplySchema(connection_);
      try {
        connection_.Run([&](int) {
          CheckSchema(connection_);
          return 0;
        });
      } catch (const sql::SQLException& e) {
        connection_.Fail("reading the schema version", e);
      }
      return;
    }
    // A machine that reads from replicas opens the log there: it starts while the primary is
    // down, and keeps no idle connection to the primary (one per machine, for a fleet), which
    // it needs only to write.
    reads_.Run(
        [&](MysqlConnection& server) {
          CheckSchema(server);
          return 0;
        },
        [] { return std::string("reading the schema version"); });
  }

  uint64_t Append(std::span<const Mutation> batch) override {
    return Append(batch, AppendToken::Random());
  }
  uint64_t Append(std::span<const Mutation> batch, const AppendToken& token) override;
  std::vector<Update> ReadAfter(uint64_t after_id, size_t max_updates) override;
  Tail ReadTail(uint64_t after_id, size_t max_updates) override;
  uint64_t HeadId() override { return ReadMeta("head_id", &head_seen_); }
  uint64_t Horizon() override { return ReadMeta("horizon", &horizon_seen_); }
  uint64_t CompactedBelow() override { return ReadMeta("compacted_below", &compacted_below_seen_); }
  std::string DatasetId() override;
  CompactionResult Compact(const CompactionOptions& options) override {
    return CompactMysqlLog(connection_, options, options_);
  }
  std::string Describe() const override { return connection_.uri().Describe(); }

  ReadServer CurrentReadServer() const override { return reads_.Status(); }

 private:
  void CheckWriterSession();
  uint64_t AppendOnce(std::span<const Mutation> batch, const std::vector<StoredValue>& values,
                      const std::string& token, int64_t write_time_us);
  uint64_t NextIdLocked();
  uint64_t NextIdUnordered();
  void InsertRows(uint64_t id, std::span<const Mutation> batch,
                  const std::vector<StoredValue>& values, int64_t write_time_us);
  std::optional<uint64_t> FindToken(const std::string& token);
  // ReadAfter on `server`. *horizon is the horizon read with the rows, unset when none came.
  std::vector<Update> ReadOnce(MysqlConnection& server, uint64_t after_id, size_t max_updates,
                               std::optional<uint64_t>* horizon);
  bool ReadPages(MysqlConnection& server, uint64_t after_id, size_t max_updates,
                 std::vector<Update>* out, std::optional<uint64_t>* horizon);
  uint64_t ReadMeta(const std::string& column, uint64_t* seen);
  void MakeDurable();
  // MakeDurable for a read, with an error that says what to do when the account may not write.
  void MakeDurableForReader();
  // Whether a read must make new batches durable before returning them (durable_reads_).
  // REQUIRES: called inside connection_.Run()'s work.
  bool ReadsMustBeDurable();

  MysqlLogOptions options_;
  MysqlConnection connection_;  // To the primary: writes, and reads when no replica serves.
  ReadServers reads_;
  const std::string meta_table_;
  const std::string batch_table_;
  const std::string log_table_;
  const std::string reader_sync_table_;
  const std::string log_columns_;
  // MysqlLogOptions::durable_reads, or the URI parameter.
  const MysqlLogOptions::DurableReads durable_reads_;
  // Row counts with a cached multi-row INSERT, largest first: rows_per_insert and the powers
  // of two below it, so any batch is written with few statements and few prepared ones.
  std::vector<size_t> insert_sizes_;
  std::string dataset_id_;  // Read on first use; it never changes.
  // Every update up to this id is known to be durable (MakeDurable() ran after it was read).
  uint64_t durable_through_ = 0;
  // Under kAuto: whether reads of the connection session `reads_decided_session_` make what
  // they return durable (MysqlConnection::sessions(); 0 before the first decision).
  bool reads_durable_ = true;
  uint64_t reads_decided_session_ = 0;
  // The largest values this object has seen, from any server. Reads may move to a server that
  // is behind the one they left; these keep what they return from going back (ids the caller
  // has applied, a horizon or compaction mark it has been shown).
  uint64_t head_seen_ = 0;
  uint64_t horizon_seen_ = 0;
  uint64_t compacted_below_seen_ = 0;
  // LogOptions::allow_unsafe_server_settings or the URI parameter.
  bool allow_unsafe_server_ = false;
  // The connection session (MysqlConnection::sessions()) whose settings a writer checked.
  uint64_t writer_checked_session_ = 0;
};

// A token that is already in {prefix}_batch fails the INSERT with 1062, whether an earlier
// attempt of this call or an earlier call committed it; the lookup then finds its id.
uint64_t MysqlChangeLog::Append(std::span<const Mutation> batch, const AppendToken& append_token) {
  format::CheckBatchLimits(batch);
  std::vector<StoredValue> values(batch.size());
  for (size_t i = 0; i < batch.size(); ++i) EncodeValue(batch[i], &values[i]);
  const std::string token(append_token.bytes());
  const int64_t write_time_us = io::NowMicros();
  for (int conflict = 0;; ++conflict) {
    try {
      return connection_.Run([&](int attempt) -> uint64_t {
        CheckWriterSession();
        if (attempt > 0 || conflict > 0) {
          // The previous attempt may have committed before its connection died.
          if (std::optional<uint64_t> id = FindToken(token)) {
            MakeDurable();
            return *id;
          }
        }
        return AppendOnce(batch, values, token, write_time_us);
      });
    } catch (const sql::SQLException& e) {
      connection_.RollbackQuietly();
      const int code = e.getErrorCode();
      // 1213 deadlock, 1205 lock wait timeout: rolled back, safe to redo. 1062 on the token:
      // an earlier attempt or call committed it; the lookup at the top finds it.
      if ((code == 1213 || code == 1205 || code == 1062) && conflict < kMaxConflictRetries) {
        continue;
      }
      connection_.Fail("appending a batch of " + std::to_string(batch.size()) + " mutations", e);
    } catch (...) {
      connection_.RollbackQuietly();
      throw;
    }
  }
}

// A writer checks the settings once per session: readers are not held to them (a read replica
// may differ), and a reconnect may reach a server restarted with other settings.
void MysqlChangeLog::CheckWriterSession() {
  if (writer_checked_session_ == connection_.sessions()) return;
  CheckServerSettings(connection_, allow_unsafe_server_);
  writer_checked_session_ = connection_.sessions();
}

uint64_t MysqlChangeLog::AppendOnce(std::span<const Mutation> batch,
                                    const std::vector<StoredValue>& values,
                                    const std::string& token, int64_t write_time_us) {
  uint64_t id = 0;
  if (options_.auto_increment_ids_for_test) {
    id = NextIdUnordered();
    connection_.Execute("START TRANSACTION");
  } else {
    connection_.Execute("START TRANSACTION");
    id = NextIdLocked();
  }
  sql::PreparedStatement& record =
      connection_.Prepare("INSERT INTO " + batch_table_ + " (update_id, token) VALUES (?, ?)");
  record.setUInt64(1, id);
  record.setString(2, sql::SQLString(token));
  record.executeUpdate();
  InsertRows(id, batch, values, write_time_us);
  if (!options_.auto_increment_ids_for_test) {
    sql::PreparedStatement& advance =
        connection_.Prepare("UPDATE " + meta_table_ + " SET head_id = ? WHERE id = 1");
    advance.setUInt64(1, id);
    advance.executeUpdate();
  }
  if (options_.before_commit) options_.before_commit();
  io::CrashPoint("mysql_log.append.before_commit");
  connection_.Execute("COMMIT");
  io::CrashPoint("mysql_log.append.after_commit");
  if (options_.after_commit) options_.after_commit();
  return id;
}

// Locks the meta row until COMMIT: writers queue here, so the next writer takes its id only
// after this one's batch is visible, and ids become visible in id order.
uint64_t MysqlChangeLog::NextIdLocked() {
  sql::PreparedStatement& lock =
      connection_.Prepare("SELECT head_id FROM " + meta_table_ + " WHERE id = 1 FOR UPDATE");
  std::unique_ptr<sql::ResultSet> rows(lock.executeQuery());
  if (!rows->next()) {
    throw Error(Error::Code::kCorruption, "the MySQL log " + Describe() + " has no row 1 in " +
                                              meta_table_ + ": run `whycache init` to restore it");
  }
  return rows->getUInt64(1) + 1;
}

// The AUTO_INCREMENT way, for the trap test only: the id is taken and published at once, in
// its own autocommitted statement, long before the batch using it commits.
uint64_t MysqlChangeLog::NextIdUnordered() {
  connection_
      .Prepare("UPDATE " + meta_table_ + " SET head_id = LAST_INSERT_ID(head_id + 1) " +
               "WHERE id = 1")
      .executeUpdate();
  std::unique_ptr<sql::ResultSet> rows(
      connection_.Prepare("SELECT LAST_INSERT_ID()").executeQuery());
  rows->next();
  return rows->getUInt64(1);
}

void MysqlChangeLog::InsertRows(uint64_t id, std::span<const Mutation> batch,
                                const std::vector<StoredValue>& values, int64_t write_time_us) {
  const uint32_t batch_size = static_cast<uint32_t>(batch.size());
  size_t next = 0;
  while (next < batch.size()) {
    size_t rows = 1;
    for (size_t size : insert_sizes_) {
      if (size > batch.size() - next) continue;
      size_t bytes = 0;
      for (size_t i = next; i < next + size; ++i)
        bytes += batch[i].key.size() + values[i].bytes.size();
      if (bytes <= kMaxInsertBytes) {
        rows = size;
        break;
      }
    }
    std::string sql = "INSERT INTO " + log_table_ + " (" + log_columns_ + ") VALUES ";
    for (size_t r = 0; r < rows; ++r)
      sql += r == 0 ? "(?,?,?,?,?,?,?,?,?)" : ",(?,?,?,?,?,?,?,?,?)";
    sql::PreparedStatement& insert = connection_.Prepare(sql);
    for (size_t r = 0; r < rows; ++r) {
      const size_t i = next + r;
      const unsigned int p = static_cast<unsigned int>(r * kLogColumns);
      insert.setUInt64(p + 1, id);
      insert.setUInt(p + 2, static_cast<uint32_t>(i));
      insert.setUInt(p + 3, batch_size);
      insert.setUInt(p + 4, static_cast<uint8_t>(batch[i].op));
      insert.setString(p + 5, sql::SQLString(batch[i].key));
      insert.setString(p + 6, sql::SQLString(values[i].bytes.data(), values[i].bytes.size()));
      insert.setUInt(p + 7, static_cast<uint8_t>(values[i].encoding));
      insert.setUInt(p + 8, values[i].checksum);
      insert.setInt64(p + 9, write_time_us);
    }
    insert.executeUpdate();
    next += rows;
  }
}

std::optional<uint64_t> MysqlChangeLog::FindToken(const std::string& token) {
  sql::PreparedStatement& find =
      connection_.Prepare("SELECT update_id FROM " + batch_table_ + " WHERE token = ?");
  find.setString(1, sql::SQLString(token));
  std::unique_ptr<sql::ResultSet> rows(find.executeQuery());
  if (!rows->next()) return std::nullopt;
  return rows->getUInt64(1);
}

// A server behind `after_id` (a replica reads moved to) has no rows above it and returns none,
// as a log with nothing new would; the caller reads on from after_id once it catches up.
std::vector<Update> MysqlChangeLog::ReadAfter(uint64_t after_id, size_t max_updates) {
  if (max_updates == 0) return {};
  std::optional<uint64_t> horizon;
  std::vector<Update> updates = reads_.Run(
      [&](MysqlConnection& server) { return ReadOnce(server, after_id, max_updates, &horizon); },
      [&] { return "reading the updates after id " + std::to_string(after_id); });
  if (!updates.empty()) head_seen_ = std::max(head_seen_, updates.back().id);
  return updates;
}

// A machine polls 20 times a second and almost always finds nothing new, so an empty poll is
// one primary-key read of the meta row, which holds the head id and the horizon: appends raise
// the head in the transaction that adds their rows, so a head at or below after_id proves that
// no row above it is visible. Only a newer head costs the statement that reads rows, whose
// horizon (read with them) is the one returned. When that statement returns no rows after all
// (compaction dropped the batches above after_id), the horizon is read again: the one read
// before it may predate the compaction that dropped them.
ChangeLog::Tail MysqlChangeLog::ReadTail(uint64_t after_id, size_t max_updates) {
  Tail tail;
  if (max_updates == 0) return tail;
  tail = reads_.Run(
      [&](MysqlConnection& server) {
        Tail read;
        const std::vector<uint64_t> meta = ReadMetaColumns(server, {"head_id", "horizon"});
        read.horizon = meta[1];
        if (meta[0] <= after_id) return read;
        if (options_.between_read_queries) options_.between_read_queries();
        std::optional<uint64_t> horizon;
        read.updates = ReadOnce(server, after_id, max_updates, &horizon);
        read.horizon = horizon ? *horizon : ReadMetaColumn(server, "horizon");
        return read;
      },
      [&] { return "reading the updates after id " + std::to_string(after_id); });
  if (!tail.updates.empty()) head_seen_ = std::max(head_seen_, tail.updates.back().id);
  horizon_seen_ = std::max(horizon_seen_, tail.horizon);
  tail.horizon = horizon_seen_;
  return tail;
}

// A read takes several statements when it pages, and a compaction may run between them. Taking
// out superseded rows is harmless to a reader that sees part of it (the entries that supersede
// them are still there to read), but dropping expired tombstones is not: a set read by one
// statement and its delete dropped before the next would leave the key set, and a replay from 0
// checks no horizon after its first read (see ChangeLog::ReadAfter). The horizon is raised in a
// transaction of its own before such tombstones go, so every statement reads it along with the
// rows: when all agree, no tombstone the read needs went missing between them. When they do
// not, the read is made again in one snapshot, which no compaction can straddle. Paging in
// autocommit statements is the rule because it is cheaper (no transaction to open and close)
// and because it never keeps old row versions from being purged.
//
// The horizon and compaction mark read with the rows are kept (horizon_seen_,
// compacted_below_seen_): a Horizon() that follows on another server, one behind, still covers
// them. A durability write (durable_reads) is made on the primary only: a replica holds only
// what the primary made durable.
std::vector<Update> MysqlChangeLog::ReadOnce(MysqlConnection& server, uint64_t after_id,
                                             size_t max_updates, std::optional<uint64_t>* horizon) {
  std::vector<Update> updates;
  if (!ReadPages(server, after_id, max_updates, &updates, horizon)) {
    updates.clear();
    try {
      server.Execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ");
      server.Execute("START TRANSACTION READ ONLY, WITH CONSISTENT SNAPSHOT");
      if (!ReadPages(server, after_id, max_updates, &updates, horizon)) {
        throw Error(Error::Code::kUnavailable,
                    "the MySQL log " + Describe() +
                        " showed two horizons inside one REPEATABLE READ snapshot: the server "
                        "must provide InnoDB's consistent snapshots");
      }
      server.Execute("COMMIT");
    } catch (...) {
      server.RollbackQuietly();
      throw;
    }
  }
  if (!updates.empty() && updates.back().id > durable_through_ && &server == &connection_ &&
      ReadsMustBeDurable()) {
    io::CrashPoint("mysql_log.read.before_durable_write");
    MakeDurableForReader();
    durable_through_ = updates.back().id;
  }
  return updates;
}

// Pages through {prefix}_log in primary-key order into *out. Batches commit whole (one
// transaction) and in id order (the meta-row lock), so every row of a batch is visible as soon
// as any is, and none with a smaller id can appear later. A page may still end inside a batch:
// batch_size in every row tells, and the batch is then read again whole, in one statement.
//
// Compaction (mysql_compaction.h) deletes rows of old batches while this reads, renumbering the
// survivors and their batch_size in the same transaction. Each statement reads one consistent
// snapshot, so it sees any batch either before or after such a transaction, whole either way.
// Rows of two statements are never joined into one batch: a batch cut by a page end is dropped
// and read again whole. A batch gone by then was compacted away: every mutation in it is
// superseded by a later one, read later, or an expired tombstone, which the horizon shows.
//
// Returns false, with *out incomplete, when two statements that returned rows read different
// horizons.
bool MysqlChangeLog::ReadPages(MysqlConnection& server, uint64_t after_id, size_t max_updates,
                               std::vector<Update>* out, std::optional<uint64_t>* read_horizon) {
  std::vector<Update>& updates = *out;
  std::optional<uint64_t>& horizon = *read_horizon;  // As the first statement with rows read it.
  horizon.reset();
  Update partial;  // The batch being assembled; empty mutations when none is.
  uint32_t partial_size = 0;
  size_t partial_bytes = 0;          // As stored: what the page size counts.
  size_t partial_decoded_bytes = 0;  // Decoded keys and values: what kMaxBatchBytes bounds.
  uint64_t cursor = after_id;
  size_t bytes = 0;
  size_t rows_seen = 0;
  size_t batches_seen = 0;
  const std::string columns = log_columns_ + ", (SELECT horizon FROM " + meta_table_ +
                              " WHERE id = 1), (SELECT compacted_below FROM " + meta_table_ +
                              " WHERE id = 1)";
  sql::PreparedStatement& next_rows =
      server.Prepare("SELECT " + columns + " FROM " + log_table_ +
                     " WHERE update_id > ? ORDER BY update_id, pos LIMIT ?");
  sql::PreparedStatement& whole_batch = server.Prepare("SELECT " + columns + " FROM " + log_table_ +
                                                       " WHERE update_id = ? ORDER BY pos LIMIT ?");
  auto corrupt = [&](uint64_t id, const std::string& what) {
    throw Error(Error::Code::kCorruption, "corrupt MySQL log " + Describe() + ": update id " +
                                              std::to_string(id) + " " + what +
                                              "; stop applying here and repair the log");
  };

  // Each page either returns rows (every row advances the cursor) or ends the loop, and a batch
  // cut by a page end is read whole by the next statement, which moves the cursor past it: the
  // loop ends.
  try {
    for (bool first = true;; first = false) {
      if (!first && options_.between_read_queries) options_.between_read_queries();
      if (!first) io::CrashPoint("mysql_log.read.between_statements");
      size_t limit;
      sql::PreparedStatement* query;
      uint64_t rereading = 0;  // The id of the batch read again whole, 0 for a page.
      if (!partial.mutations.empty()) {
        rereading = partial.id;
        bytes -= partial_bytes;
        rows_seen -= partial.mutations.size();
        partial = Update();
        partial_bytes = 0;
        partial_decoded_bytes = 0;
        limit = kMaxBatchMutations + 1;
        query = &whole_batch;
        query->setUInt64(1, rereading);
        query->setUInt64(2, limit);
      } else {
        // Ask for about as many rows as the remaining batches need, judged by the batches seen.
        size_t per_batch = batches_seen == 0 ? 1 : (rows_seen + batches_seen - 1) / batches_seen;
        size_t per_row_bytes = rows_seen == 0 ? 1 : std::max<size_t>(bytes / rows_seen, 1);
        limit =
            std::min({options_.read_page_rows,
                      std::min(max_updates - updates.size(), options_.read_page_rows) * per_batch,
                      std::max<size_t>(kMaxReadBytes / per_row_bytes, 1)});
        query = &next_rows;
        query->setUInt64(1, cursor);
        query->setUInt64(2, limit);
      }
      std::unique_ptr<sql::ResultSet> rows(query->executeQuery());
      size_t page_rows = 0;
      bool full = false;
      while (!full && rows->next()) {
        ++page_rows;
        if (!horizon) horizon = rows->getUInt64(kLogColumns + 1);
        if (*horizon != rows->getUInt64(kLogColumns + 1)) return false;
        horizon_seen_ = std::max(horizon_seen_, *horizon);
        compacted_below_seen_ = std::max(compacted_below_seen_, rows->getUInt64(kLogColumns + 2));
        StoredRow row;
        row.update_id = rows->getUInt64(1);
        row.pos = rows->getUInt(2);
        const uint32_t batch_size = rows->getUInt(3);
        row.op = static_cast<uint8_t>(rows->getUInt(4));
        row.key = rows->getString(5).asStdString();
        row.value = rows->getString(6).asStdString();
        row.encoding = static_cast<uint8_t>(rows->getUInt(7));
        row.checksum = rows->getUInt(8);
        if (partial.mutations.empty()) {
          if (row.pos != 0) corrupt(row.update_id, "has no row at position 0");
          if (batch_size == 0 || batch_size > kMaxBatchMutations) {
            corrupt(row.update_id, "claims a batch size of " + std::to_string(batch_size) +
                                       " (kMaxBatchMutations is " +
                                       std::to_string(kMaxBatchMutations) + ")");
          }
          partial.id = row.update_id;
          partial.write_time_us = rows->getInt64(9);
          partial_size = batch_size;
        } else if (row.update_id != partial.id) {
          corrupt(partial.id, "has " + std::to_string(partial.mutations.size()) + " of its " +
                                  std::to_string(partial_size) + " rows");
        } else if (row.pos > partial.mutations.size()) {
          corrupt(row.update_id,
                  "lacks its row at position " + std::to_string(partial.mutations.size()));
        } else if (row.pos != partial.mutations.size() || batch_size != partial_size) {
          corrupt(row.update_id, "has an inconsistent row at position " + std::to_string(row.pos));
        }
        bytes += row.key.size() + row.value.size();
        partial_bytes += row.key.size() + row.value.size();
        ++rows_seen;
        partial.mutations.push_back(DecodeRow(row));
        partial_decoded_bytes +=
            partial.mutations.back().key.size() + partial.mutations.back().value.size();
        if (partial_decoded_bytes > kMaxBatchBytes) {
          corrupt(partial.id, "holds more than kMaxBatchBytes (" + std::to_string(kMaxBatchBytes) +
                                  ") key and value bytes");
        }
        if (partial.mutations.size() == partial_size) {
          cursor = partial.id;
          ++batches_seen;
          updates.push_back(std::move(partial));
          partial = Update();
          partial_bytes = 0;
          partial_decoded_bytes = 0;
          full = updates.size() == max_updates;
        }
      }
      if (rereading != 0) {
        // One statement saw the whole batch: rows it lacks are missing, not on a later page.
        if (!partial.mutations.empty()) {
          corrupt(partial.id, "has " + std::to_string(partial.mutations.size()) + " of its " +
                                  std::to_string(partial_size) + " rows");
        }
        cursor = std::max(cursor, rereading);
      }
      if (full || (partial.mutations.empty() && bytes >= kMaxReadBytes)) break;
      if (rereading == 0 && page_rows < limit) {
        // The page ended before its limit: nothing more is committed. A batch cut short here
        // cannot be a page boundary, so rows are missing.
        if (!partial.mutations.empty()) {
          corrupt(partial.id, "has " + std::to_string(partial.mutations.size()) + " of its " +
                                  std::to_string(partial_size) + " rows");
        }
        break;
      }
    }
  } catch (const Error& e) {
    // Hand out the whole batches before the damaged one: the caller's next read starts at it
    // and gets this error again, so nothing is skipped.
    if (e.code() != Error::Code::kCorruption || updates.empty()) throw;
  }
  return true;
}

// Commits a change (with the server's flush at commit, innodb_flush_log_at_trx_commit = 1):
// when it returns, every commit this connection has seen is durable, since their redo records
// precede this one. A change is needed: an UPDATE that matches but changes nothing writes no
// redo and flushes nothing.
void MysqlChangeLog::MakeDurable() {
  connection_.Prepare("UPDATE " + reader_sync_table_ + " SET syncs = syncs + 1 WHERE id = 1")
      .executeUpdate();
}

bool MysqlChangeLog::ReadsMustBeDurable() {
  switch (durable_reads_) {
    case MysqlLogOptions::DurableReads::kAlways:
      return true;
    case MysqlLogOptions::DurableReads::kNever:
      return false;
    case MysqlLogOptions::DurableReads::kAuto:
      break;
  }
  // A reconnect may reach another server behind the same address, or this one restarted with
  // other settings.
  if (reads_decided_session_ != connection_.sessions()) {
    reads_durable_ = ShowsCommitsBeforeTheyAreDurable(connection_);
    reads_decided_session_ = connection_.sessions();
  }
  return reads_durable_;
}

void MysqlChangeLog::MakeDurableForReader() {
  try {
    MakeDurable();
  } catch (const sql::SQLException& e) {
    // ER_TABLEACCESS_DENIED_ERROR: a reader given SELECT only.
    if (e.getErrorCode() != 1142) throw;
    throw Error(Error::Code::kUnavailable,
                "the MySQL log " + Describe() +
                    ": the server takes writes without a binary log, so a read commits an "
                    "update of " +
                    reader_sync_table_ +
                    " to make the batches it returns durable, and this account may not (" +
                    e.what() + "): grant it UPDATE on " + reader_sync_table_ +
                    ", or turn the server's binary log on (log_bin, sync_binlog=1), or accept "
                    "that a crash of the server's machine can take back applied batches with "
                    "durable_reads=0 in the log URI");
  }
}

uint64_t MysqlChangeLog::ReadMeta(const std::string& column, uint64_t* seen) {
  const uint64_t value =
      reads_.Run([&](MysqlConnection& server) { return ReadMetaColumn(server, column); },
                 [&] { return "reading " + column + " from " + meta_table_; });
  *seen = std::max(*seen, value);
  return *seen;
}

std::string MysqlChangeLog::DatasetId() {
  if (!dataset_id_.empty()) return dataset_id_;
  dataset_id_ = reads_.Run(
      [&](MysqlConnection& server) -> std::string {
        sql::PreparedStatement& read =
            server.Prepare("SELECT dataset_id FROM " + meta_table_ + " WHERE id = 1");
        std::unique_ptr<sql::ResultSet> rows(read.executeQuery());
        if (!rows->next() || rows->getString(1).length() == 0) {
          throw Error(Error::Code::kCorruption,
                      "the MySQL log " + Describe() + " has no dataset id in row 1 of " +
                          meta_table_ + ": run `whycache init` to restore it");
        }
        return std::string(rows->getString(1));
      },
      [&] { return "reading dataset_id from " + meta_table_; });
  return dataset_id_;
}

}  // namespace

std::unique_ptr<ChangeLog> OpenMysqlChangeLog(std::string_view uri, const LogOptions& options,
                                              const MysqlLogOptions& mysql_options) {
  auto log = std::make_unique<MysqlChangeLog>(ParseMysqlUri(uri), mysql_options);
  log->Open(options);
  return log;
}

}  // namespace whycache::mysql_log
