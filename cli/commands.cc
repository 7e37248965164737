#include "cli/commands.h"

#include <array>

#include "cli/bench_command.h"
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
    Command{"bench", "[--quick | --smoke] [--json] [--dir DIR]",
            "run the built-in benchmark suite and print a table of its figures",
            "Measures, in one run and with peers side by side: point gets on the tree against\n"
            "std::unordered_map and LMDB (1M keys x 100 B and 10M x 16 B; --quick 200k and 300k),\n"
            "gets through the Cache against the raw tree, Update() with and without a poll due,\n"
            "apply throughput and replication lag on a file log, snapshots, compaction, and the\n"
            "file log's appends and tail reads. Each figure is the median of several repetitions\n"
            "(5; --quick 3); ns are CPU time of the measuring thread, throughputs wall clock.\n"
            "\n"
            "  --quick     smaller data sets and fewer repetitions: under a minute on two cores\n"
            "  --smoke     tiny data sets, a few seconds: shows that every measurement runs\n"
            "  --json      one JSON object instead of the table\n"
            "  --dir DIR   where the temporary directory goes (default $TMPDIR, else /dev/shm)\n"
            "\n"
            "With a mysql:// log (--log or $WHYCACHE_LOG) it also measures Update(), apply and\n"
            "replication lag on MySQL, on tables of its own that it drops afterwards.\n"
            "\n"
            "example: whycache bench --quick\n"
            "         WHYCACHE_MYSQL_PASSWORD=... whycache --log mysql://app@db1:3306/test bench "
            "--json",
            RunBench},
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
