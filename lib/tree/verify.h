// The full structural check of one published version.
#ifndef WHYCACHE_LIB_TREE_VERIFY_H_
#define WHYCACHE_LIB_TREE_VERIFY_H_

#include "lib/tree/file_layout.h"
#include "lib/tree/mapped_file.h"

namespace whycache::tree {

// Walks the version `meta` of `m` and throws Error(kCorruption) describing the first broken
// invariant. REQUIRES: the version stays reachable meanwhile (writer lock held).
void VerifyMapping(const Mapping& m, const MetaValues& meta);

}  // namespace whycache::tree

#endif  // WHYCACHE_LIB_TREE_VERIFY_H_
