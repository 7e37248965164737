// `whycache demo`: the main job on the embedded default, end to end, with a report.
#ifndef WHYCACHE_CLI_DEMO_COMMAND_H_
#define WHYCACHE_CLI_DEMO_COMMAND_H_

#include "cli/invocation.h"

namespace whycache::cli {

// In a fresh temporary directory: a file log, two machines' state files, reader processes that
// call update() before each simulated request and read with zero copy, and a writer of a
// feature-flag and permission workload; then checks that both machines equal the log replayed.
// Prints what it measured; returns non-zero if a check fails.
int RunDemo(const Invocation& inv);

}  // namespace whycache::cli

#endif  // WHYCACHE_CLI_DEMO_COMMAND_H_
