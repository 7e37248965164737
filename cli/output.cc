#include "cli/output.h"

#include <poll.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <string>

#include "whycache/error.h"

namespace whycache::cli {
namespace {

[[noreturn]] void ThrowStdoutError(int err) {
  // errno may be stale when the failed write happened earlier (a full buffer flushed in the
  // middle of a command): the pipe's own state is asked too.
  if (err == EPIPE || StdoutReaderGone()) throw StdoutClosed();
  throw Error(Error::Code::kIOError, "cannot write to standard output: " +
                                         std::string(std::strerror(err != 0 ? err : EIO)));
}

}  // namespace

bool StdoutReaderGone() {
  // poll() always reports POLLERR, asked or not; a pipe reports it once its last reader closed.
  pollfd out = {.fd = STDOUT_FILENO, .events = 0, .revents = 0};
  return poll(&out, 1, 0) == 1 && (out.revents & POLLERR) != 0;
}

void FlushStdout() {
  // A write that failed earlier, when a full buffer was flushed, left its errno: the writes
  // after it fail the same way and nothing else runs between. Otherwise this flush sets it.
  if (std::ferror(stdout) || !std::cout) ThrowStdoutError(errno);
  errno = 0;
  std::cout.flush();
  int err = errno;
  if (std::fflush(stdout) != 0 && err == 0) err = errno;
  if (!std::cout || std::ferror(stdout)) ThrowStdoutError(err);
}

void WriteStdout(std::string_view bytes) {
  if (std::fwrite(bytes.data(), 1, bytes.size(), stdout) != bytes.size()) ThrowStdoutError(errno);
  FlushStdout();
}

}  // namespace whycache::cli
