#include "cli/command_args.h"

#include <algorithm>
#include <charconv>

#include "whycache/error.h"

namespace whycache::cli {
namespace {

Error Usage(std::string_view command, const std::string& message) {
  return Error(Error::Code::kInvalidArgument, std::string(command) + ": " + message +
                                                  " (see whycache " + std::string(command) +
                                                  " --help)");
}

bool Contains(std::initializer_list<std::string_view> names, std::string_view name) {
  return std::find(names.begin(), names.end(), name) != names.end();
}

}  // namespace

CommandArgs::CommandArgs(std::string_view command, const std::vector<std::string>& args,
                         std::initializer_list<std::string_view> flags,
                         std::initializer_list<std::string_view> options)
    : command_(command) {
  bool options_ended = false;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (options_ended || arg.size() < 2 || arg.compare(0, 2, "--") != 0) {
      positional_.push_back(arg);
      continue;
    }
    if (arg == "--") {
      options_ended = true;
      continue;
    }
    const size_t eq = arg.find('=');
    const std::string name = arg.substr(0, eq);
    if (Contains(flags, name) && eq == std::string::npos) {
      flags_.insert(name);
    } else if (Contains(options, name)) {
      if (eq != std::string::npos) {
        options_[name].push_back(arg.substr(eq + 1));
      } else if (i + 1 < args.size()) {
        options_[name].push_back(args[++i]);
      } else {
        throw Usage(command_, name + " needs a value");
      }
    } else {
      throw Usage(command_, "unknown option '" + arg + "'");
    }
  }
}

std::optional<std::string> CommandArgs::Option(std::string_view name) const {
  auto it = options_.find(std::string(name));
  if (it == options_.end()) return std::nullopt;
  return it->second.back();
}

std::vector<std::string> CommandArgs::OptionValues(std::string_view name) const {
  auto it = options_.find(std::string(name));
  return it == options_.end() ? std::vector<std::string>() : it->second;
}

uint64_t CommandArgs::Number(std::string_view name, uint64_t fallback) const {
  std::optional<std::string> text = Option(name);
  if (!text) return fallback;
  uint64_t value = 0;
  const char* end = text->data() + text->size();
  auto [ptr, ec] = std::from_chars(text->data(), end, value);
  if (text->empty() || ec != std::errc() || ptr != end) {
    throw Usage(command_, std::string(name) + " wants a decimal number, not '" + *text + "'");
  }
  return value;
}

void CommandArgs::ExpectPositional(size_t min, size_t max, std::string_view what) const {
  if (positional_.size() < min || positional_.size() > max) {
    throw Usage(command_, "expected " + std::string(what));
  }
}

}  // namespace whycache::cli
