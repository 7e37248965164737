// Space management for one write transaction. The allocator's state (bump pointer and free list)
// is part of the published meta record: a transaction loads it, works on a private copy and
// persists a new free list just before publishing. A writer killed mid-transaction therefore
// leaves the published state untouched, and the next writer starts again from it: the blocks
// the dead writer used were free or above the bump pointer, so nothing leaks or is corrupted.
#ifndef WHYCACHE_LIB_TREE_ALLOCATOR_H_
#define WHYCACHE_LIB_TREE_ALLOCATOR_H_

#include <cstdint>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "lib/tree/file_layout.h"
#include "lib/tree/page_populator.h"

namespace whycache::tree {

// Thrown by Allocate when the file has no room left; the writer grows the file and retries.
struct OutOfSpace {
  uint64_t requested = 0;
};

// Rounds a request up to its size class: multiples of 8 up to 256 bytes, then steps of 1/8 of a
// power of two, so freed blocks match later requests of similar size (at most 12.5% waste).
uint64_t SizeClass(uint64_t bytes);

// Reads and bounds-checks the free list of `meta`; *list_bytes gets the size of the list's own
// block (0 when there is none). Throws Error(kCorruption) for a list that does not fit.
std::vector<FreeRecord> ReadFreeList(const char* base, uint64_t data_offset, const MetaValues& meta,
                                     uint64_t* list_bytes);

class Allocator {
 public:
  // Takes over the free list of `meta`. Records freed at a version <= `oldest_pinned` are
  // reusable at once; the rest wait. Space freed by this transaction is tagged `new_version`.
  // Throws Error(kCorruption) for a free list that does not fit the file.
  Allocator(char* base, uint64_t file_bytes, uint64_t data_offset, const MetaValues& meta,
            uint64_t oldest_pinned, uint64_t new_version);

  Allocator(const Allocator&) = delete;
  Allocator& operator=(const Allocator&) = delete;

  // Returns the offset of SizeClass(bytes) bytes, 8-byte aligned. Throws OutOfSpace.
  uint64_t Allocate(uint64_t bytes);

  // Allocate, then zeroes the block unless it is known to hold zeros already.
  uint64_t AllocateZeroed(uint64_t bytes);
  // Tells the allocator that nothing above top() was ever written, as in a file just created
  // (which the kernel zero-fills), so AllocateZeroed need not clear space it takes from there.
  // A writer killed mid-transaction may have left bytes above the top of an older file.
  void TrustZerosAboveTop() { zeros_above_top_ = true; }
  // True for a block allocated by this transaction: no reader can see it, so it may be changed
  // in place.
  bool IsFresh(uint64_t offset) const {
    return offset >= fresh_floor_ || fresh_reused_.count(offset) != 0;
  }

  // Gives back a block of `bytes` (the size passed to Allocate). Fresh blocks are reusable at
  // once; others only after every reader has moved past this transaction's version.
  void Free(uint64_t offset, uint64_t bytes);

  // Writes the free list into the file and returns its offset (0 when empty).
  uint64_t Persist();

  // Hands mapping the pages ahead of the top to `populator` instead of doing it inline, for a
  // build that writes far more than it waits for. REQUIRES: `populator` outlives this allocator
  // and maps the same file.
  void MapAheadWith(PagePopulator* populator) { populator_ = populator; }

  uint64_t top() const { return top_; }
  uint64_t free_bytes() const { return free_bytes_; }

 private:
  // Maps the pages above `top` in one call: a bulk build writes hundreds of MB of fresh pages,
  // and a fault per page (each zeroing a read-ahead window) cost more than the writes.
  void PopulateAbove(uint64_t top);

  char* base_;
  uint64_t file_bytes_;
  uint64_t new_version_;
  uint64_t fresh_floor_;
  uint64_t top_;
  uint64_t populated_;  // Pages below it are mapped, or the populator is asked for more.
  PagePopulator* populator_ = nullptr;
  bool zeros_above_top_ = false;
  uint64_t free_bytes_ = 0;
  std::unordered_map<uint64_t, std::vector<uint64_t>> reusable_;  // Size class -> offsets.
  std::vector<FreeRecord> waiting_;
  std::unordered_set<uint64_t> fresh_reused_;
};

}  // namespace whycache::tree

#endif  // WHYCACHE_LIB_TREE_ALLOCATOR_H_
