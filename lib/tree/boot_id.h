// Which boot of the machine this is. Commits and rebuilds of a state file do not wait for the
// disk (the file is derived data, and a sync per commit would cost more than the commit), so a
// power failure can leave a file with some pages new and some old or zero. A file records the
// boot in which it was built or last verified whole; a file from another boot is verified
// before it is used.
#ifndef WHYCACHE_LIB_TREE_BOOT_ID_H_
#define WHYCACHE_LIB_TREE_BOOT_ID_H_

#include <array>
#include <cstdint>

#include "lib/tree/file_layout.h"

namespace whycache::tree {

using BootId = std::array<uint64_t, 2>;

// The kernel's random id of the current boot (Linux: /proc/sys/kernel/random/boot_id), read once
// per process. All zero where the kernel does not tell, and then no file is ever verified for it.
// Thread-safe.
const BootId& CurrentBootId();

// Whether `h` is stamped with this boot, or this boot is unknown. Thread-safe.
bool StampedThisBoot(const FileHeader& h);

// Stamps `h` with this boot. REQUIRES: the file was built in this boot or has been verified
// whole in it, and the writer lock is held or no other process maps the file yet.
void StampThisBoot(FileHeader* h);

}  // namespace whycache::tree

#endif  // WHYCACHE_LIB_TREE_BOOT_ID_H_
