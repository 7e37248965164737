#include "lib/cache/applier.h"

#include <algorithm>
#include <chrono>
#include <exception>
#include <string>
#include <utility>

#include "lib/cache/poll_schedule.h"
#include "lib/cache/shared_control.h"
#include "lib/io/clock.h"
#include "lib/io/crash_point.h"
#include "whycache/error.h"

namespace whycache::cache {
namespace {

// A write transaction reads pages of the log until it holds this many mutations or bytes of
// keys and values (or, against a tree large enough, what makes the tree merge the transaction
// into a new file: tree::MergeBatchOps): enough that a backlog goes into few large commits (a
// commit that changes a large part of the tree rewrites all of it, so many medium ones cost far
// more than one big), few enough that readers see progress and the copies held stay bounded.
constexpr size_t kPageUpdates = 1024;
constexpr size_t kTxnMutations = size_t{1} << 18;
constexpr size_t kTxnBytes = size_t{64} << 20;
// A state being built is filled in one transaction, so that the tree merges the whole backlog
// into a new file in one sorted pass however the log cuts it: per key, a replay of 10M keys then
// costs what one of 1M does, where transactions of the size above made each commit past about
// 1M keys a copy-on-write of a quarter of the tree or less. The transaction holds a copy of the
// keys and values and an op of about kHeldBytesPerOp for each, up to kBuildTxnBytes; a larger
// backlog is merged in as many passes (of at least that many bytes each).
constexpr size_t kBuildTxnMutations = size_t{1} << 31;
constexpr size_t kBuildTxnBytes = size_t{2} << 30;
constexpr size_t kHeldBytesPerOp = 64;

// Adds `update` to `txn` and returns the bytes of its keys and values. With `copy`, the
// transaction keeps copies of them; without, views.
// REQUIRES: without `copy`, `update` outlives `txn`.
size_t ApplyOne(tree::WriteTxn& txn, const Update& update, bool copy) {
  size_t bytes = 0;
  try {
    for (const Mutation& m : update.mutations) {
      bytes += m.key.size() + m.value.size();
      switch (m.op) {
        case Mutation::Op::kSet:
          copy ? txn.Put(m.key, m.value) : txn.PutBorrowed(m.key, m.value);
          break;
        case Mutation::Op::kDelete:
          copy ? txn.Erase(m.key) : txn.EraseBorrowed(m.key);
          break;
        case Mutation::Op::kErasePrefix:
          copy ? txn.ErasePrefix(m.key) : txn.ErasePrefixBorrowed(m.key);
          break;
      }
    }
  } catch (const Error& e) {
    throw Error(Error::Code::kCorruption, "update " + std::to_string(update.id) +
                                              " cannot be applied: " + e.what() +
                                              "; applying stops here until it is fixed");
  }
  return bytes;
}

// Whether a state at `applied` may have missed deletes that compaction dropped. Checked after
// reading, because the horizon is raised before the deletes it covers disappear.
bool BelowHorizon(uint64_t applied, uint64_t horizon, const SharedControl& control) {
  return applied < horizon && horizon != control.replay_horizon.load(std::memory_order_relaxed);
}

// Whether a state at `applied`, reached by applying the log as it is now, may be one that never
// existed, because compaction rewrote entries up to it in favour of newer ones: such a state
// must not be published (see ChangeLog::CompactedBelow). Asked after the reads it covers.
bool InsideCompactedRange(ChangeLog& log, uint64_t applied) {
  return applied + 1 < log.CompactedBelow();
}

}  // namespace

ApplyResult ApplyFromLog(tree::Tree& tree, ChangeLog& log, bool wait, size_t max_updates,
                         ApplyMode mode, ChangeJournal* journal) {
  const bool building = mode == ApplyMode::kBuilding;
  ApplyResult result;
  while (true) {
    size_t max_mutations = building ? kBuildTxnMutations : kTxnMutations;
    size_t max_bytes = building ? kBuildTxnBytes : kTxnBytes;
    if (!building) {
      // A backlog against a large tree goes in transactions large enough for the tree to merge
      // each into a new file in one sorted pass, so that a state far behind catches up at a cost
      // per key that does not grow with the tree; the bytes held grow with it.
      const uint64_t merge = tree::MergeBatchOps(tree.BeginRead().KeyCount());
      if (merge > max_mutations) {
        max_bytes = kTxnBytes / kTxnMutations * merge;
        max_mutations = merge;
      }
    }
    // The pages outlive the transaction, which borrows their bytes unless it copies them.
    std::vector<std::vector<Update>> pages;
    std::unique_ptr<tree::WriteTxn> txn = tree.BeginWrite(wait);
    if (txn == nullptr) return result;
    result.applied = true;
    SharedControl* control = ControlOf(tree);
    const uint64_t applied = tree.BeginRead().AppliedId();
    result.applied_id = applied;

    if (applied == 0) control->replay_horizon.store(log.Horizon(), std::memory_order_relaxed);
    // Compaction drops batches left with nothing but superseded entries and expired tombstones,
    // the newest ones included, so a state replayed from the compacted log can run out of batches
    // below the head. It equals the full history replayed up to the head, and must say so: a
    // machine waiting for an id it was handed would otherwise wait for the next write. The head
    // is read before the batches, so that one committed between the two reads is never passed
    // over. A state at or above the horizon needs no extra read: a batch after it vanishes only
    // for a later entry it would read, or for a dropped tombstone, which raises the horizon.
    const uint64_t head_before =
        applied < control->replay_horizon.load(std::memory_order_relaxed) ? log.HeadId() : 0;
    const auto started = std::chrono::steady_clock::now();
    uint64_t previous = applied;
    size_t batches = 0;
    size_t mutations = 0;
    size_t bytes = 0;
    int64_t newest_write_us = 0;
    // A read that fails after others filled the transaction: what they read is applied first,
    // so that applying stops exactly at the update that could not be read.
    std::exception_ptr read_error;
    while (true) {
      const size_t used = result.updates + batches;
      const bool within_budget = used < max_updates && mutations < max_mutations &&
                                 bytes + (building ? mutations * kHeldBytesPerOp : 0) < max_bytes;
      // A state being built is seen by no reader before it is whole, so it may stop anywhere.
      if (!within_budget && (building || !InsideCompactedRange(log, previous))) break;
      const size_t want = within_budget ? std::min(kPageUpdates, max_updates - used) : kPageUpdates;
      ChangeLog::Tail read;
      try {
        read = log.ReadTail(previous, want);
      } catch (...) {
        read_error = std::current_exception();
        if (batches == 0) std::rethrow_exception(read_error);
        bool inside = true;
        try {
          inside = InsideCompactedRange(log, previous);
        } catch (...) {  // The log cannot tell: what was read stays unpublished.
        }
        if (inside) std::rethrow_exception(read_error);
        break;
      }
      // A transaction that copies lets go of each page once it is applied.
      if (building) pages.clear();
      const std::vector<Update>& page = pages.emplace_back(std::move(read.updates));
      if (result.updates == 0 && previous == applied) {
        control->polls.fetch_add(1, std::memory_order_relaxed);
      }
      control->last_poll_wall_us.store(io::NowMicros(), std::memory_order_relaxed);
      if (previous > 0 && BelowHorizon(previous, read.horizon, *control)) {
        result.below_horizon = true;
        return result;
      }
      if (page.empty()) break;
      for (const Update& update : page) {
        if (update.id <= previous) {
          throw Error(Error::Code::kCorruption, log.Describe() + " returned update " +
                                                    std::to_string(update.id) + " after update " +
                                                    std::to_string(previous) +
                                                    ": ids must increase; applying stops here");
        }
        bytes += ApplyOne(*txn, update, building);
        previous = update.id;
        mutations += update.mutations.size();
      }
      batches += page.size();
      newest_write_us = page.back().write_time_us;
    }
    if (batches == 0) {
      if (head_before > applied) {
        txn->Commit(head_before);
        if (journal != nullptr && journal->Wanted(io::NowMicros())) {
          journal->AppendChanges(applied, head_before, pages);
        }
        result.applied_id = head_before;
        control = ControlOf(tree);
      }
      control->log_head_seen.store(result.applied_id, std::memory_order_relaxed);
      result.caught_up = true;
      return result;
    }
    txn->Commit(previous);
    // Recorded under the writer lock, so in commit order.
    if (journal != nullptr) {
      io::CrashPoint("applier.commit.before_journal");
      if (journal->Wanted(io::NowMicros())) journal->AppendChanges(applied, previous, pages);
    }
    txn.reset();
    control = ControlOf(tree);

    const auto elapsed = std::chrono::steady_clock::now() - started;
    control->batches_applied.fetch_add(batches, std::memory_order_relaxed);
    control->mutations_applied.fetch_add(mutations, std::memory_order_relaxed);
    control->apply_ns.fetch_add(
        std::chrono::duration_cast<std::chrono::nanoseconds>(elapsed).count(),
        std::memory_order_relaxed);
    control->newest_applied_write_us.store(newest_write_us, std::memory_order_relaxed);
    result.applied_id = previous;
    result.updates += batches;
    if (read_error) std::rethrow_exception(read_error);

    // A short page does not prove the log is drained (reads may stop early to bound memory):
    // only an empty one does.
    if (result.updates >= max_updates) {
      control->log_head_seen.store(std::max(previous, log.HeadId()), std::memory_order_relaxed);
      return result;
    }
  }
}

}  // namespace whycache::cache
