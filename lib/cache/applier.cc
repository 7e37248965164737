#include "lib/cache/applier.h"

#include <algorithm>
#include <chrono>
#include <string>

#include "lib/cache/poll_schedule.h"
#include "lib/cache/shared_control.h"
#include "whycache/error.h"

namespace whycache::cache {
namespace {

// Updates per write transaction: big enough to amortize a commit, small enough that readers
// see progress and memory stays bounded.
constexpr size_t kPageUpdates = 1024;

void ApplyOne(tree::WriteTxn& txn, const Update& update) {
  try {
    for (const Mutation& m : update.mutations) {
      if (m.op == Mutation::Op::kSet) {
        txn.Put(m.key, m.value);
      } else {
        txn.Erase(m.key);
      }
    }
  } catch (const Error& e) {
    throw Error(Error::Code::kCorruption, "update " + std::to_string(update.id) +
                                              " cannot be applied: " + e.what() +
                                              "; applying stops here until it is fixed");
  }
}

// Whether a state at `applied` may have missed deletes that compaction dropped. Checked after
// reading, because the horizon is raised before the deletes it covers disappear.
bool BelowHorizon(uint64_t applied, uint64_t horizon, const SharedControl& control) {
  return applied < horizon && horizon != control.replay_horizon.load(std::memory_order_relaxed);
}

}  // namespace

ApplyResult ApplyFromLog(tree::Tree& tree, ChangeLog& log, bool wait, size_t max_updates) {
  ApplyResult result;
  while (true) {
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
    const size_t want = std::min(kPageUpdates, max_updates - result.updates);
    const auto started = std::chrono::steady_clock::now();
    std::vector<Update> page = log.ReadAfter(applied, want);
    if (result.updates == 0) control->polls.fetch_add(1, std::memory_order_relaxed);
    control->last_poll_wall_us.store(WallMicros(), std::memory_order_relaxed);
    if (applied > 0 && BelowHorizon(applied, log.Horizon(), *control)) {
      result.below_horizon = true;
      return result;
    }
    if (page.empty()) {
      if (head_before > applied) {
        txn->Commit(head_before);
        result.applied_id = head_before;
        control = ControlOf(tree);
      }
      control->log_head_seen.store(result.applied_id, std::memory_order_relaxed);
      result.caught_up = true;
      return result;
    }

    uint64_t previous = applied;
    size_t mutations = 0;
    for (const Update& update : page) {
      if (update.id <= previous) {
        throw Error(Error::Code::kCorruption, log.Describe() + " returned update " +
                                                  std::to_string(update.id) + " after update " +
                                                  std::to_string(previous) +
                                                  ": ids must increase; applying stops here");
      }
      ApplyOne(*txn, update);
      previous = update.id;
      mutations += update.mutations.size();
    }
    txn->Commit(previous);
    txn.reset();
    control = ControlOf(tree);

    const auto elapsed = std::chrono::steady_clock::now() - started;
    control->batches_applied.fetch_add(page.size(), std::memory_order_relaxed);
    control->mutations_applied.fetch_add(mutations, std::memory_order_relaxed);
    control->apply_ns.fetch_add(
        std::chrono::duration_cast<std::chrono::nanoseconds>(elapsed).count(),
        std::memory_order_relaxed);
    control->newest_applied_write_us.store(page.back().write_time_us, std::memory_order_relaxed);
    result.applied_id = previous;
    result.updates += page.size();

    // A short page does not prove the log is drained (reads may stop early to bound memory):
    // only an empty one does.
    if (result.updates >= max_updates) {
      control->log_head_seen.store(std::max(previous, log.HeadId()), std::memory_order_relaxed);
      return result;
    }
  }
}

}  // namespace whycache::cache
