#include "whycache/cache.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <new>
#include <thread>
#include <vector>

#include "lib/cache/applier.h"
#include "lib/cache/log_consistency.h"
#include "lib/cache/machine_read_stats.h"
#include "lib/cache/poll_schedule.h"
#include "lib/cache/read_counters.h"
#include "lib/cache/shared_control.h"
#include "lib/cache/state_rebuild.h"
#include "lib/cache/state_snapshots.h"
#include "lib/cache/subscriptions.h"
#include "lib/io/clock.h"
#include "lib/io/posix_file.h"
#include "lib/tree/boot_id.h"
#include "lib/tree/pin_barrier.h"
#include "lib/tree/tree.h"
#include "whycache/error.h"

namespace whycache {
namespace {

using cache::ControlOf;
using cache::SharedControl;

static_assert(sizeof(tree::ReadTxn) <= 96 && alignof(tree::ReadTxn) <= 8);
static_assert(sizeof(SharedControl) <= tree::kUserAreaBytes);

// Opens the state file. With a log (`from_log`), a missing file is created and a file that fails
// validation, being derived data, is moved aside to PATH.bad for inspection and replaced by an
// empty one that the log refills. Without one, the file must exist and be valid.
std::unique_ptr<tree::Tree> OpenOrReplaceState(const std::string& path, bool from_log) {
  struct stat damaged;
  if (!from_log && ::stat(path.c_str(), &damaged) != 0) {
    throw Error(Error::Code::kInvalidArgument,
                "state file " + path +
                    " does not exist: give the log too (--log or WHYCACHE_LOG) to create it");
  }
  try {
    return tree::Tree::Open(path, cache::StateTreeOptions());
  } catch (const Error& e) {
    if (e.code() != Error::Code::kCorruption || !from_log || ::stat(path.c_str(), &damaged)) {
      throw;
    }
    std::fprintf(stderr, "whycache: %s; moving it to %s.bad and rebuilding it from the log\n",
                 e.what(), path.c_str());
  }
  {
    // Processes that found the same damaged file at once move it aside only once: a file at
    // PATH with another inode is the replacement another process made.
    cache::ScopedFlock lock(cache::ReplacementLockPath(path));
    struct stat now;
    if (::stat(path.c_str(), &now) == 0 && now.st_ino == damaged.st_ino &&
        now.st_dev == damaged.st_dev && ::rename(path.c_str(), (path + ".bad").c_str()) != 0) {
      throw Error(Error::Code::kIOError,
                  "cannot move the damaged state file " + path + " aside: " + std::strerror(errno));
    }
  }
  return tree::Tree::Open(path, cache::StateTreeOptions());
}

}  // namespace

class CacheImpl final : public Cache {
 public:
  CacheImpl(const CacheOptions& options, std::unique_ptr<ChangeLog> log,
            std::unique_ptr<tree::Tree> tree, std::unique_ptr<cache::ChangeJournal> journal)
      : options_(options),
        log_(std::move(log)),
        log_pid_(getpid()),
        tree_(std::move(tree)),
        journal_(std::move(journal)),
        subscriptions_(journal_.get()) {}

  ~CacheImpl() override { LeaveLogOfParent(); }

  // Makes sure the state file belongs to the log's dataset and carries the poll settings, and
  // starts counting the reads of options_.stat_prefixes.
  void Attach(const std::string& log_error) {
    std::string error = log_error;
    std::unique_ptr<tree::WriteTxn> txn = tree_->BeginWrite(/*wait=*/true);
    SharedControl* control = ControlOf(*tree_);
    const int64_t interval_ns =
        std::chrono::duration_cast<std::chrono::nanoseconds>(options_.poll_interval).count();
    if (!cache::ControlIsValid(*control)) {
      if (log_ == nullptr) {
        throw Error(Error::Code::kUnavailable,
                    "state file " + options_.state_path + " is new or was never filled, and " +
                        (log_error.empty() ? "no log was given (pass --log or set WHYCACHE_LOG)"
                                           : log_error));
      }
      cache::InitializeControl(control, log_->DatasetId(), interval_ns);
    } else if (log_ != nullptr) {
      std::string dataset;
      try {
        dataset = log_->DatasetId();
      } catch (const Error& e) {
        // The log was reachable when it was opened and is not any more (a server that just
        // went down): serve the state as if it had been down then; the next poll reconnects.
        if (e.code() != Error::Code::kUnavailable) throw;
        error = e.what();
      }
      if (!dataset.empty() && dataset != cache::DatasetId(*control)) {
        throw Error(Error::Code::kIncompatible,
                    "state file " + options_.state_path + " belongs to another dataset than " +
                        log_->Describe() +
                        "; give each dataset its own state file (or delete this one to rebuild "
                        "it from this log)");
      }
    }
    // Only processes that poll set the machine's interval: one opened without a log (stats, an
    // exporter) would otherwise impose the default on the processes that do.
    if (!options_.log_uri.empty()) {
      control->poll_interval_ns.store(interval_ns, std::memory_order_relaxed);
    }
    cache::StartScheduleForThisBoot(control, tree::CurrentBootId(), io::NowMicros());
    if (!error.empty()) cache::RecordError(control, error, io::NowMicros());
    if (!options_.stat_prefixes.empty()) {
      read_stats_ = std::make_unique<cache::CacheReadStats>(
          options_.state_path, options_.stat_prefixes, options_.poll_interval);
    }
  }

  ReadTransaction BeginRead() override {
    // The tree's transaction first: when it throws, no ReadTransaction exists yet whose
    // destructor would end a transaction that never began.
    tree::ReadTxn pinned = tree_->BeginRead();
    ReadTransaction txn;
    new (txn.storage_) tree::ReadTxn(std::move(pinned));
    return txn;
  }

  std::optional<std::string> Get(std::string_view key) override {
    ReadTransaction txn = BeginRead();
    std::optional<std::string_view> v = txn.Get(key);
    if (!v) return std::nullopt;
    return std::string(*v);
  }

  uint64_t Set(std::string_view key, std::string_view value) override {
    const Mutation m = Mutation::Set(std::string(key), std::string(value));
    return Write(std::span(&m, 1));
  }

  uint64_t SetMulti(std::span<const std::pair<std::string, std::string>> entries) override {
    std::vector<Mutation> batch;
    batch.reserve(entries.size());
    for (const auto& [k, v] : entries) batch.push_back(Mutation::Set(k, v));
    return Write(batch);
  }

  uint64_t Delete(std::string_view key) override {
    const Mutation m = Mutation::Delete(std::string(key));
    return Write(std::span(&m, 1));
  }

  uint64_t DeleteMulti(std::span<const std::string> keys) override {
    std::vector<Mutation> batch;
    batch.reserve(keys.size());
    for (const std::string& k : keys) batch.push_back(Mutation::Delete(k));
    return Write(batch);
  }

  uint64_t ErasePrefix(std::string_view prefix) override {
    const Mutation m = Mutation::ErasePrefix(std::string(prefix));
    return Write(std::span(&m, 1));
  }

  uint64_t Write(std::span<const Mutation> batch) override {
    std::lock_guard lock(log_mu_);
    return Log().Append(batch);
  }

  uint64_t Write(std::span<const Mutation> batch, const AppendToken& token) override {
    std::lock_guard lock(log_mu_);
    return Log().Append(batch, token);
  }

  void Update() noexcept override {
    const int64_t now_ns = io::CoarseMonotonicNanos();
    if (read_stats_ != nullptr) read_stats_->PublishIfDue(now_ns);
    if (cache::ClaimDuePoll(ControlOf(*tree_), now_ns)) PollDue();
    if (subscriptions_.any() && subscriptions_.Due(now_ns)) [[unlikely]]
      Notify();
  }

  uint64_t UpdateNow() override {
    uint64_t applied = 0;
    {
      std::lock_guard lock(log_mu_);
      try {
        cache::ApplyResult r;
        do {
          r = Poll(/*wait=*/true);
        } while (!r.caught_up);
        cache::PollSucceeded(ControlOf(*tree_));
        applied = r.applied_id;
      } catch (const std::exception& e) {
        NotePollFailure(e.what());
        throw;
      }
    }
    if (subscriptions_.any()) Notify();
    return applied;
  }

  bool WaitFor(uint64_t id, std::chrono::milliseconds timeout) override {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (AppliedId() < id) {
      if (std::chrono::steady_clock::now() >= deadline) return false;
      {
        std::lock_guard lock(log_mu_);
        try {
          if (Poll(/*wait=*/true).applied) cache::PollSucceeded(ControlOf(*tree_));
        } catch (const std::exception& e) {
          NotePollFailure(e.what());
          throw;
        }
      }
      if (subscriptions_.any()) Notify();
      if (AppliedId() < id) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    return true;
  }

  uint64_t AppliedId() override { return tree_->BeginRead().AppliedId(); }

  uint64_t Subscribe(std::string prefix,
                     std::function<void(const ChangeNotice&)> callback) override {
    return subscriptions_.Add(std::move(prefix), std::move(callback), AppliedId(), io::NowMicros());
  }

  void Unsubscribe(uint64_t subscription) override { subscriptions_.Remove(subscription); }

  CacheStats Stats() override {
    const tree::TreeStats t = tree_->Stats();
    const SharedControl& c = *ControlOf(*tree_);
    CacheStats s;
    s.keys = t.keys;
    s.applied_id = t.applied_id;
    s.log_head_id = std::max(c.log_head_seen.load(std::memory_order_relaxed), t.applied_id);
    s.ids_behind = s.log_head_id - s.applied_id;
    s.lag_us = cache::LagMicros(c, s.ids_behind, io::NowMicros());
    s.bytes_used = t.used_bytes;
    s.file_bytes = t.file_bytes;
    s.oldest_pinned_version = t.oldest_pinned_version;
    s.oldest_pin_age_us = static_cast<int64_t>(t.oldest_pinned_age_seconds * 1e6);
    s.reader_slots_in_use = t.reader_slots_in_use;
    s.reader_slots = t.reader_slots;
    s.read_barrier = tree::ReadBarrierName(tree::ProcessReadBarrier());
    s.polls = c.polls.load(std::memory_order_relaxed);
    s.poll_errors = c.poll_errors.load(std::memory_order_relaxed);
    s.batches_applied = c.batches_applied.load(std::memory_order_relaxed);
    s.mutations_applied = c.mutations_applied.load(std::memory_order_relaxed);
    s.apply_us = c.apply_ns.load(std::memory_order_relaxed) / 1000;
    s.resyncs = c.resyncs.load(std::memory_order_relaxed);
    const cache::ReadTotals reads = cache::SumReadCounters();
    s.hits = reads.hits;
    s.misses = reads.misses;
    s.reads = reads.hits + reads.misses;
    try {
      s.prefixes = read_stats_ != nullptr ? read_stats_->Figures()
                                          : cache::PrefixFiguresOfMachine(options_.state_path);
    } catch (const Error& e) {
      s.prefixes_error = e.what();
    }
    if (c.consecutive_failures.load(std::memory_order_relaxed) > 0) {
      s.last_error = cache::LastError(c).message;
    }
    s.resync_snapshot_unused = cache::ResyncSnapshotUnused(c).message;
    std::lock_guard lock(read_server_mu_);
    s.read_server = read_server_;
    return s;
  }

  CompactionResult Compact(const CompactionOptions& options) override {
    std::lock_guard lock(log_mu_);
    return Log().Compact(options);
  }

  void Verify() override { tree_->Verify(); }

  std::string CheckAgainstLog(const ProgressCallback& progress) override {
    std::lock_guard lock(log_mu_);
    tree::ReadTxn txn = tree_->BeginRead();
    return cache::CompareWithLog(
        txn, Log(), ControlOf(*tree_)->replay_horizon.load(std::memory_order_relaxed), progress);
  }

  SnapshotInfo CreateSnapshot(const std::string& path, const ProgressCallback& progress) override {
    uint64_t horizon = 0;
    {
      std::lock_guard lock(log_mu_);
      horizon = log_ == nullptr ? 0 : Log().Horizon();
    }
    return cache::CreateStateSnapshot(*tree_, path, horizon, progress);
  }

  SnapshotInfo RestoreSnapshot(const std::string& path, const ProgressCallback& progress,
                               const RestoreOptions& restore) override {
    SnapshotInfo info;
    {
      std::lock_guard lock(log_mu_);
      info = cache::RestoreStateSnapshot(*tree_, path, Log(), restore.force, progress);
      NoteStateReplaced();
    }
    if (subscriptions_.any()) Notify();
    return info;
  }

 private:
  // Update() when a poll is due.
  void PollDue() noexcept {
    // Another thread of this process is writing or applying: it is not worth waiting for.
    std::unique_lock lock(log_mu_, std::try_to_lock);
    if (!lock.owns_lock()) return;
    try {
      // Another process applying (it holds the writer lock) says nothing about the log's health.
      // The control block is looked up again: the poll may have moved this process to a new
      // state file (a resync here, a restore elsewhere) and unmapped the old one.
      if (Poll(/*wait=*/false).applied) cache::PollSucceeded(ControlOf(*tree_));
    } catch (const std::exception& e) {
      NotePollFailure(e.what());
    }
  }

  // Gives this process's subscriptions what the machine applied since they last heard.
  void Notify() noexcept {
    try {
      subscriptions_.Deliver([this] { return AppliedId(); }, io::CoarseMonotonicNanos(),
                             io::NowMicros());
    } catch (const std::exception& e) {
      std::fprintf(stderr, "whycache: cannot read the change journal of %s: %s\n",
                   options_.state_path.c_str(), e.what());
    }
  }

  // Tells the machine's subscribers that the state was replaced wholesale (a first fill, a
  // resync, a restore), which the journal cannot list. REQUIRES: log_mu_ held.
  void NoteStateReplaced() {
    if (journal_->Wanted(io::NowMicros())) journal_->AppendReload(AppliedId());
  }

  // Applies what is new in the log; a state below the log's horizon is rebuilt first.
  // REQUIRES: log_mu_ held.
  cache::ApplyResult Poll(bool wait) {
    try {
      cache::ApplyResult r = PollOnce(wait);
      NoteReadServer();
      return r;
    } catch (...) {
      NoteReadServer();
      throw;
    }
  }

  // REQUIRES: log_mu_ held.
  cache::ApplyResult PollOnce(bool wait) {
    if (AppliedId() == 0) FillFromStart();
    cache::ApplyResult r = cache::ApplyFromLog(*tree_, Log(), wait, options_.max_updates_per_poll,
                                               cache::ApplyMode::kServing, journal_.get());
    if (!r.below_horizon) return r;
    Resync();
    return cache::ApplyFromLog(*tree_, Log(), wait, options_.max_updates_per_poll,
                               cache::ApplyMode::kServing, journal_.get());
  }

  // Keeps where this process's last poll read the log for Stats(), which must not wait for the
  // log lock that a poll holds. REQUIRES: log_mu_ held.
  void NoteReadServer() {
    if (log_ == nullptr) return;
    ChangeLog::ReadServer now = log_->CurrentReadServer();
    std::lock_guard lock(read_server_mu_);
    read_server_ = std::move(now);
  }

  // Fills a state that has applied nothing yet with the whole log, in a file of its own that is
  // swapped in once it has reached the log's head. Published part way, a replay of a compacted
  // log would show readers states that never were: compaction keeps only the newest entry of a
  // key, so below it the key looks absent although it was set all along. A process killed while
  // filling leaves the empty state in place. REQUIRES: log_mu_ held.
  void FillFromStart() {
    cache::ScopedFlock replacing(cache::ReplacementLockPath(options_.state_path));
    if (AppliedId() != 0) return;  // Another process of the machine did it meanwhile.
    ChangeLog& log = Log();
    if (log.HeadId() == 0) return;
    // Not installed if an applier of another process, which found the log empty when it looked,
    // moved the current state past the fill meanwhile: that state is newer and stays.
    const bool installed = cache::BuildAndInstall(*tree_, 0, [&](tree::Tree& fresh) {
      cache::CatchUpFromLog(fresh, log, UINT64_MAX, "the first fill of " + options_.state_path);
    });
    if (installed) NoteStateReplaced();
  }

  // Rebuilds the state from a snapshot (CacheOptions::resync_snapshot) or the compacted log
  // replayed from its start, caught up to the log's head, and swaps it in while readers carry
  // on. REQUIRES: log_mu_ held.
  void Resync() {
    cache::ScopedFlock replacing(cache::ReplacementLockPath(options_.state_path));
    ChangeLog& log = Log();
    const uint64_t horizon = log.Horizon();
    if (AppliedId() >= horizon) return;  // Another process of the machine did it meanwhile.
    const std::string& snapshot = options_.resync_snapshot;
    std::string why_not_snapshot;
    bool from_snapshot =
        !snapshot.empty() && cache::SnapshotUsable(*tree_, snapshot, horizon, &why_not_snapshot);
    // The header of a usable snapshot checks out, but its body is only read while filling: a
    // damaged one must not fail every resync, so the log is replayed instead.
    // False when the current state moved past the rebuilt one meanwhile (BuildAndInstall): it
    // stays, and the resync is not counted.
    const auto rebuild = [&] {
      return cache::BuildAndInstall(*tree_, 0, [&](tree::Tree& fresh) {
        if (from_snapshot) {
          try {
            cache::FillFromSnapshot(fresh, snapshot, nullptr);
          } catch (const Error& e) {
            why_not_snapshot = e.what();
            throw;
          }
        }
        cache::CatchUpFromLog(fresh, log, UINT64_MAX, "the resync of " + options_.state_path);
      });
    };
    const auto say_why = [&] {
      std::fprintf(stderr, "whycache: resync of %s replays the log: %s\n",
                   options_.state_path.c_str(), why_not_snapshot.c_str());
    };
    if (!why_not_snapshot.empty()) say_why();
    bool installed = false;
    try {
      installed = rebuild();
    } catch (const Error&) {
      if (!from_snapshot || why_not_snapshot.empty()) throw;
      from_snapshot = false;
      say_why();
      installed = rebuild();
    }
    if (!installed) return;
    NoteStateReplaced();
    SharedControl* control = ControlOf(*tree_);
    control->resyncs.fetch_add(1, std::memory_order_relaxed);
    if (!snapshot.empty()) {
      cache::RecordResyncSnapshotUnused(control, why_not_snapshot, io::NowMicros());
    }
  }

  // The log, connecting first if it could not be reached before. REQUIRES: log_mu_ held.
  ChangeLog& Log() {
    LeaveLogOfParent();
    if (log_ == nullptr) {
      if (options_.log_uri.empty()) {
        throw Error(Error::Code::kInvalidArgument, "no change log was given for " +
                                                       options_.state_path +
                                                       " (pass --log or set WHYCACHE_LOG)");
      }
      log_ = OpenChangeLog(options_.log_uri, options_.log_options);
      log_pid_ = getpid();
    }
    return *log_;
  }

  // In a child forked after the log was opened, lets go of the parent's handle without closing
  // it: a MySQL connection's socket would carry both processes' statements, and closing it would
  // end the parent's session. The handle stays reachable (not leaked) and is never used again;
  // Log() opens the child's own. REQUIRES: log_mu_ held, or the last reference to the cache.
  void LeaveLogOfParent() {
    if (log_ == nullptr || log_pid_ == getpid()) return;
    static auto* const left_by_parents = new std::vector<std::unique_ptr<ChangeLog>>;
    left_by_parents->push_back(std::move(log_));
  }

  void NotePollFailure(const std::string& message) {
    SharedControl* control = ControlOf(*tree_);
    control->poll_errors.fetch_add(1, std::memory_order_relaxed);
    cache::RecordError(control, message, io::NowMicros());
    cache::PollFailed(control, io::CoarseMonotonicNanos());
  }

  const CacheOptions options_;
  std::mutex log_mu_;  // The log object is used by one thread at a time.
  std::mutex read_server_mu_;
  ChangeLog::ReadServer read_server_;  // Guarded by read_server_mu_.
  std::unique_ptr<ChangeLog> log_;
  pid_t log_pid_;  // The process that opened log_.
  std::unique_ptr<tree::Tree> tree_;
  const std::unique_ptr<cache::ChangeJournal> journal_;
  cache::Subscriptions subscriptions_;
  // Set by Attach when options_.stat_prefixes is not empty.
  std::unique_ptr<cache::CacheReadStats> read_stats_;
};

std::unique_ptr<Cache> Cache::Open(const CacheOptions& options) {
  if (options.state_path.empty()) {
    throw Error(Error::Code::kInvalidArgument, "no state file given (CacheOptions::state_path)");
  }
  cache::CheckStatPrefixes(options.stat_prefixes);
  std::unique_ptr<ChangeLog> log;
  std::string log_error;
  if (!options.log_uri.empty()) {
    try {
      log = OpenChangeLog(options.log_uri, options.log_options);
    } catch (const Error& e) {
      // A machine whose state file is intact keeps serving it while the log is down.
      if (e.code() != Error::Code::kUnavailable || !io::PathExists(options.state_path)) {
        throw;
      }
      log_error = e.what();
    }
  }
  std::unique_ptr<tree::Tree> state =
      OpenOrReplaceState(options.state_path, !options.log_uri.empty());
  std::unique_ptr<cache::ChangeJournal> journal =
      cache::ChangeJournal::Open(cache::ChangeJournal::PathFor(options.state_path));
  auto impl =
      std::make_unique<CacheImpl>(options, std::move(log), std::move(state), std::move(journal));
  impl->Attach(log_error);
  return impl;
}

// ReadTransaction: a tree::ReadTxn kept in place.

namespace {
const tree::ReadTxn& TxnIn(const unsigned char* storage) {
  return *std::launder(reinterpret_cast<const tree::ReadTxn*>(storage));
}
}  // namespace

ReadTransaction::ReadTransaction(ReadTransaction&& other) noexcept {
  new (storage_)
      tree::ReadTxn(std::move(*std::launder(reinterpret_cast<tree::ReadTxn*>(other.storage_))));
}

ReadTransaction::~ReadTransaction() {
  std::launder(reinterpret_cast<tree::ReadTxn*>(storage_))->~ReadTxn();
}

std::optional<std::string_view> ReadTransaction::Get(std::string_view key) const {
  std::optional<std::string_view> v = TxnIn(storage_).Get(key);
  cache::ReadCountersForThisThread().Count(v.has_value(), key);
  return v;
}

void ReadTransaction::ScanEntries(std::string_view start, std::string_view prefix, VisitFn call,
                                  void* visit) const {
  for (tree::Iterator it = TxnIn(storage_).LowerBound(start); it.Valid(); it.Next()) {
    const std::string_view key = it.key();
    if (!key.starts_with(prefix) || !call(visit, key, it.value())) return;
  }
}

uint64_t ReadTransaction::applied_id() const { return TxnIn(storage_).AppliedId(); }

uint64_t ReadTransaction::key_count() const { return TxnIn(storage_).KeyCount(); }

}  // namespace whycache
