// The change log: the append-only, durable ground truth of a dataset. Every machine tails it
// and applies its updates in id order to its local state.
//
// Two implementations share this interface and one conformance suite: a directory of segment
// files (URI "file:DIR", the embedded default) and MySQL/MariaDB tables
// (URI "mysql://USER@HOST:PORT/DATABASE[?table=NAME][&socket=PATH][&defaults-file=PATH]
// [&allow_unsafe_server_settings=1][&durable_reads=0|1][&replicas=HOST:PORT,...]"; reads go to a
// replica, see README.md).
#ifndef WHYCACHE_CHANGE_LOG_H_
#define WHYCACHE_CHANGE_LOG_H_

#include <array>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <random>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "whycache/error.h"

namespace whycache {

// One change to one key, or to every key under a prefix. Keys and values are arbitrary bytes
// (NUL included); a value may be empty. A kDelete carries no value; deleting a missing key is
// not an error. A kErasePrefix holds the prefix in `key` and no value: it deletes every key that
// starts with those bytes (the key equal to them included) in one step, as one mutation of the
// log, where deleting them one by one would need to read them first and would race with sets.
// Mutations of a batch apply in order: a prefix delete followed by sets under the prefix
// replaces the subtree atomically. The prefix must not be empty.
struct Mutation {
  enum class Op : uint8_t { kSet = 1, kDelete = 2, kErasePrefix = 3 };
  Op op = Op::kSet;
  std::string key;
  std::string value;

  static Mutation Set(std::string key, std::string value) {
    return {Op::kSet, std::move(key), std::move(value)};
  }
  static Mutation Delete(std::string key) { return {Op::kDelete, std::move(key), {}}; }
  static Mutation ErasePrefix(std::string prefix) {
    return {Op::kErasePrefix, std::move(prefix), {}};
  }
  friend bool operator==(const Mutation&, const Mutation&) = default;
};

// One committed batch: all its mutations are applied together or not at all.
struct Update {
  uint64_t id = 0;                  // Strictly increasing in the order updates must be applied.
  int64_t write_time_us = 0;        // Wall clock (microseconds since the epoch) at append time.
  std::vector<Mutation> mutations;  // In the order they were appended.
  friend bool operator==(const Update&, const Update&) = default;
};

// Names one batch across the retries of its append, so that a retry never appends it twice.
// An append can fail without telling whether the batch was committed: a COMMIT whose answer was
// lost and whose server stayed down past the reconnect budget (MySQL), or a failed fdatasync
// after the frame was written (file log). Choose a token before the first attempt, keep it with
// the batch (e.g. in a job queue, or derived from a request id) and pass it on every attempt:
// an append whose token the log already holds returns that batch's id and appends nothing.
//
// The guarantee holds within the log's token retention: a token is remembered for at least an
// hour (by default) after its batch was appended, and in MySQL for as long as compaction keeps
// any mutation of the batch. A retry later than that may append the batch again. A token names one
// batch: reusing it for other mutations returns the first batch's id and drops them.
class AppendToken {
 public:
  static constexpr size_t kBytes = 16;

  // A token no other caller has: kBytes from the system's random source (std::random_device).
  static AppendToken Random() {
    std::random_device random;
    AppendToken token;
    for (size_t i = 0; i < kBytes; i += 4) {
      const uint32_t r = random();
      for (size_t j = 0; j < 4; ++j) token.bytes_[i + j] = static_cast<char>(r >> (8 * j));
    }
    return token;
  }

  // The token made of `bytes` (any bytes; derive them from something unique to the batch,
  // e.g. a hash of a request id). Throws Error(kInvalidArgument) unless it is kBytes long.
  static AppendToken FromBytes(std::string_view bytes) {
    if (bytes.size() != kBytes) {
      throw Error(Error::Code::kInvalidArgument, "an append token is " + std::to_string(kBytes) +
                                                     " bytes, not " + std::to_string(bytes.size()));
    }
    AppendToken token;
    bytes.copy(token.bytes_.data(), kBytes);
    return token;
  }

  std::string_view bytes() const { return {bytes_.data(), kBytes}; }
  friend bool operator==(const AppendToken&, const AppendToken&) = default;

 private:
  AppendToken() = default;
  std::array<char, kBytes> bytes_{};
};

enum class FsyncPolicy {
  kEveryAppend,  // Append returns only once the batch is durable (the default).
  kNever,        // Leave flushing to the operating system: faster, may lose recent appends
                 // on a machine crash (never on a process crash).
};

struct LogOptions {
  // Create the storage (directory, tables) when it does not exist yet. When false, opening a
  // log that was never initialized fails with Error(kUnavailable) saying to run `whycache init`.
  bool create_if_missing = false;
  FsyncPolicy fsync = FsyncPolicy::kEveryAppend;
  // How long one call may keep reconnecting, with backoff, to a log it cannot reach (a database
  // server that is down or restarting) before it throws Error(kUnavailable). The file log does
  // not wait.
  std::chrono::milliseconds reconnect_budget{30'000};
  // MySQL: the log's guarantees rest on server settings that make a commit durable when it
  // returns (innodb_flush_log_at_trx_commit = 1, and sync_binlog = 1 when the binary log is on)
  // and on sessions that see committed data only (autocommit on; isolation READ-COMMITTED,
  // REPEATABLE-READ or SERIALIZABLE). Creating the log and a writer's first append on each
  // connection check them and throw Error(kUnavailable) naming the setting, its value and the
  // value needed. Setting this (or the URI parameter allow_unsafe_server_settings=1) accepts
  // such a server anyway: a crash of its machine may then lose batches that were acknowledged
  // and applied by readers. The file log ignores it.
  bool allow_unsafe_server_settings = false;
};

// What Compact() does; see ChangeLog::Compact.
struct CompactionOptions {
  // Only entries with a smaller id are rewritten; 0 means the head id + 1 (all history).
  uint64_t before_id = 0;
  // A delete (tombstone) that is the newest entry of its key, and a prefix delete that no newer
  // prefix delete covers, are dropped once written longer ago than this; the horizon then moves
  // up to their id. Machines are expected to apply within the retention, so that only machines
  // switched off for longer must resync.
  std::chrono::seconds tombstone_retention{std::chrono::hours(24 * 7)};
  // Called now and then with the work done and the work to do in all (e.g. bytes or rows).
  std::function<void(uint64_t done, uint64_t total)> progress;
};

struct CompactionResult {
  uint64_t removed = 0;       // Mutations dropped: superseded entries and expired tombstones.
  uint64_t kept = 0;          // Mutations with an id below before_id that remain.
  uint64_t bytes_before = 0;  // Storage the log used before and after (as the backend counts).
  uint64_t bytes_after = 0;
  uint64_t horizon = 0;  // The horizon afterwards.
};

// Thread-safety: a ChangeLog object is used by one thread at a time (a MySQL connection cannot be
// shared). Any number of objects, in any number of processes and machines, may append to and read
// the same log at once.
class ChangeLog {
 public:
  virtual ~ChangeLog() = default;

  // Appends `batch` atomically and durably (per LogOptions::fsync) and returns its update id,
  // which is greater than every id committed before it. If the log already holds a batch
  // appended with `token` (within the token retention, see AppendToken), returns that batch's
  // id instead, once it is durable, and appends nothing.
  // REQUIRES: batch is not empty and within the limits of whycache/limits.h; otherwise throws
  // Error(kInvalidArgument) and appends nothing.
  // Throws Error(kUnavailable) when the log cannot be reached after retries (MySQL: its own
  // retries inside the reconnect budget never duplicate the batch), Error(kIOError) when a file
  // write or sync fails. After either, the batch may or may not be in the log: call Append
  // again with the same token and the same batch to find out without appending it twice.
  virtual uint64_t Append(std::span<const Mutation> batch, const AppendToken& token) = 0;

  // As Append(batch, token), for callers that do not retry a failed append: MySQL gives the
  // batch a random token (its own retries within the reconnect budget still never duplicate it);
  // the file log remembers no token for it (which saves a sync).
  virtual uint64_t Append(std::span<const Mutation> batch) = 0;

  // Returns committed updates with id > after_id, in id order, at most `max_updates` of them
  // (and possibly fewer to bound memory). An empty result means none is committed yet. Calling
  // it again with the last returned id never skips a committed update and never repeats one,
  // whatever order concurrent writers committed in.
  // Throws Error(kCorruption) naming the segment/offset or update id for a record that fails to
  // decode: the caller must stop there, never skip it.
  //
  // A caller whose state is at applied id after_id > 0 must read Horizon() after this returns
  // and, if after_id is below it, discard the result and resync: a compaction during or before
  // the call may have dropped deletes it needs. One call never returns updates from both sides
  // of a compaction that raised the horizon above the point where they meet, so a replay from 0
  // into an empty state needs no check for its first call.
  virtual std::vector<Update> ReadAfter(uint64_t after_id, size_t max_updates) = 0;

  // What ReadAfter returns, and a horizon to check it against in its place.
  struct Tail {
    std::vector<Update> updates;
    uint64_t horizon = 0;
  };
  // ReadAfter(after_id, max_updates) and the horizon that the rule above asks for, in one call:
  // a caller whose after_id is below `horizon` discards `updates` and resyncs. The horizon may
  // come from the same consistent read as the updates, which answers the same question (the
  // horizon rises before the tombstones it covers go, so a read that saw one change saw the
  // other) at a lower cost: this is the call for a machine that polls. By default ReadAfter,
  // then Horizon().
  virtual Tail ReadTail(uint64_t after_id, size_t max_updates) {
    Tail tail;
    tail.updates = ReadAfter(after_id, max_updates);
    tail.horizon = Horizon();
    return tail;
  }

  // The largest committed update id, or 0 for an empty log.
  virtual uint64_t HeadId() = 0;

  // History below the horizon has been compacted in a way that a machine whose applied id is
  // below it cannot catch up from (dropped tombstones): it must resync. 0 for a log whose
  // history is complete. Never decreases.
  virtual uint64_t Horizon() = 0;

  // Compaction has rewritten entries with smaller ids (0 if it never ran): a state at an
  // applied id X with X + 1 < CompactedBelow(), reached by applying the compacted log, may show
  // a state that never existed (an entry up to X dropped in favour of a newer one after X). A
  // caller applying the log in parts therefore publishes no state in that range: it reads on
  // until it passes it, or to the end of the log. Raised before (or atomically with) the
  // rewrite it covers, so reading it after ReadAfter returns covers what that call read. Never
  // decreases.
  virtual uint64_t CompactedBelow() = 0;

  // Rewrites history below options.before_id: for every key, only its newest entry with an id
  // below before_id is kept (a set, or a tombstone until it expires), with its original id,
  // unless a newer prefix delete below before_id covers the key; a prefix delete is kept (a
  // tombstone, until it expires) unless a newer prefix delete of it or of a shorter prefix of it
  // covers it. Entries superseded are dropped, and batches left without mutations disappear.
  // Entries with larger ids are untouched. So a machine at any applied id at or above the horizon
  // that applies the compacted log reaches exactly the state that replaying the full history gives.
  //
  // Runs while writers append and readers read, in bounded steps: readers never see part of a
  // batch, and never miss an update without the horizon telling them (the horizon is raised
  // before the tombstones it covers are dropped). HeadId() never decreases. Only one compaction
  // of a log runs at a time: a second one waits. A compactor killed at any point leaves the
  // log as it was or compacted, never damaged.
  virtual CompactionResult Compact(const CompactionOptions& options) = 0;

  // The dataset's identity: made when the storage is created and the same through every URI
  // that reaches this log (a MySQL replica too). A state file remembers it, so that it is
  // never fed from another dataset's log. At most 64 bytes.
  virtual std::string DatasetId() = 0;

  // A description safe to print (no password), e.g. "file:/var/lib/app/log".
  virtual std::string Describe() const = 0;

  // Where this object's reads go, as of its last read (no I/O): what `stats` shows.
  struct ReadServer {
    // "user@host:port" of the MySQL server reads go to: a replica named in the URI, or the
    // primary. Empty for a log with one place to read from (a file log).
    std::string server;
    bool on_primary = false;
    // How many update ids that server was behind the primary's head when last sampled, since
    // reads went to it: 0 on the primary, -1 while not measured.
    int64_t updates_behind = -1;
    std::string lag_unmeasured;  // Why updates_behind is -1 ("" when it is measured).
    std::string last_failover;   // "SERVER: REASON" of the last time reads left a server, or "".
  };
  // By default: an empty server.
  virtual ReadServer CurrentReadServer() const { return {}; }
};

// Opens the log named by `uri`. Throws Error(kInvalidArgument) for a malformed URI and
// Error(kUnavailable) when the storage cannot be reached or was never initialized.
std::unique_ptr<ChangeLog> OpenChangeLog(std::string_view uri, const LogOptions& options = {});

}  // namespace whycache

#endif  // WHYCACHE_CHANGE_LOG_H_
