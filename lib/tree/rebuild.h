// Rebuild: writing a compact file from entries in key order. The same path serves growth (a
// bigger file), defragmentation, recovery from a crashed swap, copies, restored snapshots and
// batches large enough that merging them into a new file beats changing the old one.
#ifndef WHYCACHE_LIB_TREE_REBUILD_H_
#define WHYCACHE_LIB_TREE_REBUILD_H_

#include <cstdint>
#include <memory>
#include <string>

#include "lib/tree/mapped_file.h"
#include "lib/tree/tree.h"

namespace whycache::tree {

// What a file built from entries starts with.
struct BuildSpec {
  uint32_t reader_slots = 0;
  uint64_t version = 0;  // Published version of the new file.
  uint64_t applied_id = 0;
  const unsigned char* user_area = nullptr;  // kUserAreaBytes copied in; may be null.
  UserAreaCopier copy_user_area = nullptr;   // How; null: byte for byte.
  uint64_t expected_keys = 0;                // Sizes the hash index once.
  uint64_t first_guess_bytes = 0;            // Size to try first; doubled while too small.
  uint64_t min_bytes = 0;                    // The file ends at least this long.
};

// Creates `dest_path` (unlinking any file there first) holding the entries of `source`, published
// at spec.version with spec.applied_id, with free room of about half its used space, and flushes it
// to disk. `source` runs again if the first guess was too small. Throws Error(kIOError) when the
// file cannot be written, Error(kInvalidArgument) for entries out of order, and whatever `source`
// throws; `dest_path` is then removed.
std::unique_ptr<Mapping> BuildFile(const std::string& dest_path, const BuildSpec& spec,
                                   const EntrySource& source);

// BuildFile of every entry of the version `meta` of `source`, its applied id and user area
// (copied by `copy_user_area`, as in BuildSpec), at version meta.version + 1, at least
// `min_bytes` long. REQUIRES: the caller holds the writer lock, so the version stays reachable.
std::unique_ptr<Mapping> BuildCompactCopy(const Mapping& source, const MetaValues& meta,
                                          const std::string& dest_path, uint64_t min_bytes,
                                          UserAreaCopier copy_user_area);

}  // namespace whycache::tree

#endif  // WHYCACHE_LIB_TREE_REBUILD_H_
