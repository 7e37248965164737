// Writing command output to stdout so that output lost on the way (a full disk, a closed pipe)
// fails the command instead of leaving a script with half of it and exit status 0.
#ifndef WHYCACHE_CLI_OUTPUT_H_
#define WHYCACHE_CLI_OUTPUT_H_

#include <string_view>

namespace whycache::cli {

// Flushes std::cout and stdout; throws Error(kIOError) naming the system's reason if anything
// written to them was lost.
void FlushStdout();

// Writes `bytes` to stdout and flushes it; throws as FlushStdout does.
void WriteStdout(std::string_view bytes);

}  // namespace whycache::cli

#endif  // WHYCACHE_CLI_OUTPUT_H_
