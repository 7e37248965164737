// Reading and forging the boot stamp of a state file (lib/tree/boot_id.h), to test what a file
// written before a restart gets on open.
#ifndef WHYCACHE_TESTS_SUPPORT_BOOT_STAMP_H_
#define WHYCACHE_TESTS_SUPPORT_BOOT_STAMP_H_

#include <string>

#include "lib/tree/boot_id.h"

namespace whycache::testing {

// The stamp in the header of the state file at `path`. Fails the test when it cannot be read.
tree::BootId ReadBootStamp(const std::string& path);

// Overwrites it, as if the file had been written in boot `stamp`.
void WriteBootStamp(const std::string& path, const tree::BootId& stamp);

}  // namespace whycache::testing

#endif  // WHYCACHE_TESTS_SUPPORT_BOOT_STAMP_H_
