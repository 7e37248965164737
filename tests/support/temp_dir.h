// A fresh directory for one test, removed with everything in it when the object dies.
#ifndef WHYCACHE_TESTS_SUPPORT_TEMP_DIR_H_
#define WHYCACHE_TESTS_SUPPORT_TEMP_DIR_H_

#include <string>

#include "lib/io/temp_dir.h"

namespace whycache::testing {

// io::TempDir with the tests' default place.
class TempDir : public io::TempDir {
 public:
  // Under $TEST_TMPDIR (Bazel's per-test directory), else /tmp.
  TempDir();
  // Under `parent`, e.g. /dev/shm for files that stand for memory-backed state.
  explicit TempDir(const std::string& parent);
};

}  // namespace whycache::testing

#endif  // WHYCACHE_TESTS_SUPPORT_TEMP_DIR_H_
