#include "lib/cache/shared_control.h"

#include <algorithm>
#include <cstddef>
#include <cstring>
#include <new>
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

void RecordError(SharedControl* control, std::string_view message, int64_t wall_us) {
  const uint64_t seq = control->error_sequence.load(std::memory_order_relaxed);
  control->error_sequence.store(seq | 1, std::memory_order_relaxed);
  std::atomic_thread_fence(std::memory_order_release);
  const size_t n = std::min(message.size(), kLastErrorBytes - 1);
  // Readers may copy the buffer while it changes; the sequence tells them to retry, so the
  // bytes go through relaxed atomic stores to keep the race defined.
  for (size_t i = 0; i < kLastErrorBytes; ++i) {
    std::atomic_ref<char>(control->last_error[i])
        .store(i < n ? message[i] : '\0', std::memory_order_relaxed);
  }
  control->last_error_wall_us.store(wall_us, std::memory_order_relaxed);
  control->error_sequence.store((seq | 1) + 1, std::memory_order_release);
}

ErrorRecord LastError(const SharedControl& control) {
  auto& mutable_control = const_cast<SharedControl&>(control);
  for (int attempt = 0; attempt < 1000; ++attempt) {
    const uint64_t before = control.error_sequence.load(std::memory_order_acquire);
    if (before & 1) {
      std::this_thread::yield();
      continue;
    }
    ErrorRecord record;
    for (size_t i = 0; i < kLastErrorBytes; ++i) {
      char c = std::atomic_ref<char>(mutable_control.last_error[i]).load(std::memory_order_relaxed);
      if (c == '\0') break;
      record.message.push_back(c);
    }
    record.wall_us = control.last_error_wall_us.load(std::memory_order_relaxed);
    std::atomic_thread_fence(std::memory_order_acquire);
    if (control.error_sequence.load(std::memory_order_relaxed) == before) return record;
  }
  return {"(the last error was being rewritten)", 0};
}

}  // namespace whycache::cache
