// A number sent from one process to another through a pipe: how a test learns where a child
// process is (it has pinned a version, it may now check) without sleeping on it.
#ifndef WHYCACHE_TESTS_TREE_PIPE_SIGNAL_H_
#define WHYCACHE_TESTS_TREE_PIPE_SIGNAL_H_

#include <unistd.h>

#include <cstdint>
#include <stdexcept>

namespace whycache::tree {

class PipeSignal {
 public:
  PipeSignal() {
    if (pipe(fds_) != 0) throw std::runtime_error("pipe");
  }
  ~PipeSignal() {
    close(fds_[0]);
    close(fds_[1]);
  }
  PipeSignal(const PipeSignal&) = delete;
  PipeSignal& operator=(const PipeSignal&) = delete;

  bool Send(uint64_t v = 1) { return write(fds_[1], &v, sizeof(v)) == sizeof(v); }
  // Waits for a number; 0 when the pipe fails.
  uint64_t Receive() {
    uint64_t v = 0;
    return read(fds_[0], &v, sizeof(v)) == sizeof(v) ? v : 0;
  }

 private:
  int fds_[2];
};

}  // namespace whycache::tree

#endif  // WHYCACHE_TESTS_TREE_PIPE_SIGNAL_H_
