#include "cli/exit_status.h"

namespace whycache::cli {

ExitStatus ExitStatusFor(Error::Code code) {
  switch (code) {
    case Error::Code::kInvalidArgument:
      return kExitUsage;
    case Error::Code::kCorruption:
    case Error::Code::kIncompatible:
      return kExitCorruptInput;
    case Error::Code::kUnavailable:
      return kExitLogUnreachable;
    case Error::Code::kIOError:
    case Error::Code::kBusy:
    case Error::Code::kTimedOut:
      return kExitOtherFailure;
  }
  return kExitOtherFailure;
}

}  // namespace whycache::cli
