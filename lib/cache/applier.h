// Applies the change log to a machine's state tree.
#ifndef WHYCACHE_LIB_CACHE_APPLIER_H_
#define WHYCACHE_LIB_CACHE_APPLIER_H_

#include <cstddef>
#include <cstdint>

#include "lib/cache/change_journal.h"
#include "lib/tree/tree.h"
#include "whycache/change_log.h"

namespace whycache::cache {

struct ApplyResult {
  bool applied = false;     // False if another process held the writer lock (and !wait).
  uint64_t applied_id = 0;  // The state's applied id afterwards.
  size_t updates = 0;       // Updates applied by this call.
  bool caught_up = false;   // The log had nothing newer when this call stopped.
  // The state is below the log's horizon: compaction dropped deletes it has not applied, so it
  // cannot catch up from the log and must be rebuilt (nothing was applied by this call).
  bool below_horizon = false;
};

// How ApplyFromLog cuts a backlog into write transactions.
enum class ApplyMode {
  // A state that readers see: transactions of bounded size, each published when committed, so
  // each commit publishes a further prefix of the log.
  kServing,
  // A state being built that no reader sees before it is installed whole (BuildAndInstall): the
  // backlog goes into as few transactions as memory allows (about 2 GiB of keys, values and
  // their ops each), which the tree merges into a new file in one sorted pass.
  kBuilding,
};

// Reads the updates after the tree's applied id from `log` and applies them in id order, in
// write transactions of the tree of a bounded size, per `mode` (several reads of the log each,
// for a backlog), so readers see whole batches only and a process killed meanwhile leaves the
// last published transaction intact. Stops after `max_updates` or when the log has nothing
// newer, but a state that readers see never inside a range of history that compaction rewrote
// (ChangeLog::CompactedBelow): a state there may be one that never existed, so it reads on past
// the range, or to the end of the log, in one transaction. Updates the counters and the poll
// figures of the shared control block.
//
// With `wait`, waits for the tree's writer lock; without, returns at once (applied = false)
// when another process is applying.
//
// A state whose applied id is below the log's horizon (checked after each read, since the
// horizon is raised before the deletes it covers disappear) applies nothing and reports
// below_horizon. A state at id 0 (empty) replays the compacted log from its start, which is
// always correct, unless the horizon moves again during the replay; once it has read the last
// batch it takes the log's head id, since the batches compaction dropped after its last one
// change nothing.
//
// Throws Error(kCorruption) naming the update id when the log returns an update that cannot be
// applied (out of order, or a key or value beyond the limits): applying stops there, loudly,
// rather than skipping it. Errors of the log itself propagate.
//
// With a `journal` (kServing only), each commit is recorded there while some process of the
// machine reads it (ChangeJournal::Wanted), before the writer lock is let go.
ApplyResult ApplyFromLog(tree::Tree& tree, ChangeLog& log, bool wait, size_t max_updates,
                         ApplyMode mode = ApplyMode::kServing, ChangeJournal* journal = nullptr);

}  // namespace whycache::cache

#endif  // WHYCACHE_LIB_CACHE_APPLIER_H_
