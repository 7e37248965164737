#include "cli/log_commands.h"

#include <signal.h>

#include <charconv>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <iterator>
#include <thread>
#include <vector>

#include "cli/escape.h"
#include "cli/exit_status.h"
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

std::unique_ptr<ChangeLog> OpenLog(const Invocation& inv) {
  return OpenChangeLog(inv.RequireLogUri());
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

uint64_t ParseId(const std::string& text) {
  uint64_t id = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), id);
  if (ec != std::errc() || end != text.data() + text.size() || text.empty()) {
    throw UsageError("--from needs a decimal update id, not '" + text + "'");
  }
  return id;
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
      if (m.op == Mutation::Op::kSet) {
        out += "\tset\t";
        AppendEscaped(m.key, &out);
        out += '\t';
        AppendEscaped(m.value, &out);
      } else {
        out += "\tdel\t";
        AppendEscaped(m.key, &out);
      }
      out += '\n';
    }
  }
  if (std::fwrite(out.data(), 1, out.size(), stdout) != out.size() || std::fflush(stdout) != 0) {
    throw Error(Error::Code::kIOError, "cannot write to stdout");
  }
}

}  // namespace

int RunInit(const Invocation& inv) {
  if (!inv.args.empty()) throw UsageError("init takes no arguments (see whycache init --help)");
  LogOptions options;
  options.create_if_missing = true;
  auto log = OpenChangeLog(inv.RequireLogUri(), options);
  std::cout << "initialized " << log->Describe() << " (head id " << log->HeadId() << ")\n";
  return kExitOk;
}

int RunSet(const Invocation& inv) {
  const std::vector<std::string>& args = inv.args;
  std::vector<Mutation> batch;
  if (!args.empty() && args[0] == "--stdin") {
    if (args.size() != 2) throw UsageError("set --stdin takes exactly one KEY; the value is stdin");
    batch.push_back(Mutation::Set(args[1], ReadStdin()));
  } else {
    if (args.empty() || args.size() % 2 != 0) {
      throw UsageError("set needs KEY VALUE pairs (or --stdin KEY to read the value from stdin)");
    }
    for (size_t i = 0; i < args.size(); i += 2)
      batch.push_back(Mutation::Set(args[i], args[i + 1]));
  }
  return PrintId(OpenLog(inv)->Append(batch));
}

int RunDel(const Invocation& inv) {
  if (inv.args.empty()) throw UsageError("del needs at least one KEY");
  std::vector<Mutation> batch;
  for (const std::string& key : inv.args) batch.push_back(Mutation::Delete(key));
  return PrintId(OpenLog(inv)->Append(batch));
}

int RunTail(const Invocation& inv) {
  uint64_t after = 0;
  bool follow = false;
  for (size_t i = 0; i < inv.args.size(); ++i) {
    const std::string& arg = inv.args[i];
    if (arg == "--follow") {
      follow = true;
    } else if (arg == "--from") {
      if (i + 1 >= inv.args.size()) throw UsageError("--from needs an update id");
      after = ParseId(inv.args[++i]);
    } else if (arg.starts_with("--from=")) {
      after = ParseId(arg.substr(7));
    } else {
      throw UsageError("tail: unexpected argument '" + arg +
                       "' (usage: tail [--from ID] [--follow])");
    }
  }
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
    if (!follow) break;
    std::this_thread::sleep_for(kFollowPollInterval);
  }
  return kExitOk;
}

}  // namespace whycache::cli
