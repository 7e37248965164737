#include "lib/bench/scratch_dir.h"

#include <stdlib.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <system_error>

#include "whycache/error.h"

namespace whycache::bench {

ScratchDir::ScratchDir(const std::string& parent) {
  std::string base = parent;
  if (base.empty()) {
    const char* tmp = getenv("TMPDIR");
    base = tmp != nullptr && *tmp != '\0' ? tmp : "/dev/shm";
  }
  std::string pattern = base + "/whycache-bench-XXXXXX";
  if (mkdtemp(pattern.data()) == nullptr) {
    throw Error(Error::Code::kIOError,
                "cannot create a directory like " + pattern + ": " + std::strerror(errno));
  }
  path_ = pattern;
}

ScratchDir::~ScratchDir() {
  std::error_code ignored;
  std::filesystem::remove_all(path_, ignored);
}

}  // namespace whycache::bench
