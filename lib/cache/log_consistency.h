// Checking a machine's state against the ground truth: the log replayed from its start.
#ifndef WHYCACHE_LIB_CACHE_LOG_CONSISTENCY_H_
#define WHYCACHE_LIB_CACHE_LOG_CONSISTENCY_H_

#include <cstdint>
#include <string>

#include "lib/tree/tree.h"
#include "whycache/cache.h"
#include "whycache/change_log.h"

namespace whycache::cache {

// Compares the pinned version `txn` (at applied id A) with the log. A compacted log no longer
// shows the state at every id (an entry superseded after A is gone), so the check brings the
// version up to the log's head H in memory, with the log's updates after A, and compares that
// with the log replayed from its start to H, entry by entry. Returns "" when they are equal,
// else a description of the first difference (a key is named with its bytes escaped, and H and A
// when they differ).
//
// `replay_horizon` is the horizon under which the state was replayed from the log's start (see
// SharedControl::replay_horizon). Throws Error(kBusy) when A is below the log's horizon and the
// state was not replayed under that horizon: compaction dropped deletes it has not applied, so
// it cannot be brought up to date from the log, and it resyncs at its next update.
//
// `progress`, when set, is called now and then with the updates read so far and the updates
// to read in all (those after A, then the log from its start), as far as the log's head at
// the start tells; the last call has done == total.
std::string CompareWithLog(const tree::ReadTxn& txn, ChangeLog& log, uint64_t replay_horizon,
                           const ProgressCallback& progress);

}  // namespace whycache::cache

#endif  // WHYCACHE_LIB_CACHE_LOG_CONSISTENCY_H_
