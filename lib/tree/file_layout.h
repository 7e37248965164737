// The bytes of a state file. Everything here lives in memory shared by every process that maps
// the file, at a different address in each, so structures hold offsets, never pointers.
//
//   [0, 4096)            FileHeader: identity (checksummed), the published-version word, two
//                        meta records, publish times, the user area, the boot stamp.
//   [4096, data_offset)  The reader table: 64-byte ReaderSlots, one per reader thread, then
//                        kSharedReaderSlots shared by the threads that found none free.
//   [data_offset, file_bytes)  Nodes, leaves and free-list records, 8-byte aligned.
#ifndef WHYCACHE_LIB_TREE_FILE_LAYOUT_H_
#define WHYCACHE_LIB_TREE_FILE_LAYOUT_H_

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <string>

namespace whycache::tree {

inline constexpr char kMagic[8] = {'W', 'H', 'Y', 'T', 'R', 'E', 'E', '1'};
inline constexpr uint64_t kPageBytes = 4096;
inline constexpr size_t kUserAreaBytes = 1024;

// Copies a user area (kUserAreaBytes) into the file a rebuild makes. `from` may be updated by
// other threads and processes during the call; `to` is the new file's, which nobody else sees yet.
using UserAreaCopier = void (*)(const unsigned char* from, unsigned char* to);
inline constexpr size_t kPublishTimeRing = 64;
inline constexpr uint32_t kMaxReaderSlots = 65536;
inline constexpr uint32_t kSharedReaderSlots = 64;

// Set in FileHeader::current once the file has been replaced by a rebuilt one: readers that see
// it map the file now at the path. The low bits keep the last published version.
inline constexpr uint64_t kSupersededBit = uint64_t{1} << 63;

static_assert(std::atomic<uint64_t>::is_always_lock_free);
static_assert(std::atomic<uint32_t>::is_always_lock_free);

// One published version. Two of them alternate (slot = version & 1): the writer fills the one
// not in use, then publishes by storing the version into FileHeader::current. Fields are atomics
// because a slow reader may read a slot while a writer two versions later rewrites it; readers
// detect that by re-reading `current` afterwards (a seqlock).
struct alignas(64) MetaRecord {
  std::atomic<uint64_t> version;
  std::atomic<uint64_t> root;        // Ref of the root node, 0 for an empty tree.
  std::atomic<uint64_t> applied_id;  // Caller's id stored by Commit.
  std::atomic<uint64_t> key_count;
  std::atomic<uint64_t> alloc_top;     // Everything in [data_offset, alloc_top) was allocated.
  std::atomic<uint64_t> free_list;     // Offset of the FreeListBlob, 0 when there is none.
  std::atomic<uint64_t> free_bytes;    // Sum of the sizes in the free list.
  std::atomic<uint64_t> content_hash;  // Sum over leaves of LeafHash(key, value).
  std::atomic<uint64_t> hash_dir;      // Directory of the hash index over leaves, 0 if none.
  std::atomic<uint64_t> hash_bits;     // The directory has 1 << hash_bits pages.
  std::atomic<uint64_t> checksum;      // Over the fields above.
};

struct FileHeader {
  // Written once at creation, covered by header_checksum.
  char magic[8];
  uint32_t format_version;
  uint32_t reader_slots;
  uint64_t file_bytes;
  uint64_t data_offset;
  uint64_t header_checksum;

  alignas(64) std::atomic<uint64_t> current;  // Published version, maybe | kSupersededBit.
  MetaRecord meta[2];
  // publish_time_us[v % kPublishTimeRing]: when version v was published (microseconds since
  // the epoch); gives the age of the oldest pinned version.
  std::atomic<int64_t> publish_time_us[kPublishTimeRing];
  alignas(64) unsigned char user_area[kUserAreaBytes];
  // The boot (boot_id.h) in which the file was built or last verified whole; zero in files of
  // an earlier release, which are verified once like a file of another boot.
  alignas(64) std::atomic<uint64_t> boot_stamp[2];
  // The reader table's bookkeeping (reader_table.h): slots at or above slots_high were never
  // claimed; slots_released counts slots freed, so readers that found none free know when to
  // look again.
  alignas(64) std::atomic<uint32_t> slots_high;
  std::atomic<uint64_t> slots_released;
  // Set once the file that superseded this one is at the path (after kSupersededBit): readers
  // then move at their next read, where before it they look at the path only now and then.
  // Zero in files superseded by writers of an earlier release.
  std::atomic<uint32_t> replaced;
};
static_assert(sizeof(FileHeader) <= kPageBytes);

// A reader thread claims a slot once (a CAS of `owner`), then pins versions with plain stores.
// `owner` is generation << 32 | token: the token (liveness_lock.h) of the owning process, 0
// when free; the generation counts claims, so that a reaper that judged one owner dead cannot
// free the slot of the next (its CAS fails).
// A shared slot (the last kSharedReaderSlots) has no owner: `pinned` is joiners << 48 | the
// oldest version they pin, changed only by CAS.
struct alignas(64) ReaderSlot {
  std::atomic<uint64_t> owner;
  std::atomic<uint64_t> pinned;  // Version in use by an open read transaction, 0 when none.
};
static_assert(sizeof(ReaderSlot) == 64);

// Space freed by commits: `count` records follow the header. A record may be reused once no
// reader pins a version older than its `freed_at`.
struct FreeRecord {
  uint64_t offset;
  uint64_t bytes;
  uint64_t freed_at;
};
struct FreeListBlob {
  uint64_t count;
};

inline constexpr uint64_t AlignUp(uint64_t n, uint64_t a) { return (n + a - 1) / a * a; }

inline uint64_t DataOffset(uint32_t reader_slots) {
  return AlignUp(kPageBytes + (uint64_t{reader_slots} + kSharedReaderSlots) * sizeof(ReaderSlot),
                 kPageBytes);
}

// A 64-bit hash for checksums (not cryptographic): detects flipped bytes.
uint64_t Hash64(const void* data, size_t n, uint64_t seed);

uint64_t HeaderChecksum(const FileHeader& h);
uint64_t MetaChecksum(const MetaRecord& m);

// Reads of a meta record with relaxed loads: a plain copy of the fields.
struct MetaValues {
  uint64_t version = 0, root = 0, applied_id = 0, key_count = 0, alloc_top = 0, free_list = 0,
           free_bytes = 0, content_hash = 0, hash_dir = 0, hash_bits = 0, checksum = 0;
};
MetaValues LoadMeta(const MetaRecord& m);
void StoreMeta(MetaRecord& m, const MetaValues& v);  // Computes and stores the checksum too.
uint64_t MetaValuesChecksum(const MetaValues& v);

}  // namespace whycache::tree

#endif  // WHYCACHE_LIB_TREE_FILE_LAYOUT_H_
