// Versions of the library and of every on-disk format it reads and writes. A format version
// changes whenever the bytes change incompatibly; readers refuse other versions with a clear
// error (state files are then rebuilt from the log, snapshots and log segments are rejected).
#ifndef WHYCACHE_VERSION_H_
#define WHYCACHE_VERSION_H_

#include <cstdint>

namespace whycache {

inline constexpr const char* kVersion = "0.1.0";

// The memory-mapped state file (the shared prefix tree). Version 5: readers may pin without a
// fence, relying on every writer of the file to issue membarrier (lib/tree/pin_barrier.h), which
// writers of version 4 files do not.
inline constexpr uint32_t kStateFormatVersion = 5;
// Records of the change log, in file segments and in MySQL rows. A record that holds a prefix
// delete (Mutation::Op::kErasePrefix) is written as version 2, any other as version 1, and both
// are read: so releases that know only version 1 keep reading a log until its first prefix
// delete, where they stop applying with an error naming the update (in MySQL rows: op 3).
inline constexpr uint32_t kLogRecordFormatVersion = 2;
inline constexpr uint32_t kLogRecordFormatVersionWithoutPrefixErase = 1;
// The header of a file log segment (its records carry their own version).
inline constexpr uint32_t kLogSegmentFormatVersion = 1;
// Snapshot files.
inline constexpr uint32_t kSnapshotFormatVersion = 1;
// The MySQL schema applied by `whycache init` (schema/NNN_*.sql).
inline constexpr uint32_t kMysqlSchemaVersion = 4;

}  // namespace whycache

#endif  // WHYCACHE_VERSION_H_
