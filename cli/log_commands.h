// The commands that only talk to the change log: init, set, del and tail.
#ifndef WHYCACHE_CLI_LOG_COMMANDS_H_
#define WHYCACHE_CLI_LOG_COMMANDS_H_

#include "cli/invocation.h"

namespace whycache::cli {

// Each returns the exit status; a usage error or a library failure throws whycache::Error
// (mapped to the exit status by cli/exit_status.h). All need the log URI (--log / $WHYCACHE_LOG).

// `init`: creates the log's storage if missing (idempotent) and prints a one-line summary.
int RunInit(const Invocation& inv);
// `set KEY VALUE [KEY VALUE ...]` and `set --stdin KEY`: appends one batch, prints its id.
int RunSet(const Invocation& inv);
// `del KEY [KEY ...]`: appends one batch of deletes, prints its id. `del --prefix PREFIX`:
// appends one update deleting every key that starts with PREFIX (not empty), prints its id.
int RunDel(const Invocation& inv);
// `tail [--from ID] [--follow]`: prints the updates after ID (default 0), one line per mutation;
// with --follow keeps polling until SIGINT or SIGTERM, then exits 0.
int RunTail(const Invocation& inv);
int RunCompact(const Invocation& inv);

}  // namespace whycache::cli

#endif  // WHYCACHE_CLI_LOG_COMMANDS_H_
