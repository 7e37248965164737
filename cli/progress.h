// Progress display for long commands (snapshot create/restore, compaction).
#ifndef WHYCACHE_CLI_PROGRESS_H_
#define WHYCACHE_CLI_PROGRESS_H_

#include <string>

#include "whycache/cache.h"

namespace whycache::cli {

// A callback that draws a progress bar with `label` on stderr when stderr is a terminal, and
// does nothing otherwise (so scripts' output stays clean). The line is ended at 100%.
ProgressCallback TerminalProgress(const std::string& label);

}  // namespace whycache::cli

#endif  // WHYCACHE_CLI_PROGRESS_H_
