#include "tests/support/pipe_signal.h"

#include <poll.h>
#include <unistd.h>

#include <cerrno>

namespace whycache::testing {

bool WriteByte(int fd) {
  const char byte = 'r';
  ssize_t n;
  do {
    n = ::write(fd, &byte, 1);
  } while (n < 0 && errno == EINTR);
  return n == 1;
}

bool ReadByte(int fd, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() < 0) return false;
    pollfd p{.fd = fd, .events = POLLIN, .revents = 0};
    const int ready = ::poll(&p, 1, static_cast<int>(left.count()));
    if (ready < 0 && errno == EINTR) continue;
    if (ready != 1) return false;
    char byte;
    ssize_t n;
    do {
      n = ::read(fd, &byte, 1);
    } while (n < 0 && errno == EINTR);
    return n == 1;
  }
}

}  // namespace whycache::testing
