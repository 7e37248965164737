// Which filesystem a benchmark's files are on. It decides what some figures mean: an fsync on
// tmpfs costs nothing, so a durable append measured there says nothing about a disk.
#ifndef WHYCACHE_LIB_BENCH_FILESYSTEM_H_
#define WHYCACHE_LIB_BENCH_FILESYSTEM_H_

#include <string>
#include <vector>

namespace whycache::bench {

struct FilesystemFacts {
  // "tmpfs", "ramfs", "ext4" (ext2 and ext3 too: they share a magic number), "xfs", "btrfs",
  // "overlay", ...; the magic number in hex for others, "unknown" if statfs fails.
  std::string type;
  // Whether its files live in memory (tmpfs, ramfs): fsync is free there.
  bool in_memory = false;
};

FilesystemFacts FilesystemOf(const std::string& path);

// The first of `candidates` that is a writable directory on a filesystem not in memory; empty
// when none is. Empty candidates are skipped.
std::string FirstDiskDirectory(const std::vector<std::string>& candidates);

}  // namespace whycache::bench

#endif  // WHYCACHE_LIB_BENCH_FILESYSTEM_H_
