// Replacing a machine's state file with a freshly built one, without stopping its readers: the
// one mechanism behind snapshot restore and resync below the log's horizon.
#ifndef WHYCACHE_LIB_CACHE_STATE_REBUILD_H_
#define WHYCACHE_LIB_CACHE_STATE_REBUILD_H_

#include <fcntl.h>

#include <cstdint>
#include <functional>
#include <string>

#include "lib/io/posix_file.h"
#include "lib/tree/tree.h"
#include "whycache/change_log.h"

namespace whycache::cache {

// Holds an exclusive flock on a file (created if missing) while it lives; the kernel drops it
// if the process dies.
class ScopedFlock {
 public:
  // Throws Error(kIOError) naming the path if the file cannot be opened or locked.
  explicit ScopedFlock(const std::string& path)
      : file_(io::File::Open(path, O_RDWR | O_CREAT)), lock_(file_) {}

 private:
  io::File file_;
  io::LockGuard lock_;
};

// The lock that processes replacing the state file at `state_path` take first (PATH.replace),
// so that only one of them builds a replacement at a time.
std::string ReplacementLockPath(const std::string& state_path);

// Fills a state file being built (through write transactions of `fresh`).
using FillFn = std::function<void(tree::Tree& fresh)>;

// Builds a state file next to `tree`'s (PATH.rebuild-state) for the same dataset and poll
// interval, fills it with `fill`, and installs it in place of `tree`'s file; processes move to
// it at their next read transaction. `size_hint` is the expected bytes of keys and values.
// Returns false, the built file removed and `tree` unchanged, when the built state is older than
// the current one and `if_older` is kRefuse: appliers of other processes (which take no
// ScopedFlock) moved the current state past it while it was built, and installing it would take
// readers back. REQUIRES: the caller holds the ScopedFlock of ReplacementLockPath. On any error
// the partial file is removed and `tree` is unchanged.
bool BuildAndInstall(tree::Tree& tree, uint64_t size_hint, const FillFn& fill,
                     tree::IfOlder if_older = tree::IfOlder::kRefuse);

// Applies `log` to `fresh`, a state file being built, until its applied id reaches `at_least`
// or the log has nothing newer, and returns its applied id. The backlog goes into as few write
// transactions as memory allows (ApplyMode::kBuilding): no reader sees `fresh` before it is
// installed. Throws Error(kUnavailable) naming
// `what` (e.g. "the resync of PATH") if the log is compacted above it meanwhile, and the
// errors of applying.
uint64_t CatchUpFromLog(tree::Tree& fresh, ChangeLog& log, uint64_t at_least,
                        const std::string& what);

}  // namespace whycache::cache

#endif  // WHYCACHE_LIB_CACHE_STATE_REBUILD_H_
