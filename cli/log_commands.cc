#include "cli/log_commands.h"

#include <signal.h>

#include <chrono>
#include <cstdio>
#include <iostream>
#include <iterator>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "cli/command_args.h"
#include "cli/exit_status.h"
#include "cli/output.h"
#include "cli/progress.h"
#include "lib/format/escape.h"
#include "whycache/change_log.h"
#include "whycache/error.h"
#include "whycache/limits.h"

namespace whycache::cli {
namespace {

// How often `tail --follow` asks the log for new updates.
constexpr auto kFollowPollInterval = std::chrono::milliseconds(50);
constexpr size_t kTailPage = 1000;

Error UsageError(const std::string& message) {
  return Error(Error::Code::kInvalidArgument, message);
}

// A command waits a few seconds for a database that is restarting, then says it is down.
constexpr auto kReconnectBudget = std::chrono::seconds(5);

std::unique_ptr<ChangeLog> OpenLog(const Invocation& inv, bool create = false) {
  LogOptions options;
  options.create_if_missing = create;
  options.reconnect_budget = kReconnectBudget;
  return OpenChangeLog(inv.RequireLogUri(), options);
}

int PrintId(uint64_t id) {
  std::cout << id << "\n" << std::flush;
  return kExitOk;
}

std::string ReadStdin() {
  std::string value;
  char buf[1 << 16];
  size_t n = 0;
  while ((n = std::fread(buf, 1, sizeof(buf), stdin)) > 0) {
    value.append(buf, n);
    if (value.size() > kMaxValueBytes) {
      throw UsageError("the value on stdin exceeds the limit of " + std::to_string(kMaxValueBytes) +
                       " bytes");
    }
  }
  if (std::ferror(stdin)) throw Error(Error::Code::kIOError, "cannot read the value from stdin");
  return value;
}

volatile sig_atomic_t stop_requested = 0;

void RequestStop(int) { stop_requested = 1; }

// Writes the lines of `updates` to stdout.
void PrintUpdates(const std::vector<Update>& updates) {
  std::string out;
  for (const Update& u : updates) {
    const std::string id = std::to_string(u.id);
    for (const Mutation& m : u.mutations) {
      out += id;
      switch (m.op) {
        case Mutation::Op::kSet:
          out += "\tset\t" + format::EscapeBytes(m.key) + "\t" + format::EscapeBytes(m.value);
          break;
        case Mutation::Op::kDelete:
          out += "\tdel\t" + format::EscapeBytes(m.key);
          break;
        case Mutation::Op::kErasePrefix:
          out += "\tdel-prefix\t" + format::EscapeBytes(m.key);
          break;
      }
      out += '\n';
    }
  }
  // Flushed per page: a follower's reader sees each update as it comes.
  WriteStdout(out);
}

// The token of `--token HEX`: 32 hex digits, either case.
AppendToken ParseToken(const std::string& hex) {
  auto digit = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  std::string bytes;
  for (size_t i = 0; hex.size() == 2 * AppendToken::kBytes && i < hex.size(); i += 2) {
    if (digit(hex[i]) < 0 || digit(hex[i + 1]) < 0) break;
    bytes.push_back(static_cast<char>(digit(hex[i]) * 16 + digit(hex[i + 1])));
  }
  if (bytes.size() != AppendToken::kBytes) {
    throw UsageError(
        "--token needs 32 hex digits (16 bytes, e.g. from `openssl rand -hex 16`), "
        "not '" +
        hex + "'");
  }
  return AppendToken::FromBytes(bytes);
}

// Appends `batch`; with --token, a retry of an append whose outcome was unknown prints the first
// id instead of appending again.
uint64_t AppendBatch(const Invocation& inv, const CommandArgs& args,
                     std::span<const Mutation> batch) {
  std::unique_ptr<ChangeLog> log = OpenLog(inv);
  const std::optional<std::string> token = args.Option("--token");
  return token ? log->Append(batch, ParseToken(*token)) : log->Append(batch);
}

}  // namespace

int RunInit(const Invocation& inv) {
  CommandArgs("init", inv.args, {}, {}).ExpectPositional(0, 0, "no arguments");
  auto log = OpenLog(inv, /*create=*/true);
  std::cout << "initialized " << log->Describe() << " (head id " << log->HeadId() << ")\n";
  return kExitOk;
}

int RunSet(const Invocation& inv) {
  CommandArgs args("set", inv.args, {"--stdin"}, {"--token"});
  const std::vector<std::string>& words = args.positional();
  std::vector<Mutation> batch;
  if (args.Has("--stdin")) {
    args.ExpectPositional(1, 1, "exactly one KEY with --stdin; the value is read from stdin");
    batch.push_back(Mutation::Set(words[0], ReadStdin()));
  } else {
    if (words.empty() || words.size() % 2 != 0) {
      throw UsageError("set needs KEY VALUE pairs (or --stdin KEY to read the value from stdin)");
    }
    for (size_t i = 0; i < words.size(); i += 2) {
      batch.push_back(Mutation::Set(words[i], words[i + 1]));
    }
  }
  return PrintId(AppendBatch(inv, args, batch));
}

int RunDel(const Invocation& inv) {
  CommandArgs args("del", inv.args, {}, {"--token", "--prefix"});
  const std::vector<std::string> prefixes = args.OptionValues("--prefix");
  std::vector<Mutation> batch;
  if (prefixes.empty()) {
    args.ExpectPositional(1, SIZE_MAX, "at least one KEY, or --prefix PREFIX");
    for (const std::string& key : args.positional()) batch.push_back(Mutation::Delete(key));
    return PrintId(AppendBatch(inv, args, batch));
  }
  // The log refuses an empty prefix too, but only once it is reached, and without naming the
  // flag: a script that passes an unset variable learns of its mistake without a log.
  if (!args.positional().empty()) {
    throw UsageError("del: give KEYs or --prefix PREFIX, not both (see whycache del --help)");
  }
  if (prefixes.size() > 1) {
    throw UsageError("del: --prefix takes one PREFIX per update (see whycache del --help)");
  }
  if (prefixes[0].empty()) {
    throw UsageError(
        "del: --prefix needs a non-empty PREFIX: an empty one would delete every key (see "
        "whycache del --help)");
  }
  batch.push_back(Mutation::ErasePrefix(prefixes[0]));
  return PrintId(AppendBatch(inv, args, batch));
}

int RunTail(const Invocation& inv) {
  CommandArgs args("tail", inv.args, {"--follow"}, {"--from"});
  args.ExpectPositional(0, 0, "no arguments besides --from ID and --follow");
  uint64_t after = args.Number("--from", 0);
  const bool follow = args.Has("--follow");
  auto log = OpenLog(inv);
  if (follow) {
    struct sigaction action = {};
    action.sa_handler = RequestStop;
    sigemptyset(&action.sa_mask);
    sigaction(SIGINT, &action, nullptr);
    sigaction(SIGTERM, &action, nullptr);
  }
  // Without --follow the loop ends at the head; with it, when a signal arrives.
  while (stop_requested == 0) {
    const std::vector<Update> page = log->ReadAfter(after, kTailPage);
    if (!page.empty()) {
      PrintUpdates(page);
      after = page.back().id;
      continue;
    }
    if (!follow || StdoutReaderGone()) break;
    std::this_thread::sleep_for(kFollowPollInterval);
  }
  return kExitOk;
}

int RunCompact(const Invocation& inv) {
  CommandArgs args("compact", inv.args, {"--json"}, {"--before", "--tombstone-retention-s"});
  args.ExpectPositional(0, 0,
                        "no arguments besides --before ID, --tombstone-retention-s N, --json");
  CompactionOptions options;
  options.before_id = args.Number("--before", 0);
  options.tombstone_retention = std::chrono::seconds(
      args.Number("--tombstone-retention-s", options.tombstone_retention.count()));
  options.progress = TerminalProgress("compact");
  auto log = OpenLog(inv);
  const CompactionResult r = log->Compact(options);
  if (args.Has("--json")) {
    std::cout << "{\"removed\":" << r.removed << ",\"kept\":" << r.kept
              << ",\"bytes_before\":" << r.bytes_before << ",\"bytes_after\":" << r.bytes_after
              << ",\"horizon\":" << r.horizon << "}\n";
  } else {
    std::cout << "compacted " << log->Describe() << ": removed " << r.removed << " mutations, kept "
              << r.kept << "; " << r.bytes_before << " -> " << r.bytes_after << " bytes; horizon "
              << r.horizon << "\n";
  }
  return kExitOk;
}

}  // namespace whycache::cli
