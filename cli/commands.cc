#include "cli/commands.h"

#include <array>

#include "cli/bench_command.h"
#include "cli/cache_commands.h"
#include "cli/demo_command.h"
#include "cli/exporter_command.h"
#include "cli/log_commands.h"

namespace whycache::cli {
namespace {

// `details` ends with examples; lines stay under 80 columns for a terminal.
constexpr std::array kCommands = {
    Command{"init", "", "create the change log's storage (directory or tables); idempotent",
            "Creates the directory of a file: log, or the tables of schema/ in a mysql://\n"
            "database (which must exist, with a user allowed to create tables). Running it\n"
            "again on an initialized log changes nothing. Needs --log.\n"
            "\n"
            "examples:\n"
            "  whycache --log file:/var/lib/flags/log init\n"
            "  WHYCACHE_MYSQL_PASSWORD=... whycache --log mysql://app@db1:3306/flags init",
            RunInit},
    Command{"set", "[--token HEX] KEY VALUE [KEY VALUE ...] | [--token HEX] --stdin KEY",
            "append one atomic batch of sets; prints the update id",
            "All pairs become one batch with one update id: every machine applies all of\n"
            "them or none. With --stdin the value is stdin's exact bytes (NUL, newlines and\n"
            "all), for binary values or values too long for a command line. Keys up to\n"
            "4 KiB, values up to 64 MiB. Needs --log; the local state changes only once a\n"
            "machine applies the update (`whycache update --wait-for ID`).\n"
            "\n"
            "--token HEX (32 hex digits) names the batch for retries: after a failure that\n"
            "may or may not have appended it, run the same command with the same token; if\n"
            "the log holds it (within the token retention, an hour by default) the first id\n"
            "is printed and nothing is appended.\n"
            "\n"
            "examples:\n"
            "  whycache set flag:checkout:new-ui on flag:search:v2 off\n"
            "  whycache set --stdin model:weights < weights.bin",
            RunSet},
    Command{"del", "[--token HEX] KEY [KEY ...] | [--token HEX] --prefix PREFIX",
            "delete KEYs or all keys under --prefix in one batch; prints its id",
            "Deleting a key that does not exist is not an error: the delete is logged and\n"
            "applied like any other. Needs --log. --token HEX as for `set`.\n"
            "\n"
            "--prefix PREFIX appends one update that deletes every key starting with\n"
            "PREFIX's bytes, the key PREFIX itself included, however many there are; `tail`\n"
            "prints it as ID<TAB>del-prefix<TAB>PREFIX. PREFIX is taken byte for byte, as\n"
            "keys are, and must not be empty (exit 2, nothing appended); it is given once,\n"
            "without KEYs.\n"
            "\n"
            "examples:\n"
            "  whycache del perm:user:42:admin perm:user:42:billing\n"
            "  whycache del --prefix perm:user:42:",
            RunDel},
    Command{"update", "[--wait-for ID] [--timeout-ms MS]",
            "apply new updates to the local state now; prints the applied id",
            "Polls the log at once, ignoring the machine's poll interval, and applies what\n"
            "is new to the state file (--state), creating it if missing. With --wait-for,\n"
            "keeps applying until update ID is applied (read-your-writes for scripts); it\n"
            "fails with exit 6 if that has not happened within --timeout-ms (default\n"
            "10000). On a terminal, draws its progress on stderr. Needs --state and --log.\n"
            "\n"
            "examples:\n"
            "  whycache update\n"
            "  id=$(whycache set k v) && whycache update --wait-for \"$id\" --timeout-ms 2000",
            RunUpdate},
    Command{"get", "[--raw] [--no-update] KEY",
            "print a key's value from the local state (exit 1 if absent)",
            "Reads the state file (--state). With a log (--log), first applies what is new\n"
            "in it, so `set` then `get` finds the value; if the log cannot be reached, warns\n"
            "and reads the state as it is. --no-update reads it as it is without asking the\n"
            "log. Prints the value with bytes outside printable ASCII, tab, newline and\n"
            "backslash escaped as \\xNN, then a newline; --raw prints the exact bytes and\n"
            "nothing else. A missing key exits 1 with a message on stderr.\n"
            "\n"
            "examples:\n"
            "  whycache get flag:checkout:new-ui\n"
            "  whycache get --raw model:weights > weights.bin",
            RunGet},
    Command{"scan", "[PREFIX] [--limit N] [--keys-only] [--json] [--no-update]",
            "print the entries under a prefix in key order",
            "One line per entry, in byte order of the keys: KEY<TAB>VALUE, with bytes\n"
            "outside printable ASCII, tab, newline and backslash escaped as \\xNN. With\n"
            "--json, one object per line, {\"key\":...,\"value\":...}, where byte b reads back\n"
            "as code point b. --keys-only leaves the values out; --limit N stops after N\n"
            "entries. Reads the local state (--state), first updated from the log as `get`\n"
            "does; --no-update reads it as it is.\n"
            "\n"
            "examples:\n"
            "  whycache scan perm:user:42:\n"
            "  whycache scan flag: --keys-only --limit 20\n"
            "  whycache scan --json | jq -r .key",
            RunScan},
    Command{"stats", "[--json | --prometheus]", "print figures about the local state and the log",
            "Keys, applied id and the log head at the last poll (ids_behind, lag_us), bytes\n"
            "used and file size, the oldest pinned version and its age (a long read keeps\n"
            "space from being reused), reader slots, the machine's poll and apply counters,\n"
            "resyncs and the last poll error. --json gives one object for monitoring;\n"
            "--prometheus the Prometheus text format (whycache_* metrics labelled with\n"
            "state=PATH), e.g. for node_exporter's textfile collector. Reads the state as\n"
            "the machine's processes keep it, without polling the log. With a MySQL log,\n"
            "also asks it where this machine reads from now: read_server, its role\n"
            "(replica or primary), read_server_updates_behind (its lag behind the\n"
            "primary in update ids) and the last failover. For each key prefix whose\n"
            "reads the machine's processes count (CacheOptions::stat_prefixes, Python's\n"
            "stat_prefixes=), the hits and misses of the whole machine (\"prefixes\" in\n"
            "--json, whycache_prefix_reads_total in --prometheus).\n"
            "\n"
            "examples:\n"
            "  whycache stats\n"
            "  whycache stats --json | jq .lag_us\n"
            "  whycache stats --json | jq .read_server_updates_behind\n"
            "  whycache stats --prometheus > /var/lib/node_exporter/whycache.prom.tmp",
            RunStats},
    Command{"exporter", "--listen ADDRESS:PORT [--state PATH ...]",
            "serve /metrics for Prometheus until SIGINT or SIGTERM",
            "Serves the figures of `stats --prometheus` over HTTP at /metrics for each\n"
            "state file given with --state (repeat it for several; default: the global\n"
            "--state or $WHYCACHE_STATE), read at each scrape; each metric has one sample per\n"
            "state file, labelled state=PATH. whycache_state_readable is 0 for a state file\n"
            "that could not be read at that scrape. A state file replaced meanwhile\n"
            "(rebuilt, or deleted and made anew) is followed. The exporter only reads: it\n"
            "needs no --log and never polls. Prints the URL it serves once it listens.\n"
            "Stops cleanly, with exit 0, on SIGINT or SIGTERM. A state file that does not\n"
            "exist or a bad --listen exits 2, a port in use or an address not of this\n"
            "machine 6.\n"
            "\n"
            "  --listen ADDRESS:PORT  a numeric IPv4 address and a port, e.g.\n"
            "                         127.0.0.1:9851 or 0.0.0.0:9851; port 0 takes a free one\n"
            "\n"
            "examples:\n"
            "  whycache exporter --listen 127.0.0.1:9851 --state /dev/shm/flags.state\n"
            "  whycache exporter --listen 0.0.0.0:9851 --state /dev/shm/flags.state \\\n"
            "    --state /dev/shm/perms.state",
            RunExporter},
    Command{"compact", "[--before ID] [--tombstone-retention-s N] [--json]",
            "rewrite the log's history before ID",
            "Keeps only the newest entry of each key among the updates below ID (default:\n"
            "all of them), with its original id. Deletes are kept as tombstones for\n"
            "--tombstone-retention-s seconds (default 7 days), then dropped, which raises\n"
            "the log's horizon: machines below it resync by themselves. Writers and\n"
            "machines carry on meanwhile; a second compaction waits for the first. Prints\n"
            "the mutations removed and kept and the bytes before and after; --json gives\n"
            "removed, kept, bytes_before, bytes_after and horizon. Needs --log.\n"
            "\n"
            "examples:\n"
            "  whycache compact --json\n"
            "  whycache compact --before 120000",
            RunCompact},
    Command{"snapshot", "create|restore|info FILE [--force]",
            "write, restore or verify a snapshot of the local state",
            "create FILE   writes the local state (--state) to FILE, a compressed,\n"
            "              checksummed file; FILE only ever holds a complete snapshot.\n"
            "restore FILE  replaces the local state with FILE, then `update` catches up\n"
            "              from the log (needs --log). A snapshot older than the state is\n"
            "              first brought up to the state's id from the log, so readers\n"
            "              never go back. Refuses a damaged snapshot, one of another\n"
            "              dataset, one older than the log's horizon, or one the log\n"
            "              cannot bring up to the state's id (exit 5), leaving the\n"
            "              state as it was; --force restores the last anyway.\n"
            "info FILE     reads and verifies FILE: update id, keys, format version.\n"
            "\n"
            "examples:\n"
            "  whycache snapshot create /backups/flags.snap\n"
            "  whycache --state /dev/shm/flags.state snapshot restore /backups/flags.snap",
            RunSnapshot},
    Command{"check", "[--against-log]", "verify the local state (exit 3 if it is damaged)",
            "Walks the state file (--state) and checks its structure and checksums; prints\n"
            "`ok`, or what is wrong and exits 3. A damaged file is reported and left as it\n"
            "is; the next `update` moves it aside and rebuilds it. With --against-log, also\n"
            "compares it with the log (--log) replayed from its start, after bringing it up\n"
            "to the log's head in memory (the file is left as it is): a machine that is only\n"
            "behind passes. One below the log's horizon cannot be checked: exit 6, run\n"
            "`update` (it resyncs) and check again. On a terminal, --against-log draws its\n"
            "progress on stderr.\n"
            "\n"
            "examples:\n"
            "  whycache check\n"
            "  whycache check --against-log",
            RunCheck},
    Command{"tail", "[--from ID] [--follow]", "print the log's updates in id order",
            "One line per mutation: ID<TAB>set<TAB>KEY<TAB>VALUE, ID<TAB>del<TAB>KEY or,\n"
            "for a prefix delete (`del --prefix`), ID<TAB>del-prefix<TAB>PREFIX, escaped as\n"
            "in scan, for the updates after ID (default: the whole retained log). With\n"
            "--follow, keeps printing new updates until SIGINT or SIGTERM, then exits 0.\n"
            "Needs --log only.\n"
            "\n"
            "examples:\n"
            "  whycache tail --from 1200\n"
            "  whycache tail --follow | grep flag:",
            RunTail},
    Command{"demo", "[--keep] [--seconds N] [--readers N]",
            "run the main job on a temporary file log and report",
            "In a new temporary directory (under $TMPDIR, else /tmp): a file log, machines\n"
            "A and B, --readers reader processes per machine (default 2, at most 16) that\n"
            "call update() before each request of zero-copy reads, and a writer of flags\n"
            "and permissions for --seconds (default 3, at most 60); a compaction while they\n"
            "run; checks that every machine equals the log replayed; and a machine C\n"
            "bootstrapped from a snapshot. Prints what it measured and exits 3 if a check\n"
            "fails. The directory is removed unless --keep. --state and --log are ignored.\n"
            "\n"
            "examples:\n"
            "  whycache demo\n"
            "  whycache demo --seconds 10 --readers 4 --keep",
            RunDemo},
    Command{"bench", "[--quick | --smoke] [--json] [--dir DIR] [--plot DIR]",
            "run the built-in benchmark suite and print a table of its figures",
            "Measures, in one run and with peers side by side: random point gets on the\n"
            "tree against std::unordered_map and LMDB (1M keys x 100 B and 10M x 16 B;\n"
            "--quick 200k and 300k), each with one read transaction per get and one per 10\n"
            "gets, LMDB's per get both begun and aborted and reset and renewed; gets through\n"
            "the Cache against the raw tree, Update() with and without a poll due, apply\n"
            "throughput and replication lag on a file log, snapshots, compaction, and the\n"
            "file log's appends (with fsync, on a disk: --dir, $TMPDIR, /var/tmp or the\n"
            "working directory, whichever is first not on tmpfs) and tail reads. Values\n"
            "written are random bytes. Each figure is the median of several repetitions\n"
            "(5; --quick 3); ns are CPU time of the measuring thread, throughputs wall\n"
            "clock. The full run takes about 3 minutes on two idle cores.\n"
            "\n"
            "The report names the build mode and the machine. Figures of a build without\n"
            "optimisation describe that build, not whycache: such a build still runs (so\n"
            "that its tests can), but prints a WARNING first, on stderr and as the table's\n"
            "first line, and records \"optimized\":false in the JSON. Measure with\n"
            "`bazel build --config=opt //cli:whycache`.\n"
            "\n"
            "  --quick     smaller data sets and fewer repetitions\n"
            "  --smoke     tiny data sets, a few seconds: shows that every measurement runs\n"
            "  --json      one JSON object instead of the table\n"
            "  --dir DIR   where the temporary directory goes (default $TMPDIR, else\n"
            "              /dev/shm)\n"
            "  --plot DIR  also write PNG plots into DIR with gnuplot (Debian: gnuplot-nox):\n"
            "              bench-read-latency.png (p50 to p99.9 of single gets on whycache\n"
            "              and its peers), bench-replication-lag.png (the lag's\n"
            "              distribution), bench-throughput.png (apply and snapshots)\n"
            "\n"
            "With a mysql:// log (--log or $WHYCACHE_LOG) it also measures Update(), apply\n"
            "and replication lag on MySQL, on tables of its own that it drops afterwards.\n"
            "README.md's tables come from `docs/bench.sh`, which runs `bench --json`.\n"
            "\n"
            "examples:\n"
            "  whycache bench --quick\n"
            "  WHYCACHE_MYSQL_PASSWORD=... whycache --log mysql://app@db1:3306/test \\\n"
            "    bench --json",
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
