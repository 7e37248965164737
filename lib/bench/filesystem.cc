#include "lib/bench/filesystem.h"

#include <linux/magic.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <cstdio>

namespace whycache::bench {

FilesystemFacts FilesystemOf(const std::string& path) {
  struct statfs s;
  if (statfs(path.c_str(), &s) != 0) return {"unknown", false};
  switch (static_cast<unsigned long>(s.f_type)) {
    case TMPFS_MAGIC:
      return {"tmpfs", true};
    case RAMFS_MAGIC:
      return {"ramfs", true};
    case EXT4_SUPER_MAGIC:
      return {"ext4", false};
    case XFS_SUPER_MAGIC:
      return {"xfs", false};
    case BTRFS_SUPER_MAGIC:
      return {"btrfs", false};
    case OVERLAYFS_SUPER_MAGIC:
      return {"overlay", false};
    default:
      char hex[32];
      std::snprintf(hex, sizeof hex, "0x%lx", static_cast<unsigned long>(s.f_type));
      return {hex, false};
  }
}

std::string FirstDiskDirectory(const std::vector<std::string>& candidates) {
  for (const std::string& dir : candidates) {
    if (dir.empty() || access(dir.c_str(), W_OK | X_OK) != 0) continue;
    const FilesystemFacts fs = FilesystemOf(dir);
    if (fs.type != "unknown" && !fs.in_memory) return dir;
  }
  return "";
}

}  // namespace whycache::bench
