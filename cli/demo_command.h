// `whycache demo`: the main job on the embedded default, end to end, with a report.
#ifndef WHYCACHE_CLI_DEMO_COMMAND_H_
#define WHYCACHE_CLI_DEMO_COMMAND_H_

#include "cli/invocation.h"

namespace whycache::cli {

// In a fresh temporary directory: a file log, two machines' state files, reader processes that
// call update() before each simulated request and read with zero copy, a writer of a
// feature-flag and permission workload, and a compaction while they run; then checks that both
// machines equal the log replayed, and bootstraps a third machine from a snapshot. Prints what
// it measured; returns kExitCheckFailed if a check fails. Removes the directory unless --keep.
int RunDemo(const Invocation& inv);

}  // namespace whycache::cli

#endif  // WHYCACHE_CLI_DEMO_COMMAND_H_
