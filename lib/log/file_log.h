// The file change log: a directory of append-only segment files and a manifest, shared by any
// number of appending and reading processes on one machine.
//
// Directory layout:
//   MANIFEST                 the segments in log order and the horizon (lib/log/manifest.h)
//   DATASET                  the dataset's identity (lib/log/dataset_id.h), written at creation
//   LOCK                     appenders hold flock(LOCK_EX) on it while they append
//   COMPACTION_LOCK          a compactor holds flock(LOCK_EX) on it while it runs
//   NNNNNNNNNNNNNNNNNNNN.seg segments (lib/log/segment_format.h); the last one is active
//
// Appending: the appender takes the lock, catches up with what others appended (reading frame
// headers from where it last stopped), truncates a torn tail left by a killed appender, assigns
// the next id, writes the frame with one positioned write and, by default, fdatasyncs before
// releasing the lock. An append with a token (AppendToken) first looks it up in TOKENS
// (lib/log/append_tokens.h) and returns the id found there, or records it before writing its
// frame. Ids are therefore strictly increasing in file order, and a frame that
// is complete on disk is committed. A full segment is sealed (a seal frame) and a new one is
// created and published in the manifest before the append.
//
// Reading takes no lock: a reader keeps its segment open with the offset and id it has read up
// to, so a poll that finds nothing new costs one fstat. A frame that is incomplete at the end of
// the active segment is not yet committed (or torn) and is not returned. Anything else that fails
// validation throws Error(kCorruption) naming the segment file and offset.
//
// Compaction (lib/log/file_compaction.h) replaces sealed segments by new ones and removes the old
// files. A reader that has an old segment open reads it to its seal (an unlinked file stays
// readable) and then continues in the current manifest at the segment where the id after its
// last one falls, skipping what it already passed. One that finds a listed segment gone opens it
// again from the newer manifest.
#ifndef WHYCACHE_LIB_LOG_FILE_LOG_H_
#define WHYCACHE_LIB_LOG_FILE_LOG_H_

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "lib/io/posix_file.h"
#include "lib/log/append_tokens.h"
#include "lib/log/manifest.h"
#include "whycache/change_log.h"

namespace whycache::log {

// The file log is written with the shared POSIX wrappers.
using io::CreateDirectory;
using io::File;
using io::FileStamp;
using io::LockGuard;
using io::PathExists;
using io::ReadWholeFile;
using io::RemoveFile;
using io::StampOf;
using io::SyncDirectory;
using io::WriteFileAtomically;

struct FileLogOptions {
  // As in LogOptions.
  bool create_if_missing = false;
  FsyncPolicy fsync = FsyncPolicy::kEveryAppend;
  // An append that finds the active segment at least this large first seals it and starts a new
  // one.
  uint64_t segment_bytes = uint64_t{64} << 20;
  // If set, Append calls it with the lock held, after assigning the id (and recording its token)
  // and before writing the frame: tests use it to inject delays and crashes inside the append
  // transaction.
  std::function<void()> before_commit;
  // If set, Append calls it with the lock held, after the frame is written and before it is
  // synced: tests throw from it to stand for a failed fdatasync, or stop the process there.
  std::function<void()> after_write;
  // An append token (AppendToken) is remembered at least this long after its append.
  std::chrono::seconds token_retention{std::chrono::hours(1)};

  // The file-log options equivalent to `options`, with the defaults above for the rest.
  static FileLogOptions From(const LogOptions& options);
};

class FileLog final : public ChangeLog {
 public:
  // Opens the log in directory `dir` (relative paths are made absolute). With
  // create_if_missing, creates the directory (not its parents) and an empty log if needed.
  // Throws Error(kUnavailable) if the log does not exist or was never initialized,
  // Error(kCorruption) if its manifest is invalid, Error(kIOError) on other failures.
  static std::unique_ptr<FileLog> Open(const std::string& dir, FileLogOptions options);

  // ChangeLog. Thread-safety: one thread at a time per object; any number of objects in any
  // number of processes on this machine.
  uint64_t Append(std::span<const Mutation> batch) override;
  uint64_t Append(std::span<const Mutation> batch, const AppendToken& token) override;
  std::vector<Update> ReadAfter(uint64_t after_id, size_t max_updates) override;
  uint64_t HeadId() override;
  uint64_t Horizon() override;
  uint64_t CompactedBelow() override;
  std::string DatasetId() override;
  std::string Describe() const override;
  CompactionResult Compact(const CompactionOptions& options) override;

  const std::string& dir() const { return dir_; }

 private:
  // A position in one segment: the next frame starts at `offset`, and `last_id` is the id of the
  // last batch before it (the segment's first id - 1 at its start).
  struct Cursor {
    uint64_t segment = 0;
    File file;
    uint64_t offset = 0;
    uint64_t last_id = 0;
    // The manifest listed a later segment when this one was opened: it must end with a seal, so
    // running out of bytes before the seal is corruption rather than "nothing new yet".
    bool has_successor = false;
  };
  enum class ScanEnd { kEndOfData, kSealed };
  // How MoveToSuccessor left a cursor.
  enum class Move {
    kNone,   // Its segment is the last one: nothing follows yet.
    kMoved,  // To the next segment, or to where its updates continue after a compaction.
    // Its segment was compacted away by a compaction that raised the horizon above its position:
    // what follows may lack deletes that a machine at that position needs.
    kMovedBelowHorizon,
  };

  FileLog(std::string dir, FileLogOptions options);

  static void Initialize(const std::string& dir);
  static void CreateSegment(const std::string& dir, uint64_t number);
  // Opens segment `index` of `manifest` into `cursor`, positioned at its first frame.
  void OpenSegment(const Manifest& manifest, size_t index, Cursor& cursor) const;
  // Moves `cursor` from a sealed segment to its successor, or to where its updates continue if a
  // compaction removed its segment.
  Move MoveToSuccessor(Cursor& cursor) const;
  // Moves `cursor`, whose segment `manifest` no longer lists, to the segment where the update
  // after cursor.last_id would be, past the updates up to cursor.last_id.
  void Relocate(const Manifest& manifest, Cursor& cursor) const;

  // Advances `cursor` over complete frames by reading their headers only. With `truncate_torn`
  // (REQUIRES: the lock is held) an incomplete tail is cut off; otherwise it stops before it.
  ScanEnd ScanHeaders(Cursor& cursor, bool truncate_torn) const;
  // Brings tail_ to the end of the log. REQUIRES: the lock is held.
  void SyncTailLocked();
  // Seals tail_'s segment and starts the next. REQUIRES: the lock is held.
  void RollOverLocked(bool already_sealed);
  // The appenders' lock file, opened on first use.
  const File& AppendLock();
  // A write-only descriptor of tail_'s segment (cursors hold segments read-only: readers may
  // lack write permission).
  const File& AppendFile();

  // Appends `batch`; with a token, returns the id of an earlier append with it instead.
  uint64_t AppendWithToken(std::span<const Mutation> batch, const AppendToken* token);

  void PositionReader(uint64_t after_id);
  // Returns a view of `n` bytes of the reader's segment at `offset`, shorter if the file (of
  // `size` bytes) ends first. Reads ahead into read_buffer_.
  std::string_view ReadWindow(uint64_t offset, size_t n, uint64_t size);

  const std::string dir_;
  std::string dataset_id_;  // Read from the DATASET file on first use.
  const FileLogOptions options_;
  File lock_file_;                 // Opened on first append.
  Cursor tail_;                    // Where the appender (and HeadId) got to.
  FileStamp tail_manifest_stamp_;  // The manifest version tail_.has_successor comes from.
  File append_file_;               // See AppendFile().
  uint64_t append_segment_ = 0;
  AppendTokens tokens_;  // REQUIRES: the appenders' lock held.
  Cursor reader_;        // Where ReadAfter got to.
  std::string read_buffer_;
  uint64_t read_buffer_offset_ = 0;
};

}  // namespace whycache::log

#endif  // WHYCACHE_LIB_LOG_FILE_LOG_H_
