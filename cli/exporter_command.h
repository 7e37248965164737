// `whycache exporter`: serves /metrics, in the Prometheus text format, for state files of this
// machine until SIGINT or SIGTERM.
#ifndef WHYCACHE_CLI_EXPORTER_COMMAND_H_
#define WHYCACHE_CLI_EXPORTER_COMMAND_H_

#include "cli/invocation.h"

namespace whycache::cli {

int RunExporter(const Invocation& inv);

}  // namespace whycache::cli

#endif  // WHYCACHE_CLI_EXPORTER_COMMAND_H_
