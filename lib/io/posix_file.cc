#include "lib/io/posix_file.h"

#include <fcntl.h>
#include <limits.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <vector>

#include "whycache/error.h"

namespace whycache::io {
namespace {

[[noreturn]] void ThrowErrno(const std::string& op, const std::string& path) {
  const int err = errno;
  throw Error(Error::Code::kIOError, op + " " + path + ": " + std::strerror(err));
}

}  // namespace

File::~File() {
  if (fd_ >= 0) close(fd_);
}

File::File(File&& other) noexcept : fd_(other.fd_), path_(std::move(other.path_)) {
  other.fd_ = -1;
}

File& File::operator=(File&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) close(fd_);
    fd_ = other.fd_;
    path_ = std::move(other.path_);
    other.fd_ = -1;
  }
  return *this;
}

int OpenDescriptor(const std::string& path, int flags, mode_t mode) {
  if ((flags & O_CREAT) == 0) return open(path.c_str(), flags | O_CLOEXEC);
  // Create exclusively first, to know whether this call created the file. A file removed
  // between the two opens is created by the next round.
  for (int round = 0; round < 100; ++round) {
    const int fd = open(path.c_str(), flags | O_EXCL | O_CLOEXEC, mode);
    if (fd >= 0) {
      // open() only takes bits away from `mode` (those of the umask); set it exactly, so that
      // the group can read whatever the creating process's umask is.
      if (fchmod(fd, mode) != 0) {
        const int err = errno;
        close(fd);
        errno = err;
        return -1;
      }
      return fd;
    }
    if (errno != EEXIST || (flags & O_EXCL) != 0) return -1;
    const int existing = open(path.c_str(), (flags & ~O_CREAT) | O_CLOEXEC);
    if (existing >= 0 || errno != ENOENT) return existing;
  }
  return -1;
}

File File::Open(const std::string& path, int flags, mode_t mode) {
  const int fd = OpenDescriptor(path, flags, mode);
  if (fd < 0) ThrowErrno("open", path);
  return File(fd, path);
}

uint64_t File::Size() const {
  struct stat st;
  if (fstat(fd_, &st) != 0) ThrowErrno("fstat", path_);
  return static_cast<uint64_t>(st.st_size);
}

size_t File::ReadAt(uint64_t offset, char* buf, size_t n) const {
  size_t done = 0;
  while (done < n) {
    const ssize_t r = pread(fd_, buf + done, n - done, static_cast<off_t>(offset + done));
    if (r < 0) {
      if (errno == EINTR) continue;
      ThrowErrno("read", path_);
    }
    if (r == 0) break;
    done += static_cast<size_t>(r);
  }
  return done;
}

void File::WriteAt(uint64_t offset, std::span<const std::string_view> pieces) const {
  std::vector<iovec> iov;
  iov.reserve(pieces.size());
  for (std::string_view p : pieces) {
    if (!p.empty()) iov.push_back({const_cast<char*>(p.data()), p.size()});
  }
  size_t first = 0;
  while (first < iov.size()) {
    const int count = static_cast<int>(std::min<size_t>(iov.size() - first, IOV_MAX));
    const ssize_t w = pwritev(fd_, &iov[first], count, static_cast<off_t>(offset));
    if (w < 0) {
      if (errno == EINTR) continue;
      ThrowErrno("write", path_);
    }
    offset += static_cast<uint64_t>(w);
    // Skip what was written; a short write resumes inside the current piece.
    size_t left = static_cast<size_t>(w);
    while (first < iov.size() && left >= iov[first].iov_len) {
      left -= iov[first].iov_len;
      ++first;
    }
    if (left > 0) {
      iov[first].iov_base = static_cast<char*>(iov[first].iov_base) + left;
      iov[first].iov_len -= left;
    }
  }
}

void File::Truncate(uint64_t size) const {
  while (ftruncate(fd_, static_cast<off_t>(size)) != 0) {
    if (errno != EINTR) ThrowErrno("truncate", path_);
  }
}

void File::SyncData() const {
  if (fdatasync(fd_) != 0) ThrowErrno("fdatasync", path_);
}

bool CreateDirectory(const std::string& path) {
  if (mkdir(path.c_str(), kDirectoryMode) == 0) {
    if (chmod(path.c_str(), kDirectoryMode) != 0) ThrowErrno("chmod", path);
    SyncDirectory(std::filesystem::path(path).parent_path().string());
    return true;
  }
  if (errno == EEXIST) return false;
  ThrowErrno("mkdir", path);
}

void SyncDirectory(const std::string& path) {
  File dir = File::Open(path, O_RDONLY | O_DIRECTORY);
  if (fsync(dir.fd()) != 0) ThrowErrno("fsync", path);
}

void WriteFileAtomically(const std::string& dir, const std::string& name,
                         std::string_view contents) {
  const std::string path = dir + "/" + name;
  const std::string tmp = path + ".tmp";
  {
    File file = File::Open(tmp, O_WRONLY | O_CREAT | O_TRUNC);
    const std::string_view pieces[] = {contents};
    file.WriteAt(0, pieces);
    if (fsync(file.fd()) != 0) ThrowErrno("fsync", tmp);
  }
  if (rename(tmp.c_str(), path.c_str()) != 0) ThrowErrno("rename to " + path + " from", tmp);
  SyncDirectory(dir);
}

std::string ReadWholeFile(const std::string& path, size_t max_bytes) {
  File file = File::Open(path, O_RDONLY);
  const uint64_t size = file.Size();
  if (size > max_bytes) {
    throw Error(Error::Code::kCorruption, path + " is " + std::to_string(size) +
                                              " bytes, more than the " + std::to_string(max_bytes) +
                                              " expected");
  }
  std::string contents(size, '\0');
  contents.resize(file.ReadAt(0, contents.data(), contents.size()));
  return contents;
}

bool PathExists(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0;
}

void RemoveFile(const std::string& path) {
  if (unlink(path.c_str()) != 0 && errno != ENOENT) ThrowErrno("unlink", path);
}

LockGuard::LockGuard(const File& file) : file_(file) {
  while (flock(file_.fd(), LOCK_EX) != 0) {
    if (errno != EINTR) ThrowErrno("flock", file_.path());
  }
}

LockGuard::~LockGuard() { flock(file_.fd(), LOCK_UN); }

FileStamp StampOf(const std::string& path) {
  struct stat st;
  if (stat(path.c_str(), &st) != 0) ThrowErrno("stat", path);
  return {.inode = static_cast<uint64_t>(st.st_ino),
          .change_time_ns = int64_t{st.st_ctim.tv_sec} * 1'000'000'000 + st.st_ctim.tv_nsec,
          .size = static_cast<uint64_t>(st.st_size)};
}

}  // namespace whycache::io
