// Versions of the library and of every on-disk format it reads and writes. A format version
// changes whenever the bytes change incompatibly; readers refuse other versions with a clear
// error (state files are then rebuilt from the log, snapshots and log segments are rejected).
#ifndef WHYCACHE_VERSION_H_
#define WHYCACHE_VERSION_H_

#include <cstdint>

namespace whycache {

inline constexpr const char* kVersion = "0.1.0";

// The memory-mapped state file (the shared prefix tree).
inline constexpr uint32_t kStateFormatVersion = 4;
// Records of the change log, in file segments and in MySQL rows.
inline constexpr uint32_t kLogRecordFormatVersion = 1;
// Snapshot files.
inline constexpr uint32_t kSnapshotFormatVersion = 1;
// The MySQL schema applied by `whycache init` (schema/NNN_*.sql).
inline constexpr uint32_t kMysqlSchemaVersion = 3;

}  // namespace whycache

#endif  // WHYCACHE_VERSION_H_
