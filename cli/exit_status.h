// Exit statuses of the `whycache` tool, as promised to scripts by the command-line contract.
#ifndef WHYCACHE_CLI_EXIT_STATUS_H_
#define WHYCACHE_CLI_EXIT_STATUS_H_

#include "whycache/error.h"

namespace whycache::cli {

enum ExitStatus : int {
  kExitOk = 0,
  kExitNotFound = 1,
  kExitUsage = 2,
  kExitCheckFailed = 3,
  kExitLogUnreachable = 4,
  kExitCorruptInput = 5,
  kExitOtherFailure = 6,
};

// The exit status for a library error of the given code.
ExitStatus ExitStatusFor(Error::Code code);

}  // namespace whycache::cli

#endif  // WHYCACHE_CLI_EXIT_STATUS_H_
