#include "lib/tree/reader_table.h"

#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <string>

#include "whycache/error.h"

namespace whycache::tree {

namespace {

// Owner of a slot being reaped; no process has this id.
constexpr uint32_t kReapingPid = 0xffffffffu;

ReaderSlot* TryClaim(ReaderSlot* slots, uint32_t count, uint32_t pid) {
  for (uint32_t i = 0; i < count; ++i) {
    uint32_t expected = 0;
    if (slots[i].pid.load(std::memory_order_relaxed) == 0 &&
        slots[i].pid.compare_exchange_strong(expected, pid, std::memory_order_acq_rel)) {
      slots[i].pinned.store(0, std::memory_order_release);
      return &slots[i];
    }
  }
  return nullptr;
}

}  // namespace

ReaderSlot* ClaimSlot(ReaderSlot* slots, uint32_t count) {
  const uint32_t pid = static_cast<uint32_t>(getpid());
  if (ReaderSlot* s = TryClaim(slots, count, pid)) return s;
  ReapDeadSlots(slots, count);
  if (ReaderSlot* s = TryClaim(slots, count, pid)) return s;
  throw Error(Error::Code::kBusy, "all " + std::to_string(count) +
                                      " reader slots of the state file are in use by live "
                                      "threads; end read transactions or use fewer threads");
}

void ReleaseSlot(ReaderSlot* slot) {
  slot->pinned.store(0, std::memory_order_relaxed);
  slot->pid.store(0, std::memory_order_release);
}

uint32_t ReapDeadSlots(ReaderSlot* slots, uint32_t count) {
  uint32_t reaped = 0;
  for (uint32_t i = 0; i < count; ++i) {
    uint32_t pid = slots[i].pid.load(std::memory_order_acquire);
    if (pid == 0 || pid == kReapingPid || kill(static_cast<pid_t>(pid), 0) == 0 || errno != ESRCH) {
      continue;
    }
    // Park the slot first so that no new owner can claim it before its stale pin is cleared.
    if (!slots[i].pid.compare_exchange_strong(pid, kReapingPid, std::memory_order_acq_rel)) {
      continue;
    }
    slots[i].pinned.store(0, std::memory_order_relaxed);
    slots[i].pid.store(0, std::memory_order_release);
    ++reaped;
  }
  return reaped;
}

PinSummary ScanPins(ReaderSlot* slots, uint32_t count, uint64_t published) {
  ReapDeadSlots(slots, count);
  std::atomic_thread_fence(std::memory_order_seq_cst);
  PinSummary s;
  s.oldest = published;
  for (uint32_t i = 0; i < count; ++i) {
    const uint32_t pid = slots[i].pid.load(std::memory_order_relaxed);
    if (pid == 0 || pid == kReapingPid) continue;
    ++s.in_use;
    // Acquire pairs with the readers' release stores of their pins: whatever a reader read
    // before moving its pin happens before the writer reuses that space.
    const uint64_t v = slots[i].pinned.load(std::memory_order_acquire);
    if (v == 0) continue;
    ++s.pinning;
    if (v < s.oldest) s.oldest = v;
  }
  return s;
}

}  // namespace whycache::tree
