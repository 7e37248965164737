#include "cli/invocation.h"

#include <string_view>

#include "whycache/error.h"

namespace whycache::cli {
namespace {

Error UsageError(const std::string& message) {
  return Error(Error::Code::kInvalidArgument, message);
}

// Accepts both `--name VALUE` and `--name=VALUE`. Advances `i` past what it consumed.
std::optional<std::string> TakeOption(const std::vector<std::string>& argv, size_t& i,
                                      std::string_view name) {
  std::string_view arg = argv[i];
  if (arg == name) {
    if (i + 1 >= argv.size()) throw UsageError(std::string(name) + " needs a value");
    i += 2;
    return argv[i - 1];
  }
  if (arg.size() > name.size() && arg.substr(0, name.size()) == name && arg[name.size()] == '=') {
    i += 1;
    return std::string(arg.substr(name.size() + 1));
  }
  return std::nullopt;
}

}  // namespace

const std::string& Invocation::RequireStatePath() const {
  if (!state_path || state_path->empty()) {
    throw UsageError("no state file given: pass --state PATH or set WHYCACHE_STATE");
  }
  return *state_path;
}

const std::string& Invocation::RequireLogUri() const {
  if (!log_uri || log_uri->empty()) {
    throw UsageError(
        "no change log given: pass --log URI (file:DIR or mysql://USER@HOST:PORT/DATABASE) "
        "or set WHYCACHE_LOG");
  }
  return *log_uri;
}

Invocation ParseInvocation(const std::vector<std::string>& argv,
                           const char* (*getenv)(const char*)) {
  Invocation inv;
  if (const char* v = getenv("WHYCACHE_STATE")) inv.state_path = v;
  if (const char* v = getenv("WHYCACHE_LOG")) inv.log_uri = v;

  size_t i = 0;
  while (i < argv.size()) {
    const std::string& arg = argv[i];
    if (auto v = TakeOption(argv, i, "--state")) {
      inv.state_path = *v;
    } else if (auto v = TakeOption(argv, i, "--log")) {
      inv.log_uri = *v;
    } else if (arg == "--help" || arg == "-h") {
      inv.help = true;
      ++i;
    } else if (arg == "--version") {
      inv.version = true;
      ++i;
    } else if (!arg.empty() && arg[0] == '-') {
      throw UsageError("unknown option '" + arg + "' (see whycache --help)");
    } else {
      inv.command = arg;
      inv.args.assign(argv.begin() + static_cast<std::ptrdiff_t>(i) + 1, argv.end());
      break;
    }
  }
  return inv;
}

}  // namespace whycache::cli
