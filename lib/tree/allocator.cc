#include "lib/tree/allocator.h"

#include <sys/mman.h>

#include <algorithm>
#include <bit>
#include <cstring>
#include <string>

#include "lib/tree/art_node.h"

namespace whycache::tree {

namespace {

// Pages mapped ahead of the top: as many as the transaction has used so far, within bounds, so a
// small commit maps little and a bulk build few times.
constexpr uint64_t kMinPopulateBytes = uint64_t{64} << 10;
constexpr uint64_t kMaxPopulateBytes = uint64_t{4} << 20;
// A populator thread is kept further ahead, so that the writer rarely catches up with it.
constexpr uint64_t kMaxPopulatorLeadBytes = uint64_t{16} << 20;

}  // namespace

uint64_t SizeClass(uint64_t bytes) {
  if (bytes <= 256) return AlignUp(bytes == 0 ? 8 : bytes, 8);
  const uint64_t step = std::bit_floor(bytes) / 8;
  return AlignUp(bytes, step);
}

std::vector<FreeRecord> ReadFreeList(const char* base, uint64_t data_offset, const MetaValues& meta,
                                     uint64_t* list_bytes) {
  *list_bytes = 0;
  std::vector<FreeRecord> out;
  if (meta.free_list == 0) return out;
  const uint64_t top = meta.alloc_top;
  const uint64_t off = meta.free_list;
  if (off < data_offset || (off & 7) != 0 || top < 16 || off > top - 16) {
    ThrowCorrupt("free list offset " + std::to_string(off) + " out of bounds");
  }
  uint64_t header[2];  // count, bytes
  std::memcpy(header, base + off, sizeof(header));
  if (header[0] > (top - off - 16) / sizeof(FreeRecord) || header[1] > top - off ||
      16 + header[0] * sizeof(FreeRecord) > header[1] || header[1] != SizeClass(header[1])) {
    ThrowCorrupt("free list at offset " + std::to_string(off) + " has a bad length");
  }
  const FreeRecord* recs = reinterpret_cast<const FreeRecord*>(base + off + 16);
  out.assign(recs, recs + header[0]);
  for (size_t i = 0; i < out.size(); ++i) {
    const FreeRecord& r = out[i];
    if (r.offset < data_offset || (r.offset & 7) != 0 || r.bytes == 0 || r.bytes > top ||
        r.offset > top - r.bytes || r.bytes != SizeClass(r.bytes)) {
      ThrowCorrupt("free list record " + std::to_string(i) + " out of bounds");
    }
  }
  *list_bytes = header[1];
  return out;
}

Allocator::Allocator(char* base, uint64_t file_bytes, uint64_t data_offset, const MetaValues& meta,
                     uint64_t oldest_pinned, uint64_t new_version)
    : base_(base),
      file_bytes_(file_bytes),
      new_version_(new_version),
      fresh_floor_(meta.alloc_top),
      top_(meta.alloc_top),
      populated_(AlignUp(meta.alloc_top, kPageBytes)) {
  if (top_ < data_offset || top_ > file_bytes) {
    ThrowCorrupt("allocation top " + std::to_string(top_) + " outside the file");
  }
  uint64_t list_bytes = 0;
  for (const FreeRecord& r : ReadFreeList(base, data_offset, meta, &list_bytes)) {
    free_bytes_ += r.bytes;
    if (r.freed_at <= oldest_pinned) {
      reusable_[r.bytes].push_back(r.offset);
    } else {
      waiting_.push_back(r);
    }
  }
  if (list_bytes != 0) {
    // The list itself was read by the published version; Persist writes a new one.
    free_bytes_ += list_bytes;
    waiting_.push_back({meta.free_list, list_bytes, new_version});
  }
}

uint64_t Allocator::Allocate(uint64_t bytes) {
  const uint64_t size = SizeClass(bytes);
  // A bulk build allocates millions of blocks from a file with nothing to reuse.
  auto it = reusable_.empty() ? reusable_.end() : reusable_.find(size);
  if (it != reusable_.end() && !it->second.empty()) {
    const uint64_t off = it->second.back();
    it->second.pop_back();
    free_bytes_ -= size;
    fresh_reused_.insert(off);
    return off;
  }
  if (size > file_bytes_ - top_) throw OutOfSpace{size};
  const uint64_t off = top_;
  top_ += size;
  if (top_ > populated_) PopulateAbove(off);
  return off;
}

uint64_t Allocator::AllocateZeroed(uint64_t bytes) {
  const uint64_t top_before = top_;
  const uint64_t off = Allocate(bytes);
  // Clearing untouched pages would also fault them in ahead of the populator, and wait for it.
  if (!zeros_above_top_ || off != top_before) std::memset(base_ + off, 0, bytes);
  return off;
}

void Allocator::PopulateAbove(uint64_t top) {
  const uint64_t ahead =
      std::clamp(top - fresh_floor_, kMinPopulateBytes,
                 populator_ != nullptr ? kMaxPopulatorLeadBytes : kMaxPopulateBytes);
  const uint64_t to = std::min(AlignUp(std::max(top_, top + ahead), kPageBytes), file_bytes_);
  if (populator_ != nullptr) {
    // Asked again halfway there, so that the thread always has pages ahead of the writer.
    populator_->MapBelow(to);
    populated_ = top + (to - top) / 2;
    return;
  }
#ifdef MADV_POPULATE_WRITE
  // Only a speed-up: where the kernel lacks it or refuses, the writes fault the pages in.
  const uint64_t from = top & ~(kPageBytes - 1);
  madvise(base_ + from, to - from, MADV_POPULATE_WRITE);
#endif
  populated_ = to;
}

void Allocator::Free(uint64_t offset, uint64_t bytes) {
  const uint64_t size = SizeClass(bytes);
  free_bytes_ += size;
  if (IsFresh(offset)) {
    reusable_[size].push_back(offset);
  } else {
    waiting_.push_back({offset, size, new_version_});
  }
}

uint64_t Allocator::Persist() {
  uint64_t count = waiting_.size();
  for (const auto& [size, offs] : reusable_) count += offs.size();
  if (count == 0) return 0;
  const uint64_t bytes = SizeClass(16 + count * sizeof(FreeRecord));
  const uint64_t off = Allocate(bytes);
  char* p = base_ + off;
  FreeRecord* out = reinterpret_cast<FreeRecord*>(p + 16);
  uint64_t n = 0;
  for (const FreeRecord& r : waiting_) out[n++] = r;
  for (const auto& [size, offs] : reusable_) {
    for (uint64_t o : offs) out[n++] = {o, size, 0};
  }
  const uint64_t header[2] = {n, bytes};
  std::memcpy(p, header, sizeof(header));
  return off;
}

}  // namespace whycache::tree
