#include "cli/commands.h"

#include <array>

#include "cli/cache_commands.h"
#include "cli/demo_command.h"
#include "cli/log_commands.h"

namespace whycache::cli {
namespace {

constexpr std::array kCommands = {
    Command{"init", "", "create the change log's storage (directory or tables); idempotent", "",
            RunInit},
    Command{"set", "KEY VALUE [KEY VALUE ...] | --stdin KEY",
            "append one atomic batch of sets; prints the update id", "", RunSet},
    Command{"del", "KEY [KEY ...]", "append one atomic batch of deletes; prints the update id", "",
            RunDel},
    Command{"update", "[--wait-for ID] [--timeout-ms MS]",
            "apply new updates to the local state now", "", RunUpdate},
    Command{"get", "[--raw] KEY", "print a key's value from the local state (exit 1 if absent)", "",
            RunGet},
    Command{"scan", "[PREFIX] [--limit N] [--keys-only] [--json]",
            "print the entries under a prefix in key order", "", RunScan},
    Command{"stats", "[--json]", "print figures about the local state and the log", "", RunStats},
    Command{"compact", "[--before ID] [--tombstone-retention-s N] [--json]",
            "rewrite the log's history before ID", "", RunCompact},
    Command{"snapshot", "create|restore|info FILE",
            "write, restore or verify a snapshot of the local state", "", RunSnapshot},
    Command{"check", "[--against-log]", "verify the local state (exit 3 if it is damaged)", "",
            RunCheck},
    Command{"tail", "[--from ID] [--follow]", "print the log's updates in id order", "", RunTail},
    Command{"demo", "[--keep] [--seconds N] [--readers N]",
            "run the main job on a temporary file log and report", "", RunDemo},
    Command{"bench", "[--quick] [--json]", "run the built-in benchmark suite", "", nullptr},
};

}  // namespace

std::span<const Command> AllCommands() { return kCommands; }

const Command* FindCommand(std::string_view name) {
  for (const Command& c : kCommands) {
    if (c.name == name) return &c;
  }
  return nullptr;
}

}  // namespace whycache::cli
