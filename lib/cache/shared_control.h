// The machine-wide control block of a dataset: the poll schedule, what the last poll saw and
// the apply counters. It lives in the user area of the state file's header, so every process
// that maps the file shares it, and it is carried over when the file is rebuilt and swapped.
#ifndef WHYCACHE_LIB_CACHE_SHARED_CONTROL_H_
#define WHYCACHE_LIB_CACHE_SHARED_CONTROL_H_

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "lib/tree/tree.h"

namespace whycache::cache {

inline constexpr uint64_t kControlMagic = 0x4c52544357594857;  // "WHYWCTRL" little-endian.
inline constexpr uint32_t kControlLayoutVersion = 1;
inline constexpr size_t kDatasetIdBytes = 64;
inline constexpr size_t kLastErrorBytes = 384;
inline constexpr size_t kResyncNoteBytes = 240;  // What is left of the user area.

// Every field is an atomic because processes read and write them concurrently without a lock;
// relaxed order is enough for figures. The error text is guarded by a sequence counter.
struct SharedControl {
  uint64_t magic;
  uint32_t layout_version;
  uint32_t dataset_id_length;
  char dataset_id[kDatasetIdBytes];  // The log's identity, written once when the file is made.
  // The boot (tree::CurrentBootId) whose CLOCK_MONOTONIC next_poll_ns counts in: the clock
  // restarts at every boot, so a schedule of another boot means nothing. All zero in a file
  // written before this field existed, which reads as another boot.
  std::atomic<uint64_t> schedule_boot[2];
  // Nonzero while the machine has not polled the log successfully since the file was made or
  // the boot began: the wall time from which its lag counts until then.
  std::atomic<int64_t> unpolled_since_wall_us;

  alignas(64) std::atomic<int64_t> next_poll_ns;  // CLOCK_MONOTONIC time of the next due poll.
  std::atomic<int64_t> poll_interval_ns;
  std::atomic<uint32_t> consecutive_failures;  // Drives the retry backoff.

  alignas(64) std::atomic<uint64_t> log_head_seen;  // Log head at the last successful poll.
  std::atomic<int64_t> last_poll_wall_us;           // When it was.
  std::atomic<int64_t> newest_applied_write_us;     // Write time of the applied update.
  std::atomic<uint64_t> polls;
  std::atomic<uint64_t> poll_errors;
  std::atomic<uint64_t> batches_applied;
  std::atomic<uint64_t> mutations_applied;
  std::atomic<uint64_t> apply_ns;
  std::atomic<uint64_t> resyncs;
  // The log's horizon when this state began replaying the log from its start. Such a state is
  // built from the compacted history, so a horizon above its applied id is harmless as long as
  // it has not moved since; a state built from the full history has 0 here.
  std::atomic<uint64_t> replay_horizon;

  alignas(64) std::atomic<uint64_t> error_sequence;  // Odd while the text is being written.
  std::atomic<int64_t> last_error_wall_us;
  char last_error[kLastErrorBytes];

  // Why the last resync did not start from the resync snapshot; guarded like last_error. Zero in
  // files made before it existed, which reads as empty.
  alignas(64) std::atomic<uint64_t> resync_note_sequence;
  std::atomic<int64_t> resync_note_wall_us;
  char resync_snapshot_unused[kResyncNoteBytes];
};

// Makes `control` (the user area of a file that no other process uses yet, or one whose control
// block is not valid) a new control block of the given dataset: every field zero but these.
void InitializeControl(SharedControl* control, std::string_view dataset_id,
                       int64_t poll_interval_ns);

// The tree::UserAreaCopier of the state file: copies the control block at `from`, which other
// threads and processes may be updating, into the user area `to` of a file that nobody else uses
// yet, reading each field as the atomic it is and each text under its sequence counter. Updates
// made to `from` after a field was read are lost, as the tree says of the whole user area, and so
// is a text that cannot be read whole (its writer was killed while writing it). A block that is
// not valid (ControlIsValid) is copied as bytes: no process updates one.
void CopyControl(const unsigned char* from, unsigned char* to);

// The options every tree of a state file is opened with: rebuilds copy the control block with
// CopyControl.
inline tree::TreeOptions StateTreeOptions() {
  tree::TreeOptions options;
  options.copy_user_area = CopyControl;
  return options;
}

// True if `control` was initialized by InitializeControl of this layout version.
bool ControlIsValid(const SharedControl& control);

std::string_view DatasetId(const SharedControl& control);

// The control block in `tree`'s user area. Valid while this thread stays on the tree's current
// file: a commit may move the state to a new file (growth, defragmentation, a large batch merged
// into a fresh tree), so look it up again after one rather than keeping the pointer.
inline SharedControl* ControlOf(tree::Tree& tree) {
  return reinterpret_cast<SharedControl*>(tree.UserArea());
}

// Records `message` (truncated to fit) as the last error. Called by the one applying process.
void RecordError(SharedControl* control, std::string_view message, int64_t wall_us);

// The last recorded error and its time (0 when there was none).
struct ErrorRecord {
  std::string message;
  int64_t wall_us = 0;
};
ErrorRecord LastError(const SharedControl& control);

// Records why the last resync replayed the log instead of starting from the resync snapshot
// ("" when it started from it). Called by the one process that resynced.
void RecordResyncSnapshotUnused(SharedControl* control, std::string_view why, int64_t wall_us);
ErrorRecord ResyncSnapshotUnused(const SharedControl& control);

}  // namespace whycache::cache

#endif  // WHYCACHE_LIB_CACHE_SHARED_CONTROL_H_
