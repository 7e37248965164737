// Whether the process that claimed a reader slot is alive, in a way that holds across PID
// namespaces (containers sharing /dev/shm) and pid reuse, where kill(pid, 0) answers for another
// process or for none.
//
// A process that claims slots in a state file first takes a token: an OFD lock (fcntl
// F_OFD_SETLK) on the byte at kLivenessLockBase + token of that file, through a descriptor of
// its own. Its slots record the token. The kernel drops the lock when the process dies, however
// it dies and whatever namespace it or the observer is in, so a token is dead iff its byte is
// unlocked (F_OFD_GETLK through any other descriptor of the file). The bytes lie far beyond the
// end of any state file and nothing else locks them.
#ifndef WHYCACHE_LIB_TREE_LIVENESS_LOCK_H_
#define WHYCACHE_LIB_TREE_LIVENESS_LOCK_H_

#include <atomic>
#include <cstdint>
#include <string>

namespace whycache::tree {

inline constexpr uint64_t kLivenessLockBase = uint64_t{1} << 62;
// Tokens are 1 .. kLivenessTokens (0 marks a free slot): as many processes per state file.
inline constexpr uint32_t kLivenessTokens = 1u << 20;

// This process's token in one state file. A forked child does not inherit it: the child's copy
// of the descriptor is closed at the fork (the lock stays the parent's) and the child takes a
// token of its own at its first Acquire.
class LivenessLock {
 public:
  LivenessLock() = default;
  ~LivenessLock();  // Releases the token.
  LivenessLock(const LivenessLock&) = delete;
  LivenessLock& operator=(const LivenessLock&) = delete;

  // The token, taken at the first call through a new open file description of the state file
  // `file_fd` is open on, mapped from `path`. Throws Error(kIOError) when no lock can be taken
  // (every token held, or the file replaced at `path` and /proc not mounted to reopen it).
  // REQUIRES: callers serialize calls on one object.
  uint32_t Acquire(int file_fd, const std::string& path);

  // The token held, 0 when none (not acquired yet, or inherited through a fork).
  // Safe to call while another thread is in Acquire (a writer scanning pins skips its own).
  uint32_t token() const { return token_.load(std::memory_order_relaxed); }

 private:
  int fd_ = -1;
  std::atomic<uint32_t> token_{0};
};

// True unless the lock of `token` is known to be free, i.e. unless its holder died. Asked through
// `file_fd`, which must hold no liveness lock itself (locks of the asking description do not
// conflict with its own query). A failing query counts as alive: a slot is never reaped on doubt.
bool TokenAlive(int file_fd, uint32_t token);

}  // namespace whycache::tree

#endif  // WHYCACHE_LIB_TREE_LIVENESS_LOCK_H_
