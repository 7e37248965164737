// History compaction of a file log: sealed segments are rewritten into new segments that keep,
// for every key, only its newest entry below the limit, and the manifest is swapped to them.
// A prefix delete counts as an entry of every key under its prefix (it supersedes their older
// entries) and of its prefix as a prefix (a newer prefix delete of a prefix of it supersedes it);
// one that nothing supersedes is a tombstone.
//
// The steps, each safe to interrupt by a crash:
//   1. Remove segment files that no manifest will list again (left by an interrupted
//      compaction).
//   2. Read the segments below the limit once to find each key's and each deleted prefix's
//      newest entry there, and whether it is a tombstone older than the retention.
//   3. Read them again and write the surviving mutations, with their ids, write times and batch
//      boundaries, into new segment files (numbers reserved in the manifest first, so that no
//      appender takes them), each sealed and synced. Updates at or above the limit that share a
//      segment with older ones are copied as they are. A rewrite that would drop nothing and
//      merge no segments is skipped.
//   4. Under the appenders' lock, for the instant of a manifest write: replace the rewritten
//      segments (still the first ones the manifest lists) by the new ones, and raise the
//      horizon to the newest tombstone dropped, in the same write. Segments appended meanwhile
//      stay listed after them.
//   5. Remove the old segment files. Readers that have them open read them to their end and
//      then continue in the new segments (see lib/log/file_log.h).
// A crash before step 4 leaves the old manifest and unlisted new files; after it, the new
// manifest and unlisted old files. Either way step 1 of the next compaction removes the files.
#ifndef WHYCACHE_LIB_LOG_FILE_COMPACTION_H_
#define WHYCACHE_LIB_LOG_FILE_COMPACTION_H_

#include <cstdint>
#include <string>

#include "lib/io/posix_file.h"
#include "whycache/change_log.h"

namespace whycache::log {

// Compacts the history with ids below `limit` of the file log in `dir` as ChangeLog::Compact
// describes, writing segments of about `segment_bytes`. `append_lock` is the appenders' lock
// file. Returns what ChangeLog::Compact returns.
//
// REQUIRES: the caller holds the log's compaction lock (so no other compaction runs), and every
// update with an id below `limit` is in a sealed segment (one the manifest lists a successor
// for).
// Throws Error(kCorruption) for a damaged segment, leaving the log as it was.
CompactionResult CompactSealedSegments(const std::string& dir, const io::File& append_lock,
                                       uint64_t limit, uint64_t segment_bytes,
                                       const CompactionOptions& options);

}  // namespace whycache::log

#endif  // WHYCACHE_LIB_LOG_FILE_COMPACTION_H_
