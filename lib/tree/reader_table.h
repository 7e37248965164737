// The reader table (LMDB's idea): each reader thread owns a slot in the file header and stores
// the version its read transaction uses there. Writers read the table to learn which space may
// be reused, and free the slots of processes that died without releasing them.
#ifndef WHYCACHE_LIB_TREE_READER_TABLE_H_
#define WHYCACHE_LIB_TREE_READER_TABLE_H_

#include <cstdint>

#include "lib/tree/file_layout.h"

namespace whycache::tree {

struct PinSummary {
  uint64_t oldest = 0;   // Smallest pinned version, or the `published` argument if smaller.
  uint32_t in_use = 0;   // Slots owned by a live process.
  uint32_t pinning = 0;  // Slots pinning a version.
};

// Claims a free slot for the calling process (one CAS). When every slot is taken, reaps the
// slots of dead processes and tries again; throws Error(kBusy) when the table is still full.
ReaderSlot* ClaimSlot(ReaderSlot* slots, uint32_t count);

// Returns the slot to the table. REQUIRES: the caller owns it and pins nothing.
void ReleaseSlot(ReaderSlot* slot);

// Frees the slots whose owner process no longer exists (kill(pid, 0) fails with ESRCH).
// Returns how many were freed. Safe to run concurrently with readers claiming slots.
uint32_t ReapDeadSlots(ReaderSlot* slots, uint32_t count);

// Reaps dead slots, then summarizes the pins. Issues the fence that pairs with the readers'
// fence between pinning and re-reading the published version, so a reader either is seen here
// or sees a version at least `published`.
PinSummary ScanPins(ReaderSlot* slots, uint32_t count, uint64_t published);

}  // namespace whycache::tree

#endif  // WHYCACHE_LIB_TREE_READER_TABLE_H_
