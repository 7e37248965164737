// A fresh directory for one test, removed with everything in it when the object dies.
#ifndef WHYCACHE_TESTS_SUPPORT_TEMP_DIR_H_
#define WHYCACHE_TESTS_SUPPORT_TEMP_DIR_H_

#include <string>

namespace whycache::testing {

class TempDir {
 public:
  // Creates a unique directory under $TEST_TMPDIR (Bazel's per-test directory), else /tmp.
  // Throws std::runtime_error if it cannot.
  TempDir();
  // The same under `parent`, e.g. /dev/shm for files that stand for memory-backed state.
  explicit TempDir(const std::string& parent);
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }
  // path() + "/" + name.
  std::string File(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

}  // namespace whycache::testing

#endif  // WHYCACHE_TESTS_SUPPORT_TEMP_DIR_H_
