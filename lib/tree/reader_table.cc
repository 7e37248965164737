#include "lib/tree/reader_table.h"

#include <algorithm>
#include <utility>
#include <vector>

#include "lib/tree/liveness_lock.h"

namespace whycache::tree {

namespace {

// The token of a slot being freed by a reaper; no process has it.
constexpr uint32_t kReapingToken = 0xffffffffu;
constexpr int kSharedCountShift = 48;
constexpr uint64_t kSharedVersionMask = (uint64_t{1} << kSharedCountShift) - 1;

uint32_t TokenOf(uint64_t owner) { return static_cast<uint32_t>(owner); }
uint64_t Generation(uint64_t owner) { return owner >> 32; }

int QueryFd(const Mapping& m) { return m.file.get_mapping_handle().handle; }

ReaderSlot* SharedSlots(const Mapping& m) { return m.slots + m.header->reader_slots; }

void RaiseHighWater(FileHeader* h, uint32_t end) {
  uint32_t high = h->slots_high.load(std::memory_order_relaxed);
  while (high < end && !h->slots_high.compare_exchange_weak(high, end, std::memory_order_relaxed)) {
  }
}

ReaderSlot* TryClaim(Mapping* m, uint32_t token) {
  FileHeader* h = m->header;
  for (uint32_t i = 0; i < h->reader_slots; ++i) {
    ReaderSlot& s = m->slots[i];
    uint64_t owner = s.owner.load(std::memory_order_relaxed);
    if (TokenOf(owner) != 0) continue;
    if (s.owner.compare_exchange_strong(owner, (Generation(owner) + 1) << 32 | token,
                                        std::memory_order_acq_rel)) {
      s.pinned.store(0, std::memory_order_release);
      RaiseHighWater(h, i + 1);
      return &s;
    }
  }
  return nullptr;
}

// Frees `s`, last seen owned by `owner`, whose process is dead, unless someone else reaps or
// re-claims it first. Parked first so that no new owner can claim it before its stale pin is
// cleared.
bool Reap(FileHeader* h, ReaderSlot& s, uint64_t owner) {
  const uint64_t gen = Generation(owner);
  if (!s.owner.compare_exchange_strong(owner, gen << 32 | kReapingToken,
                                       std::memory_order_acq_rel)) {
    return false;
  }
  s.pinned.store(0, std::memory_order_relaxed);
  s.owner.store(gen << 32, std::memory_order_release);
  h->slots_released.fetch_add(1, std::memory_order_relaxed);
  return true;
}

// Liveness of the tokens met in one pass over the table: one query per process, not per slot.
class TokenCache {
 public:
  explicit TokenCache(int fd) : fd_(fd) {}
  bool Alive(uint32_t token) {
    for (const auto& [t, alive] : seen_) {
      if (t == token) return alive;
    }
    const bool alive = TokenAlive(fd_, token);
    seen_.emplace_back(token, alive);
    return alive;
  }

 private:
  int fd_;
  std::vector<std::pair<uint32_t, bool>> seen_;
};

}  // namespace

ReaderSlot* ClaimSlot(Mapping* m) {
  const uint32_t token =
      m->liveness.token() != 0 ? m->liveness.token() : m->liveness.Acquire(QueryFd(*m), m->path);
  if (ReaderSlot* s = TryClaim(m, token)) return s;
  ReapDeadSlots(*m);
  return TryClaim(m, token);
}

void ReleaseSlot(FileHeader* header, ReaderSlot* slot) {
  slot->pinned.store(0, std::memory_order_relaxed);
  slot->owner.store(Generation(slot->owner.load(std::memory_order_relaxed)) << 32,
                    std::memory_order_release);
  header->slots_released.fetch_add(1, std::memory_order_relaxed);
}

ReaderSlot* JoinSharedSlot(const Mapping& m, uint64_t version, uint32_t hint) {
  ReaderSlot* s = &SharedSlots(m)[hint % kSharedReaderSlots];
  uint64_t w = s->pinned.load(std::memory_order_relaxed);
  for (;;) {
    // A version pinned there already is older than `version`, and protects it too.
    const uint64_t joined = (w >> kSharedCountShift) == 0
                                ? uint64_t{1} << kSharedCountShift | version
                                : w + (uint64_t{1} << kSharedCountShift);
    if (s->pinned.compare_exchange_weak(w, joined, std::memory_order_seq_cst)) return s;
  }
}

void LeaveSharedSlot(ReaderSlot* s) {
  uint64_t w = s->pinned.load(std::memory_order_relaxed);
  for (;;) {
    const uint64_t left =
        (w >> kSharedCountShift) == 1 ? 0 : w - (uint64_t{1} << kSharedCountShift);
    if (s->pinned.compare_exchange_weak(w, left, std::memory_order_release)) return;
  }
}

uint32_t ReapDeadSlots(const Mapping& m) {
  FileHeader* h = m.header;
  const uint32_t own = m.liveness.token();
  const uint32_t end = std::min(h->slots_high.load(std::memory_order_relaxed), h->reader_slots);
  TokenCache tokens(QueryFd(m));
  uint32_t reaped = 0;
  for (uint32_t i = 0; i < end; ++i) {
    const uint64_t owner = m.slots[i].owner.load(std::memory_order_acquire);
    const uint32_t token = TokenOf(owner);
    if (token == 0 || token == kReapingToken || token == own || tokens.Alive(token)) continue;
    reaped += Reap(h, m.slots[i], owner);
  }
  return reaped;
}

PinSummary ScanPins(const Mapping& m, uint64_t published, ScanBarrier barrier) {
  FileHeader* h = m.header;
  if (barrier == ScanBarrier::kFull) {
    BarrierBeforePinScan();
  } else {
    std::atomic_thread_fence(std::memory_order_seq_cst);
  }
  PinSummary s;
  s.oldest = published;
  const uint32_t own = m.liveness.token();
  const uint32_t end = std::min(h->slots_high.load(std::memory_order_relaxed), h->reader_slots);
  TokenCache tokens(QueryFd(m));
  for (uint32_t i = 0; i < end; ++i) {
    ReaderSlot& slot = m.slots[i];
    const uint64_t owner = slot.owner.load(std::memory_order_relaxed);
    const uint32_t token = TokenOf(owner);
    if (token == 0 || token == kReapingToken) continue;
    // Acquire pairs with the readers' release stores of their pins: whatever a reader read
    // before moving its pin happens before the writer reuses that space.
    const uint64_t v = slot.pinned.load(std::memory_order_acquire);
    // Only a pin that holds space back is worth a liveness query.
    if (v != 0 && v < published && token != own && !tokens.Alive(token) && Reap(h, slot, owner)) {
      continue;
    }
    ++s.in_use;
    if (v == 0) continue;
    ++s.pinning;
    s.oldest = std::min(s.oldest, v);
  }
  const ReaderSlot* shared = SharedSlots(m);
  for (uint32_t i = 0; i < kSharedReaderSlots; ++i) {
    const uint64_t w = shared[i].pinned.load(std::memory_order_acquire);
    const uint32_t joiners = static_cast<uint32_t>(w >> kSharedCountShift);
    if (joiners == 0) continue;
    s.in_use += joiners;
    s.pinning += joiners;
    s.oldest = std::min(s.oldest, w & kSharedVersionMask);
  }
  return s;
}

}  // namespace whycache::tree
