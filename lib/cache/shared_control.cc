#include "lib/cache/shared_control.h"

#include <algorithm>
#include <cstddef>
#include <cstring>
#include <new>
#include <span>
#include <thread>

namespace whycache::cache {

// State files of layout 1 made before schedule_boot and unpolled_since_wall_us existed hold zero
// in their place, the padding before next_poll_ns, which the other fields keep their offsets.
static_assert(offsetof(SharedControl, next_poll_ns) == 128);

void InitializeControl(SharedControl* control, std::string_view dataset_id,
                       int64_t poll_interval_ns) {
  // Value-initialization starts the atomics' lifetimes at zero, which bytes written over them
  // would not.
  new (control) SharedControl();
  control->magic = kControlMagic;
  control->layout_version = kControlLayoutVersion;
  const size_t n = std::min(dataset_id.size(), kDatasetIdBytes);
  std::memcpy(control->dataset_id, dataset_id.data(), n);
  control->dataset_id_length = static_cast<uint32_t>(n);
  control->poll_interval_ns.store(poll_interval_ns, std::memory_order_relaxed);
}

bool ControlIsValid(const SharedControl& control) {
  return control.magic == kControlMagic && control.layout_version == kControlLayoutVersion &&
         control.dataset_id_length <= kDatasetIdBytes;
}

std::string_view DatasetId(const SharedControl& control) {
  return {control.dataset_id, std::min<size_t>(control.dataset_id_length, kDatasetIdBytes)};
}

namespace {

// A text that one process rewrites while others may copy it: the sequence is odd while it is
// being written and tells readers to retry. The bytes go through relaxed atomic stores to keep
// the race defined.
void WriteGuarded(std::atomic<uint64_t>& sequence, std::atomic<int64_t>& wall, std::span<char> text,
                  std::string_view message, int64_t wall_us) {
  const uint64_t seq = sequence.load(std::memory_order_relaxed);
  sequence.store(seq | 1, std::memory_order_relaxed);
  std::atomic_thread_fence(std::memory_order_release);
  const size_t n = std::min(message.size(), text.size() - 1);
  for (size_t i = 0; i < text.size(); ++i) {
    std::atomic_ref<char>(text[i]).store(i < n ? message[i] : '\0', std::memory_order_relaxed);
  }
  wall.store(wall_us, std::memory_order_relaxed);
  sequence.store((seq | 1) + 1, std::memory_order_release);
}

ErrorRecord ReadGuarded(const std::atomic<uint64_t>& sequence, const std::atomic<int64_t>& wall,
                        std::span<const char> text) {
  for (int attempt = 0; attempt < 1000; ++attempt) {
    const uint64_t before = sequence.load(std::memory_order_acquire);
    if (before & 1) {
      std::this_thread::yield();
      continue;
    }
    ErrorRecord record;
    for (const char& byte : text) {
      const char c = std::atomic_ref<char>(const_cast<char&>(byte)).load(std::memory_order_relaxed);
      if (c == '\0') break;
      record.message.push_back(c);
    }
    record.wall_us = wall.load(std::memory_order_relaxed);
    std::atomic_thread_fence(std::memory_order_acquire);
    if (sequence.load(std::memory_order_relaxed) == before) return record;
  }
  return {"(the text was being rewritten)", 0};
}

}  // namespace

void CopyControl(const unsigned char* from, unsigned char* to) {
  const SharedControl& source = *reinterpret_cast<const SharedControl*>(from);
  if (!ControlIsValid(source)) {
    std::memcpy(to, from, tree::kUserAreaBytes);
    return;
  }
  SharedControl* copy = reinterpret_cast<SharedControl*>(to);
  InitializeControl(copy, DatasetId(source),
                    source.poll_interval_ns.load(std::memory_order_relaxed));
  const auto carry = [](auto& field, const auto& from_field) {
    field.store(from_field.load(std::memory_order_relaxed), std::memory_order_relaxed);
  };
  carry(copy->schedule_boot[0], source.schedule_boot[0]);
  carry(copy->schedule_boot[1], source.schedule_boot[1]);
  carry(copy->unpolled_since_wall_us, source.unpolled_since_wall_us);
  carry(copy->next_poll_ns, source.next_poll_ns);
  carry(copy->consecutive_failures, source.consecutive_failures);
  carry(copy->log_head_seen, source.log_head_seen);
  carry(copy->last_poll_wall_us, source.last_poll_wall_us);
  carry(copy->newest_applied_write_us, source.newest_applied_write_us);
  carry(copy->polls, source.polls);
  carry(copy->poll_errors, source.poll_errors);
  carry(copy->batches_applied, source.batches_applied);
  carry(copy->mutations_applied, source.mutations_applied);
  carry(copy->apply_ns, source.apply_ns);
  carry(copy->resyncs, source.resyncs);
  carry(copy->replay_horizon, source.replay_horizon);
  // A text read whole has its time; one that stayed half-written (its writer is slow or was
  // killed while writing) is not carried, so that the copy does not stay half-written for good.
  if (const ErrorRecord error = LastError(source); error.wall_us != 0) {
    RecordError(copy, error.message, error.wall_us);
  }
  if (const ErrorRecord note = ResyncSnapshotUnused(source); note.wall_us != 0) {
    RecordResyncSnapshotUnused(copy, note.message, note.wall_us);
  }
}

void RecordError(SharedControl* control, std::string_view message, int64_t wall_us) {
  WriteGuarded(control->error_sequence, control->last_error_wall_us, control->last_error, message,
               wall_us);
}

ErrorRecord LastError(const SharedControl& control) {
  return ReadGuarded(control.error_sequence, control.last_error_wall_us, control.last_error);
}

void RecordResyncSnapshotUnused(SharedControl* control, std::string_view why, int64_t wall_us) {
  WriteGuarded(control->resync_note_sequence, control->resync_note_wall_us,
               control->resync_snapshot_unused, why, wall_us);
}

ErrorRecord ResyncSnapshotUnused(const SharedControl& control) {
  return ReadGuarded(control.resync_note_sequence, control.resync_note_wall_us,
                     control.resync_snapshot_unused);
}

}  // namespace whycache::cache
