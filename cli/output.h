// Writing command output to stdout so that output lost on the way (a full disk) fails the
// command instead of leaving a script with half of it and exit status 0, while a reader that
// stopped reading (`| head`) ends the command quietly.
#ifndef WHYCACHE_CLI_OUTPUT_H_
#define WHYCACHE_CLI_OUTPUT_H_

#include <string_view>

namespace whycache::cli {

// Thrown instead of an error when stdout is a pipe whose reader has gone: it took what it
// wanted, which is not a failure (main ends the command with status 0 and prints nothing).
// Deliberately not a std::exception, so that no handler of failures catches it.
struct StdoutClosed {};

// Flushes std::cout and stdout. Throws StdoutClosed if the reader of stdout has gone, else
// Error(kIOError) naming the system's reason if anything written to them was lost.
// REQUIRES: SIGPIPE ignored, so that a write into a closed pipe fails instead of killing us.
void FlushStdout();

// Writes `bytes` to stdout and flushes it; throws as FlushStdout does.
void WriteStdout(std::string_view bytes);

// True if stdout is a pipe that nobody reads any more: a command with nothing to write yet
// (`tail --follow`) uses it to stop instead of waiting for its next write to fail.
bool StdoutReaderGone();

}  // namespace whycache::cli

#endif  // WHYCACHE_CLI_OUTPUT_H_
