// Snapshot files: a dataset's whole state at one applied id, to bootstrap new machines without
// replaying the log from its start.
//
// Layout (little-endian):
//   [0, 256)  header: "WHYSNAP\0", fixed32 format version (kSnapshotFormatVersion), u8 dataset id
//             length, 64 bytes of dataset id (zero padded), fixed64 applied id, fixed64 horizon,
//             fixed64 key count, fixed64 raw bytes (keys + values), fixed64 body bytes, fixed32
//             CRC-32C of the body, zero padding, and at [252, 256) the CRC-32C of [0, 252).
//   [256, 256 + body bytes)  body: one zstd stream of entries in strictly increasing key order,
//             each a varint key length, the key, a varint value length, the value.
// Files are written to a temporary name, synced and renamed: a snapshot at its path is complete.
// Every format version keeps the magic, the version and the header checksum (of the bytes before
// it) where they are, so that a file of another version is told from a damaged one.
#ifndef WHYCACHE_LIB_SNAPSHOT_SNAPSHOT_FILE_H_
#define WHYCACHE_LIB_SNAPSHOT_SNAPSHOT_FILE_H_

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

namespace whycache::snapshot {

inline constexpr size_t kHeaderBytes = 256;
inline constexpr size_t kMaxDatasetIdBytes = 64;

struct SnapshotInfo {
  uint32_t format_version = 0;
  std::string dataset_id;
  uint64_t applied_id = 0;
  uint64_t horizon = 0;
  uint64_t key_count = 0;
  uint64_t raw_bytes = 0;   // Sum of key and value sizes.
  uint64_t file_bytes = 0;  // Header and compressed body.
};

// Called now and then with the bytes done and the bytes to do in all, for progress displays.
using ProgressFn = std::function<void(uint64_t done, uint64_t total)>;

// Writes a snapshot at `path`, replacing any file there only once the new one is complete. It is
// written first to PATH.tmp-PID, which a writer that dies leaves behind; the next WriteSnapshot
// of `path` removes such files (those no live writer holds).
// `for_each_entry` must call its argument for every entry in increasing key order; `key_count`
// and `raw_bytes` describe those entries (they size the progress display and are checked).
// Throws Error(kIOError) naming the path if it cannot be written, Error(kInvalidArgument) if
// the entries are not in order or do not match the counts. Thread-compatible; compresses on a
// helper thread of its own while `for_each_entry` runs on the caller's.
SnapshotInfo WriteSnapshot(
    const std::string& path, std::string_view dataset_id, uint64_t applied_id, uint64_t horizon,
    uint64_t key_count,
    const std::function<void(const std::function<void(std::string_view, std::string_view)>&)>&
        for_each_entry,
    const ProgressFn& progress = nullptr);

// Reads the header and checks the header checksum, without reading the body.
// Throws Error(kCorruption) naming the path for a file that is not a valid snapshot,
// Error(kIncompatible) for a valid one of another format version, Error(kIOError) if it cannot
// be read.
SnapshotInfo ReadSnapshotHeader(const std::string& path);

// Reads the whole snapshot and calls `visit` for every entry in key order. The header is checked
// as by ReadSnapshotHeader. The body is untrusted:
// its checksum, framing, key order, sizes and counts are all verified, and any failure throws
// Error(kCorruption) naming the path and the offset in the body stream. Entries visited before
// a failure must be discarded by the caller. `visit` may be null to verify only.
// Thread-compatible; decompresses on a thread of its own, joined before this returns or throws,
// while `visit` and `progress` run on the caller's thread.
SnapshotInfo ReadSnapshot(const std::string& path,
                          const std::function<void(std::string_view, std::string_view)>& visit,
                          const ProgressFn& progress = nullptr);

}  // namespace whycache::snapshot

#endif  // WHYCACHE_LIB_SNAPSHOT_SNAPSHOT_FILE_H_
