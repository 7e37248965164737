// Rebuild: writing a compact copy of a published version into a new file. The same path serves
// growth (a bigger file), defragmentation, recovery from a crashed swap, and copies.
#ifndef WHYCACHE_LIB_TREE_REBUILD_H_
#define WHYCACHE_LIB_TREE_REBUILD_H_

#include <cstdint>
#include <memory>
#include <string>

#include "lib/tree/mapped_file.h"

namespace whycache::tree {

// Creates `dest_path` (replacing any file there) holding every entry of the version `meta` of
// `source`, its applied id, its user area and version meta.version + 1, at least `min_bytes`
// long, and flushes it to disk. REQUIRES: the caller holds the writer lock, so the version
// stays reachable. Throws Error(kIOError) when the file cannot be written.
std::unique_ptr<Mapping> BuildCompactCopy(const Mapping& source, const MetaValues& meta,
                                          const std::string& dest_path, uint64_t min_bytes);

}  // namespace whycache::tree

#endif  // WHYCACHE_LIB_TREE_REBUILD_H_
