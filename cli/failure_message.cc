#include "cli/failure_message.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <string_view>

namespace whycache::cli {
namespace {

// Library errors end with strerror(errno) of the failed call.
bool EndsWithReason(std::string_view message, int err) {
  const std::string_view reason = std::strerror(err);
  return message.size() >= reason.size() &&
         message.substr(message.size() - reason.size()) == reason;
}

bool IsOutOfSpace(const Error& error) {
  if (error.code() != Error::Code::kIOError) return false;
  for (int err : {ENOSPC, EDQUOT, EFBIG}) {
    if (EndsWithReason(error.what(), err)) return true;
  }
  return false;
}

}  // namespace

std::string FailureMessage(const Error& error) {
  std::string message = std::string("whycache: ") + error.what();
  if (IsOutOfSpace(error)) {
    message +=
        "; free space on the filesystem that holds it (or raise the quota, or the file size "
        "limit of `ulimit -f`), then retry";
  }
  return message;
}

namespace {

[[noreturn]] void ThrowStdoutError(int err) {
  throw Error(Error::Code::kIOError, "cannot write to standard output: " +
                                         std::string(std::strerror(err != 0 ? err : EIO)));
}

}  // namespace

void WriteStdout(std::string_view bytes) {
  if (std::fwrite(bytes.data(), 1, bytes.size(), stdout) != bytes.size()) ThrowStdoutError(errno);
  FlushStdout();
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

}  // namespace whycache::cli
