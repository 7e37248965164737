#include "lib/tree/liveness_lock.h"

#include <fcntl.h>
#include <pthread.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <mutex>
#include <string>
#include <vector>

#include "whycache/error.h"

namespace whycache::tree {

namespace {

// Every LivenessLock holding a descriptor, so that a forked child can close its copies: a child
// holding the parent's open file description would keep the parent's lock, and so its slots,
// alive after the parent died.
struct Registry {
  std::mutex mu;
  std::vector<LivenessLock*> held;
};

Registry& TheRegistry() {
  static Registry* registry = new Registry();  // Never destroyed: threads may outlive main.
  return *registry;
}

std::once_flag g_atfork_once;

void LockRegistry() { TheRegistry().mu.lock(); }
void UnlockRegistry() { TheRegistry().mu.unlock(); }

struct flock ByteOf(uint32_t token, short type) {
  struct flock fl;
  std::memset(&fl, 0, sizeof(fl));
  fl.l_type = type;
  fl.l_whence = SEEK_SET;
  fl.l_start = static_cast<off_t>(kLivenessLockBase + token);
  fl.l_len = 1;
  return fl;
}

// A new open file description of the file `fd` is open on.
int OpenAgain(int fd, const std::string& path) {
  struct stat want, got;
  if (fstat(fd, &want) != 0) {
    throw Error(Error::Code::kIOError,
                "cannot stat state file " + path + ": " + std::strerror(errno));
  }
  int again = open(path.c_str(), O_RDWR | O_CLOEXEC);
  if (again >= 0 && fstat(again, &got) == 0 && got.st_dev == want.st_dev &&
      got.st_ino == want.st_ino) {
    return again;
  }
  if (again >= 0) close(again);
  const std::string self = "/proc/self/fd/" + std::to_string(fd);
  again = open(self.c_str(), O_RDWR | O_CLOEXEC);
  if (again < 0) {
    throw Error(Error::Code::kIOError,
                "cannot open the state file " + path + ", replaced since it was mapped, through " +
                    self + " for its reader lock (is /proc mounted?): " + std::strerror(errno));
  }
  return again;
}

}  // namespace

LivenessLock::~LivenessLock() {
  if (fd_ < 0) return;
  {
    Registry& r = TheRegistry();
    std::lock_guard lock(r.mu);
    std::erase(r.held, this);
  }
  close(fd_);
}

uint32_t LivenessLock::Acquire(int file_fd, const std::string& path) {
  if (fd_ >= 0) return token_.load(std::memory_order_relaxed);
  std::call_once(g_atfork_once, [] {
    pthread_atfork(LockRegistry, UnlockRegistry, [] {
      // The child's only thread; the registry's mutex is held by it since the prepare handler.
      for (LivenessLock* l : TheRegistry().held) {
        close(l->fd_);
        l->fd_ = -1;
        l->token_.store(0, std::memory_order_relaxed);
      }
      TheRegistry().held.clear();
      UnlockRegistry();
    });
  });
  // A description of our own: locks are owned by open file descriptions, and the mapping's
  // descriptor is shared with forked children and used for queries. Opened by path when the path
  // still names the file, else through /proc.
  const int fd = OpenAgain(file_fd, path);
  // Start where other processes are unlikely to be, so a process usually takes its first try,
  // and skip over the locks met: a scan takes a few calls however many processes there are.
  uint32_t token = 1 + static_cast<uint32_t>(getpid()) * 2654435761u % kLivenessTokens;
  int error = 0;
  for (uint64_t tried = 0; tried < kLivenessTokens;) {
    struct flock fl = ByteOf(token, F_WRLCK);
    if (fcntl(fd, F_OFD_SETLK, &fl) == 0) {
      Registry& r = TheRegistry();
      std::lock_guard lock(r.mu);
      fd_ = fd;
      token_.store(token, std::memory_order_relaxed);
      r.held.push_back(this);
      return token;
    }
    error = errno;
    if (error == EINTR) continue;
    if (error != EAGAIN && error != EACCES) break;
    // The lock in the way, and where it ends (l_len 0: the end of the file's range).
    uint64_t skip = 1;
    fl = ByteOf(token, F_WRLCK);
    if (fcntl(fd, F_OFD_GETLK, &fl) == 0 && fl.l_type != F_UNLCK) {
      const uint64_t end = fl.l_len == 0 ? UINT64_MAX : fl.l_start + fl.l_len;
      skip = std::max<uint64_t>(
          1, std::min<uint64_t>(end - (kLivenessLockBase + token), kLivenessTokens + 1 - token));
    }
    tried += skip;
    token = token + skip > kLivenessTokens ? 1 : token + static_cast<uint32_t>(skip);
  }
  close(fd);
  throw Error(
      Error::Code::kIOError,
      "cannot take a reader lock (fcntl F_OFD_SETLK) on the state file: " +
          std::string(error == EAGAIN || error == EACCES ? "every lock is held by another process"
                                                         : std::strerror(error)));
}

bool TokenAlive(int file_fd, uint32_t token) {
  struct flock fl = ByteOf(token, F_WRLCK);
  if (fcntl(file_fd, F_OFD_GETLK, &fl) != 0) return true;
  return fl.l_type != F_UNLCK;
}

}  // namespace whycache::tree
