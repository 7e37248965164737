// Checking a machine's state against the ground truth: the log replayed from its start.
#ifndef WHYCACHE_LIB_CACHE_LOG_CONSISTENCY_H_
#define WHYCACHE_LIB_CACHE_LOG_CONSISTENCY_H_

#include <string>

#include "lib/tree/tree.h"
#include "whycache/change_log.h"

namespace whycache::cache {

// Replays `log` up to the applied id of `txn` into memory and compares it with the pinned
// version, entry by entry. Returns "" when they are equal, else a description of the first
// difference (a key is named with its bytes escaped). The log's history from its start must
// be complete up to that id or compacted at or below it.
std::string CompareWithLog(const tree::ReadTxn& txn, ChangeLog& log);

}  // namespace whycache::cache

#endif  // WHYCACHE_LIB_CACHE_LOG_CONSISTENCY_H_
