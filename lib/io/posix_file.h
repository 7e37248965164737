// Thin, error-checked wrappers over the POSIX file calls of the file log, snapshots and state
// files. Every failure throws Error(kIOError) naming the operation and the path.
//
// Every file whycache creates (state files and their locks, snapshots, log segments, manifests,
// lock files) is created through OpenDescriptor or File::Open, so that none is ever more open
// than kFileMode, whatever the creating process's umask.
#ifndef WHYCACHE_LIB_IO_POSIX_FILE_H_
#define WHYCACHE_LIB_IO_POSIX_FILE_H_

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace whycache::io {

// Permissions of what whycache creates: the owner writes, its group reads, others get nothing.
// Share a dataset between accounts through the group (e.g. a setgid log directory).
inline constexpr mode_t kDirectoryMode = 0750;
inline constexpr mode_t kFileMode = 0640;

// open(2) of `path` with `flags` (O_CLOEXEC added). A file this call creates gets exactly `mode`,
// whatever the umask; a file that already existed keeps its mode. Returns the descriptor, or -1
// with errno set: for callers that keep raw descriptors (the state file and its writer lock).
int OpenDescriptor(const std::string& path, int flags, mode_t mode = kFileMode);

// An open file descriptor and the path it was opened with, closed on destruction. Move-only.
class File {
 public:
  File() = default;
  File(int fd, std::string path) : fd_(fd), path_(std::move(path)) {}
  ~File();
  File(File&& other) noexcept;
  File& operator=(File&& other) noexcept;
  File(const File&) = delete;
  File& operator=(const File&) = delete;

  bool is_open() const { return fd_ >= 0; }
  int fd() const { return fd_; }
  const std::string& path() const { return path_; }

  // Opens `path` as OpenDescriptor does. Throws Error(kIOError).
  static File Open(const std::string& path, int flags, mode_t mode = kFileMode);

  // Current size (fstat).
  uint64_t Size() const;
  // Reads up to `n` bytes at `offset` into `buf`; returns fewer only at end of file.
  size_t ReadAt(uint64_t offset, char* buf, size_t n) const;
  // Writes all of `pieces`, in order, starting at `offset`.
  void WriteAt(uint64_t offset, std::span<const std::string_view> pieces) const;
  void Truncate(uint64_t size) const;
  // fdatasync: the data and the size are durable when it returns.
  void SyncData() const;

 private:
  int fd_ = -1;
  std::string path_;
};

// Creates directory `path` with exactly kDirectoryMode if missing, durably (its parent is
// fsynced); returns true if it created it. The parent must exist.
bool CreateDirectory(const std::string& path);
// fsync of a directory, so that renames and creations in it are durable.
void SyncDirectory(const std::string& path);
// Replaces DIR/NAME atomically by a file holding `contents` (mode kFileMode): writes
// DIR/NAME.tmp, fsyncs it, renames it over DIR/NAME and fsyncs DIR. A crash leaves either the old
// or the new file, plus possibly a stale .tmp that the next call overwrites.
// REQUIRES: the caller excludes other writers of DIR/NAME (the file log holds its lock).
void WriteFileAtomically(const std::string& dir, const std::string& name,
                         std::string_view contents);
// The whole content of `path`, or throws Error(kCorruption) if it exceeds `max_bytes`.
std::string ReadWholeFile(const std::string& path, size_t max_bytes);
// True if `path` exists (stat succeeds).
bool PathExists(const std::string& path);
// Removes `path`; a path that does not exist is not an error.
void RemoveFile(const std::string& path);

// Holds flock(LOCK_EX) on `file` for its lifetime, waiting for it. The kernel releases it if the
// process dies, so a killed holder never blocks the others. flock locks belong to open file
// descriptions: two File objects opened separately exclude each other even within a process.
class LockGuard {
 public:
  explicit LockGuard(const File& file);
  ~LockGuard();
  LockGuard(const LockGuard&) = delete;
  LockGuard& operator=(const LockGuard&) = delete;

 private:
  const File& file_;
};

// What distinguishes one version of a file that is only ever replaced by rename: a replacement
// has another inode and change time. Equal stamps mean the same version.
struct FileStamp {
  uint64_t inode = 0;
  int64_t change_time_ns = 0;
  uint64_t size = 0;
  friend bool operator==(const FileStamp&, const FileStamp&) = default;
};
// The stamp of `path`, or throws Error(kIOError).
FileStamp StampOf(const std::string& path);

}  // namespace whycache::io

#endif  // WHYCACHE_LIB_IO_POSIX_FILE_H_
