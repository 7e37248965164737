#include "lib/log/mysql/mysql_compaction.h"

#include <cppconn/resultset.h>

#include <algorithm>
#include <chrono>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <unordered_set>
#include <utility>
#include <vector>

#include "lib/format/erased_prefixes.h"
#include "lib/io/clock.h"
#include "lib/io/crash_point.h"
#include "lib/log/mysql/row_codec.h"
#include "lib/log/mysql/schema.h"
#include "whycache/error.h"

namespace whycache::mysql_log {
namespace {

// GET_LOCK waits this long per call (below the connection's read timeout), this many times.
constexpr int kLockWaitSeconds = 30;
constexpr int kMaxLockWaits = 120;
// Elements of every `IN (...)` list, so that each statement is prepared once; a shorter list
// repeats its last element.
constexpr size_t kInListSize = 64;
// Deadlocks and lock wait timeouts are retried this often per step.
constexpr int kMaxConflictRetries = 10;
constexpr uint8_t kDeleteOp = static_cast<uint8_t>(Mutation::Op::kDelete);
constexpr uint8_t kErasePrefixOp = static_cast<uint8_t>(Mutation::Op::kErasePrefix);

// A delete of one key or of every key under a prefix: a tombstone while it is not superseded,
// and a row that a batch may keep, as it is, for its token (see KeepTokenOfRecentBatch).
bool IsTombstoneOp(uint8_t op) { return op == kDeleteOp || op == kErasePrefixOp; }

std::string InList() {
  std::string list = "(?";
  for (size_t i = 1; i < kInListSize; ++i) list += ",?";
  return list + ")";
}

// Sets parameters first .. first + kInListSize - 1 of `statement` to values[begin ..) (at most
// kInListSize of them, repeating the last one to fill the list).
template <typename T, typename Set>
void BindInList(const std::vector<T>& values, size_t begin, unsigned int first, Set set) {
  const size_t end = std::min(values.size(), begin + kInListSize);
  for (size_t i = 0; i < kInListSize; ++i) {
    set(first + static_cast<unsigned int>(i), values[std::min(begin + i, end - 1)]);
  }
}

struct Row {
  uint32_t pos = 0;
  uint8_t op = 0;
  std::string key;
};

// One batch's rows in pos order, and which of them go.
struct BatchEdit {
  uint64_t id = 0;
  int64_t write_time_us = 0;
  std::vector<Row> rows;
  std::vector<bool> drop;
  // A delete or prefix delete that nothing supersedes, older than the retention.
  std::vector<bool> expired_tombstone;
  std::optional<size_t> to_delete;  // A kept row, a set, to be made a delete of its key.
};

// An expired tombstone found by pass 1, dropped by pass 2. Named by op and key, not position:
// pass 1 renumbers positions, and a repeated step must find the same row again. The op tells a
// delete of a key from a prefix delete of the same bytes, which may both be in one batch.
struct Tombstone {
  uint64_t id = 0;
  uint8_t op = 0;
  std::string key;
};

class Compactor {
 public:
  Compactor(MysqlConnection& connection, const CompactionOptions& options,
            const MysqlLogOptions& settings)
      : connection_(connection),
        options_(options),
        chunk_rows_(std::max<size_t>(settings.compaction_chunk_rows, 1)),
        meta_table_(connection.uri().table_prefix + "_meta"),
        batch_table_(connection.uri().table_prefix + "_batch"),
        log_table_(connection.uri().table_prefix + "_log"),
        lock_name_("CONCAT('whycache_compact.', LEFT(MD5(CONCAT(DATABASE(), '.', ?)), 32))") {
    const int64_t now = io::NowMicros();
    tombstone_cutoff_us_ =
        now -
        std::chrono::duration_cast<std::chrono::microseconds>(options.tombstone_retention).count();
    token_cutoff_us_ =
        now -
        std::chrono::duration_cast<std::chrono::microseconds>(settings.token_retention).count();
  }

  CompactionResult Compact();

 private:
  template <typename Work>
  auto Step(const std::string& doing, Work&& work);
  void HoldLock();
  void Progress(uint64_t done, uint64_t total) {
    if (options_.progress) options_.progress(std::min(done, total), total);
  }
  uint64_t ReadHead();
  void Measure(uint64_t before_id, uint64_t* rows_below, uint64_t* bytes);
  uint64_t ChunkStart(uint64_t hi);
  std::pair<uint64_t, size_t> CompactChunk(uint64_t hi);
  void DropTombstones(uint64_t* done, uint64_t total);
  void KeepTokenOfRecentBatch(BatchEdit& edit) const;
  void StartTransaction();
  void Rewrite(const std::vector<BatchEdit>& edits);

  MysqlConnection& connection_;
  const CompactionOptions& options_;
  const size_t chunk_rows_;
  const std::string meta_table_;
  const std::string batch_table_;
  const std::string log_table_;
  const std::string lock_name_;  // SQL naming the lock; its one parameter is the table prefix.
  int64_t tombstone_cutoff_us_ = 0;
  int64_t token_cutoff_us_ = 0;
  // Keys of every set and delete pass 1 has walked, and the prefixes of the prefix deletes it
  // walked and kept: all of them lie above the chunk it works on. A prefix delete that a newer
  // one covers adds nothing, since whatever it covers the newer one covers too.
  std::unordered_set<std::string> seen_;
  format::ErasedPrefixes erased_;
  std::vector<Tombstone> tombstones_;  // In descending id order.
};

// Runs `work` as one unit: reconnecting and repeating it on a lost connection (it must start
// from a fresh read), repeating it after a deadlock or lock wait timeout (rolled back by the
// server), and making sure first that this connection holds the compaction lock.
template <typename Work>
auto Compactor::Step(const std::string& doing, Work&& work) {
  for (int conflict = 0;; ++conflict) {
    try {
      return connection_.Run([&](int) {
        HoldLock();
        return work();
      });
    } catch (const sql::SQLException& e) {
      connection_.RollbackQuietly();
      const int code = e.getErrorCode();
      if ((code == 1213 || code == 1205) && conflict < kMaxConflictRetries) continue;
      connection_.Fail(doing, e);
    } catch (...) {
      connection_.RollbackQuietly();
      throw;
    }
  }
}

void Compactor::HoldLock() {
  sql::PreparedStatement& held =
      connection_.Prepare("SELECT IS_USED_LOCK(" + lock_name_ + ") <=> CONNECTION_ID()");
  held.setString(1, connection_.uri().table_prefix);
  {
    std::unique_ptr<sql::ResultSet> rows(held.executeQuery());
    if (rows->next() && rows->getInt(1) == 1) return;
  }
  sql::PreparedStatement& get = connection_.Prepare("SELECT GET_LOCK(" + lock_name_ + ", ?)");
  get.setString(1, connection_.uri().table_prefix);
  get.setInt(2, kLockWaitSeconds);
  for (int wait = 0; wait < kMaxLockWaits; ++wait) {
    std::unique_ptr<sql::ResultSet> rows(get.executeQuery());
    if (rows->next() && !rows->isNull(1) && rows->getInt(1) == 1) return;
  }
  throw Error(Error::Code::kTimedOut, "another compaction of " + connection_.uri().Describe() +
                                          " held its lock for " +
                                          std::to_string(kLockWaitSeconds * kMaxLockWaits) + " s");
}

uint64_t Compactor::ReadHead() { return ReadMetaColumn(connection_, "head_id"); }

void Compactor::Measure(uint64_t before_id, uint64_t* rows_below, uint64_t* bytes) {
  sql::PreparedStatement& measure = connection_.Prepare(
      "SELECT COALESCE(SUM(update_id < ?), 0), COALESCE(SUM(LENGTH(k) + LENGTH(value)), 0) FROM " +
      log_table_);
  measure.setUInt64(1, before_id);
  std::unique_ptr<sql::ResultSet> rows(measure.executeQuery());
  rows->next();
  *rows_below = rows->getUInt64(1);
  *bytes = rows->getUInt64(2);
}

// The lowest id of the chunk that ends below `hi`: it holds the rows of at most chunk_rows_
// rows' worth of whole batches, or the one batch hi - 1 when that alone is larger.
uint64_t Compactor::ChunkStart(uint64_t hi) {
  sql::PreparedStatement& query =
      connection_.Prepare("SELECT update_id FROM " + log_table_ +
                          " WHERE update_id < ? ORDER BY update_id DESC, pos DESC LIMIT ?, 1");
  query.setUInt64(1, hi);
  query.setUInt64(2, chunk_rows_);
  std::unique_ptr<sql::ResultSet> rows(query.executeQuery());
  if (!rows->next()) return 0;
  const uint64_t cut = rows->getUInt64(1);  // A batch cut in two: start above it, if possible.
  return cut + 1 < hi ? cut + 1 : cut;
}

// Pass 1 on the chunk below `hi`: deletes the rows that newer rows supersede, and notes the
// expired tombstones. A set or delete of a key is superseded by a newer set or delete of that
// key, or by a newer prefix delete of a prefix of it; a prefix delete only by a newer prefix
// delete of a prefix of its own. A set or delete of the key equal to a prefix does not supersede
// a prefix delete: the prefix delete still deletes the other keys under it. Whatever a
// superseded row did, the rows that superseded it redo (or a dropped tombstone among them raises
// the horizon over it). Returns the chunk's lowest id and the rows it read.
std::pair<uint64_t, size_t> Compactor::CompactChunk(uint64_t hi) {
  const uint64_t lo = ChunkStart(hi);
  sql::PreparedStatement& scan = connection_.Prepare(
      "SELECT update_id, pos, op, write_time_us, k FROM " + log_table_ +
      " WHERE update_id >= ? AND update_id < ? ORDER BY update_id DESC, pos DESC");
  scan.setUInt64(1, lo);
  scan.setUInt64(2, hi);
  std::unique_ptr<sql::ResultSet> rows(scan.executeQuery());
  // Walked newest first: the first row of a key (here or above, in seen_) is its newest, and
  // every prefix delete noted so far (here or above, in erased_) is newer than the current row.
  std::vector<BatchEdit> edits;
  std::unordered_set<std::string> new_keys;
  format::ErasedPrefixes new_prefixes;
  std::vector<std::pair<std::string, format::LogPosition>> new_prefix_list;
  std::vector<Tombstone> tombstones;
  size_t scanned = 0;
  while (rows->next()) {
    ++scanned;
    const uint64_t id = rows->getUInt64(1);
    if (edits.empty() || edits.back().id != id) {
      edits.emplace_back();
      edits.back().id = id;
      edits.back().write_time_us = rows->getInt64(4);
    }
    BatchEdit& edit = edits.back();
    Row row;
    row.pos = rows->getUInt(2);
    row.op = static_cast<uint8_t>(rows->getUInt(3));
    row.key = rows->getString(5).asStdString();
    const bool erased = erased_.NewestCovering(row.key).has_value() ||
                        new_prefixes.NewestCovering(row.key).has_value();
    // Once a key is erased, so are its older rows: no need to remember it as seen.
    const bool newest = !erased && (row.op == kErasePrefixOp ||
                                    (!seen_.contains(row.key) && new_keys.insert(row.key).second));
    if (newest && row.op == kErasePrefixOp) {
      const format::LogPosition at{id, row.pos};
      new_prefixes.Add(row.key, at);
      new_prefix_list.emplace_back(row.key, at);
    }
    edit.drop.push_back(!newest);
    edit.expired_tombstone.push_back(newest && IsTombstoneOp(row.op) &&
                                     edit.write_time_us < tombstone_cutoff_us_);
    edit.rows.push_back(std::move(row));
  }
  for (BatchEdit& edit : edits) {
    std::reverse(edit.rows.begin(), edit.rows.end());
    std::reverse(edit.drop.begin(), edit.drop.end());
    std::reverse(edit.expired_tombstone.begin(), edit.expired_tombstone.end());
    KeepTokenOfRecentBatch(edit);
    for (size_t i = 0; i < edit.rows.size(); ++i) {
      if (edit.expired_tombstone[i]) {
        tombstones.push_back({edit.id, edit.rows[i].op, edit.rows[i].key});
      }
    }
  }
  std::erase_if(edits, [](const BatchEdit& e) {
    return !e.to_delete && std::find(e.drop.begin(), e.drop.end(), true) == e.drop.end();
  });
  if (!edits.empty()) {
    StartTransaction();
    Rewrite(edits);
    connection_.Execute("COMMIT");
  }
  // Only now, after the commit: a repeated step must decide from the same state.
  seen_.merge(new_keys);
  for (const auto& [prefix, at] : new_prefix_list) erased_.Add(prefix, at);
  tombstones_.insert(tombstones_.end(), std::make_move_iterator(tombstones.begin()),
                     std::make_move_iterator(tombstones.end()));
  return {lo, scanned};
}

// A batch that would lose all its rows (superseded or expired tombstones) but is younger than
// the token retention keeps one row, and so its token: a delete or prefix delete if it has one,
// else its last row, a set that a newer row supersedes, made a delete of its key. A delete or
// prefix delete there takes nothing from a machine that replays past it: every key it deletes
// has its newest row or a newer prefix delete covering it later (or is deleted by that row
// itself). The set itself would: once that newer row, a tombstone, is dropped (now, or by a
// later compaction that need not raise the horizon), a replay sets the key again.
void Compactor::KeepTokenOfRecentBatch(BatchEdit& edit) const {
  if (edit.write_time_us < token_cutoff_us_ || edit.rows.empty()) return;
  for (size_t i = 0; i < edit.rows.size(); ++i) {
    if (!edit.drop[i] && !edit.expired_tombstone[i]) return;
  }
  size_t keep = edit.rows.size() - 1;
  for (size_t i = edit.rows.size(); i-- > 0;) {
    if (IsTombstoneOp(edit.rows[i].op)) {
      keep = i;
      break;
    }
  }
  edit.drop[keep] = false;
  edit.expired_tombstone[keep] = false;
  if (!IsTombstoneOp(edit.rows[keep].op)) edit.to_delete = keep;
}

// Pass 2: raises the horizon over every expired tombstone, commits, then drops them.
void Compactor::DropTombstones(uint64_t* done, uint64_t total) {
  if (tombstones_.empty()) return;
  uint64_t horizon = 0;
  for (const Tombstone& t : tombstones_) horizon = std::max(horizon, t.id);
  Step("raising the horizon", [&] {
    sql::PreparedStatement& raise = connection_.Prepare(
        "UPDATE " + meta_table_ + " SET horizon = GREATEST(horizon, ?) WHERE id = 1");
    raise.setUInt64(1, horizon);
    return raise.executeUpdate();
  });
  io::CrashPoint("mysql_compaction.after_horizon");
  size_t next = 0;
  while (next < tombstones_.size()) {
    const size_t end = std::min(tombstones_.size(), next + chunk_rows_);
    Step("dropping expired tombstones", [&] {
      StartTransaction();
      std::vector<BatchEdit> edits;
      sql::PreparedStatement& read =
          connection_.Prepare("SELECT pos, op, k, write_time_us FROM " + log_table_ +
                              " WHERE update_id = ? ORDER BY pos");
      for (size_t i = next; i < end;) {
        BatchEdit edit;
        edit.id = tombstones_[i].id;
        std::set<std::pair<uint8_t, std::string>> expired;
        for (; i < end && tombstones_[i].id == edit.id; ++i) {
          expired.emplace(tombstones_[i].op, tombstones_[i].key);
        }
        read.setUInt64(1, edit.id);
        std::unique_ptr<sql::ResultSet> rows(read.executeQuery());
        bool any = false;
        while (rows->next()) {
          Row row;
          row.pos = rows->getUInt(1);
          row.op = static_cast<uint8_t>(rows->getUInt(2));
          row.key = rows->getString(3).asStdString();
          edit.write_time_us = rows->getInt64(4);
          const bool drop = expired.contains({row.op, row.key});
          any |= drop;
          edit.drop.push_back(drop);
          edit.expired_tombstone.push_back(false);
          edit.rows.push_back(std::move(row));
        }
        // Only tombstones go here: it keeps one as it is.
        KeepTokenOfRecentBatch(edit);
        if (any) edits.push_back(std::move(edit));
      }
      Rewrite(edits);
      connection_.Execute("COMMIT");
      return 0;
    });
    *done += end - next;
    Progress(*done, total);
    next = end;
  }
}

// READ COMMITTED takes no gap locks: deleting old rows never blocks writers appending at the
// end of the table, even where the deleted rows are the highest ones.
void Compactor::StartTransaction() {
  connection_.Execute("SET TRANSACTION ISOLATION LEVEL READ COMMITTED");
  connection_.Execute("START TRANSACTION");
}

// Applies `edits` inside the caller's transaction. A batch that loses every row disappears with
// its token; the survivors of any other batch are renumbered 0 .. n-1 in their order, and their
// batch_size set to n, so readers that check both see a whole batch.
void Compactor::Rewrite(const std::vector<BatchEdit>& edits) {
  std::vector<uint64_t> gone;
  for (const BatchEdit& edit : edits) {
    if (edit.to_delete) {
      const Row& row = edit.rows[*edit.to_delete];
      sql::PreparedStatement& make_delete = connection_.Prepare(
          "UPDATE " + log_table_ +
          " SET op = ?, value = '', encoding = ?, checksum = ? WHERE update_id = ? AND pos = ?");
      const auto raw = static_cast<uint8_t>(ValueEncoding::kRaw);
      make_delete.setUInt(1, kDeleteOp);
      make_delete.setUInt(2, raw);
      make_delete.setUInt(3, RowChecksum(kDeleteOp, row.key, raw, ""));
      make_delete.setUInt64(4, edit.id);
      make_delete.setUInt(5, row.pos);
      make_delete.executeUpdate();
    }
    std::vector<uint32_t> dropped;
    for (size_t i = 0; i < edit.rows.size(); ++i) {
      if (edit.drop[i]) dropped.push_back(edit.rows[i].pos);
    }
    if (dropped.empty()) continue;
    if (dropped.size() == edit.rows.size()) {
      gone.push_back(edit.id);
      continue;
    }
    sql::PreparedStatement& remove = connection_.Prepare(
        "DELETE FROM " + log_table_ + " WHERE update_id = ? AND pos IN " + InList());
    remove.setUInt64(1, edit.id);
    for (size_t at = 0; at < dropped.size(); at += kInListSize) {
      BindInList(dropped, at, 2, [&](unsigned int p, uint32_t v) { remove.setUInt(p, v); });
      remove.executeUpdate();
    }
    const uint32_t kept = static_cast<uint32_t>(edit.rows.size() - dropped.size());
    sql::PreparedStatement& resize =
        connection_.Prepare("UPDATE " + log_table_ + " SET batch_size = ? WHERE update_id = ?");
    resize.setUInt(1, kept);
    resize.setUInt64(2, edit.id);
    resize.executeUpdate();
    // Ascending, so the position a row moves to is free: the row that had it is gone or has
    // moved lower already.
    sql::PreparedStatement& move = connection_.Prepare(
        "UPDATE " + log_table_ + " SET pos = ? WHERE update_id = ? AND pos = ?");
    uint32_t next_pos = 0;
    for (size_t i = 0; i < edit.rows.size(); ++i) {
      if (edit.drop[i]) continue;
      if (edit.rows[i].pos != next_pos) {
        move.setUInt(1, next_pos);
        move.setUInt64(2, edit.id);
        move.setUInt(3, edit.rows[i].pos);
        move.executeUpdate();
      }
      ++next_pos;
    }
  }
  io::CrashPoint("mysql_compaction.before_deletes");
  for (const std::string& table : {log_table_, batch_table_}) {
    sql::PreparedStatement& remove =
        connection_.Prepare("DELETE FROM " + table + " WHERE update_id IN " + InList());
    for (size_t at = 0; at < gone.size(); at += kInListSize) {
      BindInList(gone, at, 1, [&](unsigned int p, uint64_t v) { remove.setUInt64(p, v); });
      remove.executeUpdate();
    }
  }
}

CompactionResult Compactor::Compact() {
  CompactionResult result;
  const uint64_t limit = Step("reading the head id", [&] { return ReadHead(); }) + 1;
  const uint64_t before_id = options_.before_id == 0 ? limit : std::min(options_.before_id, limit);
  uint64_t rows_below = 0;
  Step("measuring the log", [&] {
    Measure(before_id, &rows_below, &result.bytes_before);
    return 0;
  });
  // Before any row goes (see ChangeLog::CompactedBelow), in a transaction of its own.
  Step("raising the compacted-below id", [&] {
    sql::PreparedStatement& raise =
        connection_.Prepare("UPDATE " + meta_table_ +
                            " SET compacted_below = GREATEST(compacted_below, ?) WHERE id = 1");
    raise.setUInt64(1, before_id);
    return raise.executeUpdate();
  });
  uint64_t done = 0;
  Progress(0, rows_below);
  // Every chunk ends below the last one's start: the walk ends after at most before_id chunks.
  uint64_t hi = before_id;
  for (uint64_t chunk = 0; hi > 0 && chunk < before_id; ++chunk) {
    auto [lo, scanned] = Step("compacting the updates below id " + std::to_string(hi),
                              [&] { return CompactChunk(hi); });
    io::CrashPoint("mysql_compaction.after_chunk");
    done += scanned;
    Progress(done, rows_below);
    hi = lo;
  }
  const uint64_t total = rows_below + tombstones_.size();
  DropTombstones(&done, total);
  Progress(total, total);
  uint64_t rows_after = 0;
  Step("measuring the log", [&] {
    Measure(before_id, &rows_after, &result.bytes_after);
    return 0;
  });
  result.removed = rows_below - std::min(rows_below, rows_after);
  result.kept = rows_after;
  result.horizon = Step("reading the horizon", [&] {
    sql::PreparedStatement& read =
        connection_.Prepare("SELECT horizon FROM " + meta_table_ + " WHERE id = 1");
    std::unique_ptr<sql::ResultSet> rows(read.executeQuery());
    return rows->next() ? rows->getUInt64(1) : uint64_t{0};
  });
  Step("releasing the compaction lock", [&] {
    sql::PreparedStatement& release =
        connection_.Prepare("SELECT RELEASE_LOCK(" + lock_name_ + ")");
    release.setString(1, connection_.uri().table_prefix);
    std::unique_ptr<sql::ResultSet> rows(release.executeQuery());
    return 0;
  });
  return result;
}

}  // namespace

CompactionResult CompactMysqlLog(MysqlConnection& connection, const CompactionOptions& options,
                                 const MysqlLogOptions& settings) {
  Compactor compactor(connection, options, settings);
  try {
    return compactor.Compact();
  } catch (...) {
    // Closing the connection releases the compaction lock and rolls back whatever is open.
    connection.Drop();
    throw;
  }
}

}  // namespace whycache::mysql_log
