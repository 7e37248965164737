// The table of `whycache` subcommands: their usage, help and implementation.
#ifndef WHYCACHE_CLI_COMMANDS_H_
#define WHYCACHE_CLI_COMMANDS_H_

#include <span>
#include <string_view>

#include "cli/invocation.h"

namespace whycache::cli {

struct Command {
  std::string_view name;
  std::string_view usage;    // Arguments after the name, e.g. "KEY [KEY ...]".
  std::string_view summary;  // One line for the command list.
  std::string_view details;  // Extra paragraphs for `whycache COMMAND --help`; may be empty.
  // Runs the command and returns its exit status; may throw whycache::Error.
  int (*run)(const Invocation&);
};

// Every command of the contract, in the order `--help` lists them.
std::span<const Command> AllCommands();

// The command called `name`, or null.
const Command* FindCommand(std::string_view name);

}  // namespace whycache::cli

#endif  // WHYCACHE_CLI_COMMANDS_H_
