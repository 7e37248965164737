// The reader table (LMDB's idea): each reader thread owns a slot in the file header and stores
// the version its read transaction uses there. Writers read the table to learn which space may
// be reused, and free the slots of processes that died without releasing them (liveness_lock.h
// tells which).
//
// A thread keeps its slot while it lives, idle or not: a slot another thread could take from an
// idle owner would receive that owner's next pin store, which is a plain store the owner cannot
// make conditional without an atomic read-modify-write on every read. Capacity comes instead
// from a table large enough for thousands of threads (TreeOptions::reader_slots), from slots
// freed at thread and process exit, and, when every slot is taken, from shared slots that any
// number of threads join and leave by CAS, so a read transaction never fails for want of one.
// (A process killed inside a shared slot leaves its join counted: that pin holds space back
// until the file is next rebuilt, which growth does once the space runs out.)
#ifndef WHYCACHE_LIB_TREE_READER_TABLE_H_
#define WHYCACHE_LIB_TREE_READER_TABLE_H_

#include <atomic>
#include <cstdint>

#include "lib/tree/file_layout.h"
#include "lib/tree/mapped_file.h"
#include "lib/tree/pin_barrier.h"

namespace whycache::tree {

struct PinSummary {
  uint64_t oldest = 0;   // Smallest pinned version, or the `published` argument if smaller.
  uint32_t in_use = 0;   // Owned slots, plus readers in shared slots.
  uint32_t pinning = 0;  // Of those, the ones pinning a version.
};

// Claims a free slot of `m` for this process (a CAS), taking the process's liveness token in `m`
// first if it has none. When every slot is taken, frees those of dead processes and tries again;
// returns nullptr when the table is still full. Throws Error(kIOError) when no token can be
// taken. REQUIRES: the caller serializes calls for one Mapping (the Tree's mutex).
ReaderSlot* ClaimSlot(Mapping* m);

// Returns the slot to the table. REQUIRES: the caller owns it and pins nothing.
void ReleaseSlot(FileHeader* header, ReaderSlot* slot);

// The shared slot `hint` picks, after adding a reader that pins `version` (or an older version
// already pinned there) to it: a CAS, which orders the pin before later loads as the fence of
// the owned-slot protocol does. Never fails.
ReaderSlot* JoinSharedSlot(const Mapping& m, uint64_t version, uint32_t hint);
// Removes a reader JoinSharedSlot added.
void LeaveSharedSlot(ReaderSlot* slot);

// Frees the slots whose owner process died. Returns how many were freed. Safe to run
// concurrently with readers claiming and pinning.
uint32_t ReapDeadSlots(const Mapping& m);

// How a reader orders its pin before re-reading the published version.
enum class PinOrder {
  // The barrier of this process (pin_barrier.h): a fence, or nothing but the compiler's where
  // the process is registered for the writers' membarrier.
  kProcess,
  kFenced,
  // Nothing but the compiler's. Safe only in a process registered for the writers' membarrier;
  // //tests/tree:pin_protocol_stress_test shows that it fails in one that is not.
  kUnfenced,
};

// The reader's half of the pin protocol (Dekker's, with ScanPins as the writer's half): stores
// `version` in `slot`, then orders that store before the reader's re-read of the published
// version. Two ways give the order the protocol needs: a fence here, or membarrier in the writer,
// which runs a full barrier on every CPU running a registered process, at a point of each reader
// thread's program order that falls either before its pin store (so its re-read sees what the
// writer published) or after it (so the writer's scan sees the pin). With either, of the reader
// and the writer at least one sees the other's store: the writer's scan sees this pin, or the
// re-read sees what the writer published before scanning (and the reader pins again). Release
// orders the reader's earlier reads before a writer's reuse of that space.
template <PinOrder kOrder = PinOrder::kProcess>
inline void PublishPin(ReaderSlot* slot, uint64_t version) {
  slot->pinned.store(version, std::memory_order_release);
  if constexpr (kOrder == PinOrder::kFenced) {
    std::atomic_thread_fence(std::memory_order_seq_cst);
  } else if constexpr (kOrder == PinOrder::kUnfenced) {
    std::atomic_signal_fence(std::memory_order_seq_cst);
  } else if (ProcessReadBarrier() == ReadBarrier::kMembarrier) [[likely]] {
    std::atomic_signal_fence(std::memory_order_seq_cst);
  } else {
    std::atomic_thread_fence(std::memory_order_seq_cst);
  }
}

// The barrier ScanPins issues before it reads the pins.
enum class ScanBarrier {
  kFull,  // BarrierBeforePinScan: pairs with every reader.
  // A fence alone: pairs only with readers that fence. Only for
  // //tests/tree:pin_protocol_stress_test, which tests that pairing alone, and shows that
  // readers relying on membarrier then fail.
  kFenceOnly,
};

// Summarizes the pins, freeing the slots of dead processes that pin a version older than
// `published`. First issues the barrier that pairs with the readers', so a reader either is seen
// here or sees a version at least `published`. Throws Error(kIOError) when that barrier fails.
PinSummary ScanPins(const Mapping& m, uint64_t published, ScanBarrier barrier = ScanBarrier::kFull);

}  // namespace whycache::tree

#endif  // WHYCACHE_LIB_TREE_READER_TABLE_H_
