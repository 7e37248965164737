// whycache::Cache: a dataset replicated onto this machine. Reads come from a memory-mapped state
// file shared by every process of the machine; writes go to the change log, and each machine
// applies the log to its state when a process calls Update().
//
// The per-request pattern:
//
//   auto cache = whycache::Cache::Open({.state_path = "/dev/shm/flags.state",
//                                       .log_uri = "file:/var/lib/flags/log"});
//   ...
//   cache->Update();                         // Nearly free unless a poll is due.
//   whycache::ReadTransaction txn = cache->BeginRead();
//   if (auto v = txn.Get("user:42:perm")) {  // A view into the mapping: no copy.
//     Use(*v);                               // Valid until `txn` ends.
//   }
#ifndef WHYCACHE_CACHE_H_
#define WHYCACHE_CACHE_H_

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "whycache/change_log.h"

namespace whycache {

struct CacheOptions {
  std::string state_path;  // REQUIRED: the machine's state file, e.g. under /dev/shm.
  std::string log_uri;     // REQUIRED: "file:DIR" or "mysql://USER@HOST:PORT/DATABASE...".
  // How often the machine polls the log. Stored in the shared state: the last process to open
  // the state file with a log sets it for the whole machine.
  std::chrono::milliseconds poll_interval{50};
  // Apply at most this many updates per poll, so one Update() never runs for long. A poll that
  // would stop inside a range of history a compaction has just rewritten reads on past it (a
  // state there may be one that never existed), so it can apply more.
  size_t max_updates_per_poll = 100'000;
  // A machine whose state fell below the log's horizon (it missed deletes that compaction has
  // since dropped) rebuilds its state: from this snapshot file when it is set, usable and recent
  // enough, else by replaying the compacted log from its start. A snapshot found damaged while
  // it is read is passed over the same way; Stats().resync_snapshot_unused says why.
  std::string resync_snapshot;
  // A poll that cannot reach the log gives up within a second, so that Update() never holds up
  // a request for long; the next due poll retries.
  LogOptions log_options{.reconnect_budget = std::chrono::milliseconds(1000)};
  // Key prefixes whose reads to count, hits and misses apart, in this process and on the whole
  // machine (CacheStats::prefixes). A read (ReadTransaction::Get) counts toward every prefix its
  // key starts with: with "user:" and "user:4", the key "user:42" counts toward both. While this
  // Cache is open, reads through every Cache of the process count toward its prefixes (counting
  // is per process, not per Cache). At most kMaxStatPrefixes, each non-empty, within kMaxKeyBytes
  // and given once, else Open throws Error(kInvalidArgument); so it does when the process would
  // count more than 64 distinct prefixes over its life. Reads pay for prefixes only while some are
  // counted: a load and a branch without them.
  //
  // The machine's counts live in a file next to the state file, STATE_PATH.read-stats, which Open
  // creates (and replaces, moving it to STATE_PATH.read-stats.bad, when it is damaged or of
  // another format version: the machine's figures then start from zero). Each process publishes
  // its counts there at most once per poll_interval from Update(), in Stats() and when the Cache
  // closes; reads since a killed process's last publication are not in the machine's counts.
  // Counts of processes that ended stay. At most 256 distinct prefixes per machine and 1024
  // counting processes at once: beyond them Open throws Error(kInvalidArgument) or Error(kBusy).
  std::vector<std::string> stat_prefixes;
};

inline constexpr size_t kMaxStatPrefixes = 32;

// The reads of keys starting with one prefix (see CacheOptions::stat_prefixes).
struct PrefixReadStats {
  std::string prefix;
  // This process's reads (a forked child's since the fork) while a Cache of it counted the prefix.
  uint64_t process_hits = 0;
  uint64_t process_misses = 0;
  // The reads of every process of the machine that counted the prefix, as published.
  uint64_t machine_hits = 0;
  uint64_t machine_misses = 0;
};

// Figures about the local state and the log as this machine last saw it.
struct CacheStats {
  uint64_t keys = 0;
  uint64_t applied_id = 0;
  uint64_t log_head_id = 0;  // The log head at the last successful poll.
  uint64_t ids_behind = 0;   // log_head_id - applied_id.
  // Now minus the write time of the newest applied update while the machine is behind, cannot
  // reach the log, or has not polled since its state file was made or the machine booted; else 0.
  int64_t lag_us = 0;
  uint64_t bytes_used = 0;  // Live bytes in the state file.
  uint64_t file_bytes = 0;  // Size of the state file.
  uint64_t oldest_pinned_version = 0;
  int64_t oldest_pin_age_us = 0;
  uint32_t reader_slots_in_use = 0;
  // The state file's reader slots. Readers beyond them share a few more, counted in use too.
  uint32_t reader_slots = 0;
  // How this process's read transactions order their pin in the reader table: "membarrier" (a
  // plain store; writers run membarrier(MEMBARRIER_CMD_GLOBAL_EXPEDITED) before reusing space)
  // where the kernel offers it, else "fence" (a full barrier per read transaction).
  std::string read_barrier;
  // Machine-wide counters, kept in the shared state.
  uint64_t polls = 0;
  uint64_t poll_errors = 0;
  uint64_t batches_applied = 0;
  uint64_t mutations_applied = 0;
  uint64_t apply_us = 0;
  uint64_t resyncs = 0;  // State rebuilds after falling below the log's horizon.
  // Why the last resync did not start from CacheOptions::resync_snapshot and replayed the log
  // instead, naming the file (damaged, of another dataset, older than the horizon, ...); empty
  // when it did, or when no resync snapshot is set.
  std::string resync_snapshot_unused;
  // This process's counters (a forked child's since the fork).
  uint64_t reads = 0;
  uint64_t hits = 0;
  uint64_t misses = 0;
  // This Cache's CacheOptions::stat_prefixes in the order given, then every other prefix that
  // the machine's read-stats file names (counted by other processes, now or before), in the
  // order the machine first counted them. Machine figures include this process's reads up to now.
  // Empty when the read-stats file cannot be read; prefixes_error then says why.
  std::vector<PrefixReadStats> prefixes;
  // Why the machine's read-stats file (STATE_PATH.read-stats) could not be read, naming it and
  // what to do (damaged, of another format version); empty when it was read or does not exist.
  // The other figures do not depend on it.
  std::string prefixes_error;
  std::string last_error;  // Empty when the last poll succeeded.
  // Where this process's last poll read the log (a MySQL replica or the primary) and how far
  // that server was behind the primary (ChangeLog::ReadServer); empty before this process polled.
  ChangeLog::ReadServer read_server;
};

// What changed under a subscribed prefix (see Cache::Subscribe).
struct ChangeNotice {
  // Beyond this many keys a notice says reload instead of listing them.
  static constexpr size_t kMaxKeys = 10'000;

  // The updates it covers, (after_id, last_id]: a read transaction begun after the notice sees
  // a state at last_id or later.
  uint64_t after_id = 0;
  uint64_t last_id = 0;
  // Everything under the prefix may have changed: there were more than kMaxKeys changes, or
  // changes the machine does not list (its state was rebuilt or restored from a snapshot, or
  // this process looked too late, after the machine's journal had moved on). `keys` and
  // `erased_prefixes` are then empty: read the prefix again.
  bool reload = false;
  // The keys under the prefix that were set or deleted, sorted, each once.
  std::vector<std::string> keys;
  // The prefix deletes that reached under the prefix (of the prefix, of a shorter prefix of it,
  // or of a longer one within it), in the order applied.
  std::vector<std::string> erased_prefixes;
};

// What a snapshot file holds (see Cache::CreateSnapshot).
struct SnapshotInfo {
  uint32_t format_version = 0;
  std::string dataset_id;
  uint64_t applied_id = 0;  // The state it holds is the log replayed up to this id.
  uint64_t horizon = 0;     // The log's horizon when it was made.
  uint64_t key_count = 0;
  uint64_t raw_bytes = 0;  // Sum of key and value sizes.
  uint64_t file_bytes = 0;
};

// Called now and then with the work done and the work to do in all, to show progress: bytes,
// or updates where the function taking it says so.
using ProgressCallback = std::function<void(uint64_t done, uint64_t total)>;

// See Cache::RestoreSnapshot.
struct RestoreOptions {
  // Install the snapshot even when the log cannot bring it up to the local state's applied id
  // (the log ends before it, e.g. the log itself was brought back from an older backup): readers
  // then see the applied id go back. Without it such a restore is refused.
  bool force = false;
};

// Reads a snapshot file whole and checks its header, checksums and entries without changing
// anything. Throws Error(kCorruption) naming the file and what is wrong, Error(kIncompatible)
// for an intact snapshot of another format version.
SnapshotInfo VerifySnapshot(const std::string& path);

class ReadTransaction;
class CacheImpl;

// Thread-safety: a Cache may be shared by the threads of a process; every method is safe to call
// concurrently. Process-safety: any number of processes may open the same state file and log.
// Fork: a Cache opened before fork() keeps working in the child, which opens its own connection
// to the log at its first poll or write and leaves the parent's untouched (pre-fork servers).
// REQUIRES: no other thread of the parent is inside a method of the Cache during fork().
class Cache {
 public:
  // Opens (creating when missing) the state file and connects to the log. A state file that is
  // damaged or of another format version is moved aside (to PATH.bad) and rebuilt from the log.
  // `log_uri` may be empty to read an existing state file alone (Update() then fails).
  // Throws Error(kInvalidArgument) for bad options, Error(kIncompatible) for a state file of
  // another dataset (it is left alone), Error(kUnavailable) if the log cannot be reached and
  // there is no state file to serve meanwhile, Error(kIOError) if the state file or its change
  // journal (PATH.journal, see Subscribe) cannot be created.
  static std::unique_ptr<Cache> Open(const CacheOptions& options);

  virtual ~Cache() = default;

  // Pins the current state for reading; see ReadTransaction. Never blocks, and never fails for
  // want of reader slots: any number of threads and processes may read at once (beyond the
  // state file's slots, a read costs an atomic read-modify-write more). When the state file is
  // replaced (rebuilt, restored, or made anew after it was moved aside or deleted, which the
  // next Update() of a process on the old file notices), read transactions begun afterwards use
  // the new one. Throws Error(kCorruption) only when the state file itself is damaged, and
  // Error(kIOError) only when this process cannot lock its entry in a replaced state file (the
  // path names another file by then and /proc is not mounted).
  virtual ReadTransaction BeginRead() = 0;

  // Copies the value of `key` out of the current state, or nullopt.
  virtual std::optional<std::string> Get(std::string_view key) = 0;

  // Writes go to the log only; they become visible here once applied (see WaitFor).
  // Each call appends one atomic batch and returns its update id.
  // Throws Error(kInvalidArgument) beyond the limits of whycache/limits.h, Error(kUnavailable)
  // if the log cannot be reached (within LogOptions::reconnect_budget), Error(kIOError) if a
  // file log's write or sync fails. After kUnavailable or kIOError the batch may or may not have
  // been appended: to retry without appending it twice, use Write(batch, token).
  virtual uint64_t Set(std::string_view key, std::string_view value) = 0;
  virtual uint64_t SetMulti(std::span<const std::pair<std::string, std::string>> entries) = 0;
  virtual uint64_t Delete(std::string_view key) = 0;
  virtual uint64_t DeleteMulti(std::span<const std::string> keys) = 0;
  // Deletes every key that starts with `prefix` (see Mutation::ErasePrefix): one mutation, which
  // every machine applies by cutting the subtree off, not key by key. To replace a subtree
  // atomically, Write a batch of Mutation::ErasePrefix followed by the new sets. Throws
  // Error(kInvalidArgument) for an empty prefix, as for the limits.
  virtual uint64_t ErasePrefix(std::string_view prefix) = 0;
  virtual uint64_t Write(std::span<const Mutation> batch) = 0;

  // Write(batch) that is safe to retry: pass the same `token` (see AppendToken) on every attempt
  // of one batch. If the log already holds a batch appended with it, within the token
  // retention, returns that batch's id and appends nothing; so a retry after an error that left
  // the outcome unknown appends the batch at most once.
  //   const AppendToken token = AppendToken::Random();  // Once per batch, before any attempt.
  //   for (int attempt = 0;; ++attempt) {
  //     try { return cache->Write(batch, token); }
  //     catch (const Error& e) { if (attempt == 2) throw; }
  //   }
  virtual uint64_t Write(std::span<const Mutation> batch, const AppendToken& token) = 0;

  // The per-request call. When no poll is due it returns at once (a clock read and a load: no
  // system call, lock or allocation; with subscriptions, also a look at the journal). When one is
  // due, exactly one process of the machine polls the log and applies new updates; the others
  // return at once. Never throws: errors are recorded (see Stats().last_error) and retried with
  // backoff while the last applied state keeps being served.
  virtual void Update() noexcept = 0;

  // Polls and applies now, ignoring the schedule; waits for another applying process instead
  // of returning. Returns the applied id. Throws the error that stopped applying.
  virtual uint64_t UpdateNow() = 0;

  // Applies until update `id` is visible here (read-your-writes) or `timeout` passes. Returns
  // true if it is. Throws the error that stopped applying.
  virtual bool WaitFor(uint64_t id, std::chrono::milliseconds timeout) = 0;

  // The id of the newest update in the local state.
  virtual uint64_t AppliedId() = 0;

  // Calls `callback` with what changed under `prefix` (under any key, when empty) each time
  // updates that changed it have been applied on this machine, whichever process of the machine
  // applied them: in this process, at its next call of Update(), UpdateNow() or WaitFor(), on
  // the thread that makes it (one thread at a time; the others do not wait). Changes applied
  // after Subscribe returns are notified; so subscribe first, then read what you derive from
  // the prefix. The machine lists changes in a journal next to the state file (PATH.journal):
  // while no process subscribes, appliers write nothing there. `callback` must not throw (an
  // exception is reported on stderr and dropped) and may call Subscribe, Unsubscribe and
  // Update() (which then delivers nothing). Returns the subscription's id.
  virtual uint64_t Subscribe(std::string prefix,
                             std::function<void(const ChangeNotice&)> callback) = 0;
  // Ends a subscription; its callback is not called once Unsubscribe returns (unless from within
  // that callback). An unknown id is ignored.
  virtual void Unsubscribe(uint64_t subscription) = 0;

  virtual CacheStats Stats() = 0;

  // Compacts the log's history (see ChangeLog::Compact): run it from one place, e.g. a cron job;
  // machines keep applying meanwhile, and those that fall below the new horizon resync by
  // themselves. Throws the log's errors.
  virtual CompactionResult Compact(const CompactionOptions& options) = 0;

  // Walks the local state and checks every structural invariant. Throws Error(kCorruption).
  virtual void Verify() = 0;

  // Compares the local state with the log replayed from its start. A compacted log no longer
  // shows the history at every id, so the local state (at its applied id A) is brought up to the
  // log's head in memory with the log's updates after A, and compared with the log replayed to
  // the same id: a machine merely behind the log passes. The local state is left as it is.
  // Returns "" when they are equal, else a description of the first difference. Holds the
  // whole replayed dataset and the updates after A in memory. Throws Error(kBusy) when A is below
  // the log's horizon (compaction dropped deletes it has not applied, so the log cannot tell
  // what it should hold; Update() resyncs it), and the log's errors. `progress`, when set, is
  // called now and then with the updates read and the updates to read in all.
  virtual std::string CheckAgainstLog(const ProgressCallback& progress = nullptr) = 0;

  // Writes a snapshot of the current local state to `path`: written to a temporary file and
  // renamed, so `path` only ever holds a complete snapshot. Readers and the applier carry on
  // meanwhile (it reads one pinned version). Throws Error(kIOError) naming the path.
  virtual SnapshotInfo CreateSnapshot(const std::string& path,
                                      const ProgressCallback& progress = nullptr) = 0;

  // Replaces the local state with the snapshot at `path`; Update() then catches up from the
  // snapshot's id. A snapshot older than the local state is first brought up from the log to at
  // least the local state's applied id, so that readers never see the applied id go back.
  // Readers keep the state they pinned and move to the restored one at their next read
  // transaction. Returns what the snapshot held. Throws, leaving the local state as it was:
  // Error(kCorruption) for a damaged snapshot, Error(kIncompatible) for a snapshot of another
  // dataset or format version, Error(kInvalidArgument) for one older than the log's horizon (the
  // log could not bring it up to date) or one the log cannot bring up to the local state's
  // applied id (the log ends before it) unless `options.force`, Error(kUnavailable) when
  // appliers of other processes moved the local state on during three restores in a row.
  virtual SnapshotInfo RestoreSnapshot(const std::string& path,
                                       const ProgressCallback& progress = nullptr,
                                       const RestoreOptions& options = {}) = 0;
};

// A consistent, immutable view of the local state. Views (string_views) it returns stay valid
// and unchanged until it ends, whatever writers and appliers do meanwhile. Use and end it on the
// thread that began it; keep it short: space a pinned version holds is not reused until it ends.
// A forked child gets a copy that it must not read; ending that copy leaves the parent's
// transaction as it was.
class ReadTransaction {
 public:
  ReadTransaction(ReadTransaction&& other) noexcept;
  ReadTransaction& operator=(ReadTransaction&&) = delete;
  ReadTransaction(const ReadTransaction&) = delete;
  ~ReadTransaction();

  // The value of `key`, as a view into the shared mapping, or nullopt.
  std::optional<std::string_view> Get(std::string_view key) const;

  // Calls `visit(key, value)` for each entry whose key starts with `prefix`, in byte order,
  // until it returns false. `visit` is any callable taking two std::string_views and returning
  // bool; it is called by reference, and nothing is allocated per call.
  template <typename Visit>
  void Scan(std::string_view prefix, Visit&& visit) const {
    ScanEntries(prefix, prefix, &Call<std::remove_reference_t<Visit>>, AsVoid(visit));
  }

  // Calls `visit` for each entry with key >= `start`, in byte order, until it returns false.
  template <typename Visit>
  void ScanFrom(std::string_view start, Visit&& visit) const {
    ScanEntries(start, {}, &Call<std::remove_reference_t<Visit>>, AsVoid(visit));
  }

  // The id of the newest update this view includes.
  uint64_t applied_id() const;
  // The number of keys in this view.
  uint64_t key_count() const;

 private:
  friend class CacheImpl;
  ReadTransaction() = default;

  using VisitFn = bool (*)(void* visit, std::string_view key, std::string_view value);
  template <typename Visit>
  static bool Call(void* visit, std::string_view key, std::string_view value) {
    return (*static_cast<Visit*>(visit))(key, value);
  }
  template <typename Visit>
  static void* AsVoid(Visit& visit) {
    return const_cast<void*>(static_cast<const void*>(std::addressof(visit)));
  }
  // Calls `call(visit, key, value)` for the entries from `start` on whose keys start with
  // `prefix`, until it returns false.
  void ScanEntries(std::string_view start, std::string_view prefix, VisitFn call,
                   void* visit) const;

  // The pinned tree version lives here rather than on the heap: beginning a read transaction
  // allocates nothing.
  static constexpr size_t kStorageBytes = 96;
  alignas(8) unsigned char storage_[kStorageBytes];
};

}  // namespace whycache

#endif  // WHYCACHE_CACHE_H_
