// A fresh directory that is removed, with everything in it, when the object dies: the working
// files of the demo, a benchmark run or a test.
#ifndef WHYCACHE_LIB_IO_TEMP_DIR_H_
#define WHYCACHE_LIB_IO_TEMP_DIR_H_

#include <string>

namespace whycache::io {

class TempDir {
 public:
  // Creates a unique directory named `prefix` followed by six random characters under `parent`.
  // Throws Error(kIOError) naming the directory and the reason if it cannot; the caller knows
  // what the user can do about it.
  TempDir(const std::string& parent, const std::string& prefix);
  // Removes the directory and its contents unless Keep() was called; errors are ignored.
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }
  // path() + "/" + name.
  std::string File(const std::string& name) const { return path_ + "/" + name; }

  // Leaves the directory in place when the object dies, for inspection.
  void Keep() { keep_ = true; }

 private:
  std::string path_;
  bool keep_ = false;
};

// $TMPDIR if it is set and not empty, else `fallback`.
std::string TmpDirOr(const std::string& fallback);

}  // namespace whycache::io

#endif  // WHYCACHE_LIB_IO_TEMP_DIR_H_
