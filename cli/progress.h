// Progress display for long commands (snapshot create/restore, compaction, update).
#ifndef WHYCACHE_CLI_PROGRESS_H_
#define WHYCACHE_CLI_PROGRESS_H_

#include <string>

#include "whycache/cache.h"

namespace whycache::cli {

// What the figures passed to a progress callback count.
enum class ProgressUnit { kBytes, kUpdates };

// A callback that draws a progress bar with `label` on stderr when stderr is a terminal, and
// null otherwise (so scripts' output stays clean). The line is ended at 100%.
ProgressCallback TerminalProgress(const std::string& label,
                                  ProgressUnit unit = ProgressUnit::kBytes);

}  // namespace whycache::cli

#endif  // WHYCACHE_CLI_PROGRESS_H_
