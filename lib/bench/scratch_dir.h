// A fresh directory for the files of one benchmark run, removed with everything in it when the
// object dies.
#ifndef WHYCACHE_LIB_BENCH_SCRATCH_DIR_H_
#define WHYCACHE_LIB_BENCH_SCRATCH_DIR_H_

#include <string>

namespace whycache::bench {

class ScratchDir {
 public:
  // Creates a unique directory "whycache-bench-XXXXXX" under `parent`, or when `parent` is
  // empty under $TMPDIR, else /dev/shm (state files belong on a tmpfs). Throws Error(kIOError)
  // naming the directory if it cannot.
  explicit ScratchDir(const std::string& parent = "");
  ~ScratchDir();
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;

  const std::string& path() const { return path_; }
  // path() + "/" + name.
  std::string File(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

}  // namespace whycache::bench

#endif  // WHYCACHE_LIB_BENCH_SCRATCH_DIR_H_
