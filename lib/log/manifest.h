// The file log's manifest: which segment files make up the log, in order, and its horizon.
//
// It is replaced only as a whole (write a temporary file, fsync, rename), so readers that do not
// take the log's lock always see one complete version. A compaction rewrites old segments into
// new ones and publishes them by swapping the manifest; readers that reach the end of a segment
// consult the manifest for its successor, and find where a segment that is no longer listed
// continued by the first ids.
//
// Segment numbers are unique and name files, but only appenders hand them out in log order: the
// segments a compaction writes get numbers above those of the segments that follow them.
//
// File "MANIFEST", little-endian:
//   "WHYCMAN\0", fixed32 format version (kManifestFormatVersion), fixed64 generation (+1 per
//   rewrite), fixed64 horizon, fixed64 compacted-below id (version 2 on), fixed64 next segment
//   number, varint segment count, then per segment: fixed64 number, fixed64 first update id it
//   may hold; fixed32 CRC-32C of all of it.
#ifndef WHYCACHE_LIB_LOG_MANIFEST_H_
#define WHYCACHE_LIB_LOG_MANIFEST_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace whycache::log {

inline constexpr uint32_t kManifestFormatVersion = 2;
// Version 1 had no compacted-below id; it is still read (see DecodeManifest).
inline constexpr uint32_t kOldestManifestFormatVersion = 1;
inline constexpr const char* kManifestFileName = "MANIFEST";

struct SegmentInfo {
  uint64_t number = 0;
  // Every update in this segment has an id >= first_id, and every update in earlier segments an
  // id < first_id.
  uint64_t first_id = 0;
  friend bool operator==(const SegmentInfo&, const SegmentInfo&) = default;
};

struct Manifest {
  uint64_t generation = 0;
  uint64_t horizon = 0;
  // Compaction has rewritten entries with smaller ids (ChangeLog::CompactedBelow); 0 if none.
  uint64_t compacted_below = 0;
  uint64_t next_segment_number = 0;
  std::vector<SegmentInfo> segments;  // In log order; the last one is the active one.
  friend bool operator==(const Manifest&, const Manifest&) = default;
};

std::string EncodeManifest(const Manifest& manifest);
// `bytes` are untrusted; throws Error(kCorruption) naming `path` and the offset unless they are a
// valid manifest with at least one segment, unique numbers below the next segment number and
// non-decreasing first ids. A version 1 manifest, which did not record how far compaction went,
// reads as compacted below its active segment, the most that compaction can have rewritten.
Manifest DecodeManifest(std::string_view bytes, const std::string& path);

// Reads DIR/MANIFEST. Throws Error(kUnavailable) if it does not exist, Error(kCorruption) if it is
// invalid.
Manifest ReadManifest(const std::string& dir);
// Replaces DIR/MANIFEST atomically and durably. REQUIRES: the log's lock is held.
void WriteManifest(const std::string& dir, const Manifest& manifest);

}  // namespace whycache::log

#endif  // WHYCACHE_LIB_LOG_MANIFEST_H_
