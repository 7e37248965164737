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
        "; free space on the file's filesystem (or raise the quota or the file size limit, "
        "`ulimit -f`), or point --state or the output file at another filesystem, then retry";
  }
  return message;
}

void FlushStdout() {
  std::cout.flush();
  errno = 0;
  const bool lost = std::fflush(stdout) != 0 || std::ferror(stdout) || !std::cout;
  if (lost) {
    const int err = errno != 0 ? errno : EIO;
    throw Error(Error::Code::kIOError,
                "cannot write to standard output: " + std::string(std::strerror(err)));
  }
}

}  // namespace whycache::cli
