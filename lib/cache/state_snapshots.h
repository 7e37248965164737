// Snapshots of a machine's state file: writing one from a pinned version, and restoring one
// into a fresh file that replaces the state without stopping its readers.
#ifndef WHYCACHE_LIB_CACHE_STATE_SNAPSHOTS_H_
#define WHYCACHE_LIB_CACHE_STATE_SNAPSHOTS_H_

#include <cstdint>
#include <string>

#include "lib/tree/tree.h"
#include "whycache/cache.h"
#include "whycache/change_log.h"

namespace whycache::cache {

// Writes the tree's current version (with its dataset id and the log's `horizon`) to `path`.
SnapshotInfo CreateStateSnapshot(tree::Tree& tree, const std::string& path, uint64_t horizon,
                                 const ProgressCallback& progress);

// Builds a state file from the snapshot at `path` next to the tree's file, brings it up from
// `log` to at least the tree's applied id, so that readers never see the applied id go back,
// then installs it. REQUIRES: the snapshot's dataset is the tree's (otherwise
// Error(kIncompatible)), and its applied id is at or above the log's horizon (otherwise
// Error(kInvalidArgument)). Where the log ends below the tree's applied id, throws
// Error(kInvalidArgument) unless `force`, which installs it as far as the log brings it. A
// damaged snapshot throws Error(kCorruption). On any error the tree is left as it was.
SnapshotInfo RestoreStateSnapshot(tree::Tree& tree, const std::string& path, ChangeLog& log,
                                  bool force, const ProgressCallback& progress);

// True if the snapshot at `path` (a readable header) is of the tree's dataset and recent enough
// for a log at `horizon` to bring it up to date; else false with the reason in `*why`.
bool SnapshotUsable(tree::Tree& tree, const std::string& path, uint64_t horizon, std::string* why);

// Writes the snapshot at `path` into `fresh`, an empty state file being built, and returns
// what it held. Throws Error(kCorruption) for a damaged snapshot.
SnapshotInfo FillFromSnapshot(tree::Tree& fresh, const std::string& path,
                              const ProgressCallback& progress);

}  // namespace whycache::cache

#endif  // WHYCACHE_LIB_CACHE_STATE_SNAPSHOTS_H_
