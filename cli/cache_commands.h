// Commands on the machine's local state: get, scan, update, stats, check and snapshot.
#ifndef WHYCACHE_CLI_CACHE_COMMANDS_H_
#define WHYCACHE_CLI_CACHE_COMMANDS_H_

#include "cli/invocation.h"

namespace whycache::cli {

int RunGet(const Invocation& inv);
int RunScan(const Invocation& inv);
int RunUpdate(const Invocation& inv);
int RunStats(const Invocation& inv);
int RunCheck(const Invocation& inv);
int RunSnapshot(const Invocation& inv);

}  // namespace whycache::cli

#endif  // WHYCACHE_CLI_CACHE_COMMANDS_H_
