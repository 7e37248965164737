#include "cli/failure_message.h"

#include <cerrno>
#include <cstring>
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

}  // namespace whycache::cli
