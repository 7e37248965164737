// Thin, error-checked wrappers over the POSIX file calls the file log needs. Every failure
// throws Error(kIOError) naming the operation and the path.
#ifndef WHYCACHE_LIB_LOG_POSIX_FILE_H_
#define WHYCACHE_LIB_LOG_POSIX_FILE_H_

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace whycache::log {

// Permissions of what the file log creates: the owner writes, its group reads.
inline constexpr mode_t kDirectoryMode = 0750;
inline constexpr mode_t kFileMode = 0640;

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

  // Opens `path` with open(2) `flags`; a created file gets exactly `mode` (umask aside). Throws
  // Error(kIOError) on failure.
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

// Creates directory `path` with kDirectoryMode if missing; returns true if it created it.
bool CreateDirectory(const std::string& path);
// fsync of a directory, so that renames and creations in it are durable.
void SyncDirectory(const std::string& path);
// Replaces `path` atomically by a file holding `contents`: writes `path`.tmp, fsyncs it, renames
// it over `path` and fsyncs the directory. A crash leaves either the old or the new file.
// REQUIRES: the caller excludes other writers of `path` (the file log holds its lock).
void WriteFileAtomically(const std::string& dir, const std::string& name,
                         std::string_view contents);
// The whole content of `path`, or throws Error(kCorruption) if it exceeds `max_bytes`.
std::string ReadWholeFile(const std::string& path, size_t max_bytes);
// True if `path` exists (stat succeeds).
bool PathExists(const std::string& path);

}  // namespace whycache::log

#endif  // WHYCACHE_LIB_LOG_POSIX_FILE_H_
