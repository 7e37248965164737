// One state file mapped into this process, and the creation and validation of such files.
#ifndef WHYCACHE_LIB_TREE_MAPPED_FILE_H_
#define WHYCACHE_LIB_TREE_MAPPED_FILE_H_

#include <sys/types.h>

#include <atomic>
#include <boost/interprocess/file_mapping.hpp>
#include <boost/interprocess/mapped_region.hpp>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "lib/tree/art_node.h"
#include "lib/tree/file_layout.h"
#include "lib/tree/liveness_lock.h"

namespace whycache::tree {

struct Mapping {
  std::string path;
  boost::interprocess::file_mapping file;
  boost::interprocess::mapped_region region;
  char* base = nullptr;
  uint64_t size = 0;
  FileHeader* header = nullptr;
  ReaderSlot* slots = nullptr;
  dev_t dev = 0;
  ino_t ino = 0;
  // Once superseded: whether a thread of this process looked at PATH since the file was
  // replaced there, and when one looks again (tree.cc, Tree::ShouldLookAtPath).
  std::atomic<bool> looked_since_replaced{false};
  std::atomic<int64_t> next_look_ns{0};
  // Owned by the Tree's mutex: threads and writers using this mapping, the reader slots this
  // process claimed in it (released when the mapping is dropped), and the liveness token they
  // carry.
  int attached = 0;
  std::vector<ReaderSlot*> claimed;
  LivenessLock liveness;

  Space space() const { return Space{base, size, header->data_offset}; }

  ~Mapping();
};

// Maps the file at `path` and validates its header and published meta record. Throws
// Error(kCorruption) naming the path and what is wrong, Error(kIOError) when it cannot be
// opened.
std::unique_ptr<Mapping> MapFile(const std::string& path);

// Creates a new file of `file_bytes` at `path` (unlinking any file there first, as readers may
// still map it) holding an empty tree at `version`
// with `applied_id`, and maps it. `user_area` (kUserAreaBytes, may be null) is copied in, by
// `copy_user_area` when it is not null, else byte for byte.
std::unique_ptr<Mapping> CreateFile(const std::string& path, uint64_t file_bytes,
                                    uint32_t reader_slots, uint64_t version, uint64_t applied_id,
                                    const unsigned char* user_area, UserAreaCopier copy_user_area);

// Reads the published meta record of a mapping, consistent even while a writer publishes.
// Throws Error(kCorruption) when its checksum or version does not match.
MetaValues PublishedMeta(const Mapping& m);

// Checks a meta record against the file it belongs to.
void CheckMeta(const Mapping& m, const MetaValues& meta, uint64_t version);

}  // namespace whycache::tree

#endif  // WHYCACHE_LIB_TREE_MAPPED_FILE_H_
