// Parsing of the tool's global options: `whycache [--state PATH] [--log URI] COMMAND [ARGS...]`.
#ifndef WHYCACHE_CLI_INVOCATION_H_
#define WHYCACHE_CLI_INVOCATION_H_

#include <optional>
#include <string>
#include <vector>

namespace whycache::cli {

// What the command line asked for, with the environment's defaults filled in.
struct Invocation {
  std::optional<std::string> state_path;  // --state, else $WHYCACHE_STATE.
  std::optional<std::string> log_uri;     // --log, else $WHYCACHE_LOG.
  bool help = false;                      // --help or -h before any command.
  bool version = false;                   // --version before any command.
  std::string command;                    // Empty when only --help/--version was given.
  std::vector<std::string> args;          // Everything after the command, untouched.

  // The state path, or throws a usage Error that names --state and $WHYCACHE_STATE.
  const std::string& RequireStatePath() const;
  // The log URI, or throws a usage Error that names --log and $WHYCACHE_LOG.
  const std::string& RequireLogUri() const;
};

// Parses argv (without argv[0]). `getenv` supplies the defaults. Throws Error(kInvalidArgument)
// for an unknown global option or an option without its value.
Invocation ParseInvocation(const std::vector<std::string>& argv,
                           const char* (*getenv)(const char*));

}  // namespace whycache::cli

#endif  // WHYCACHE_CLI_INVOCATION_H_
