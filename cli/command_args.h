// Parsing of one command's own arguments: positional words, boolean flags and options with a
// value (`--name VALUE` or `--name=VALUE`). `--` ends the options.
#ifndef WHYCACHE_CLI_COMMAND_ARGS_H_
#define WHYCACHE_CLI_COMMAND_ARGS_H_

#include <cstdint>
#include <initializer_list>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace whycache::cli {

class CommandArgs {
 public:
  // Parses `args` for `command`, accepting only the given flags and options. Throws
  // Error(kInvalidArgument) naming the command for an unknown option or a missing value.
  CommandArgs(std::string_view command, const std::vector<std::string>& args,
              std::initializer_list<std::string_view> flags,
              std::initializer_list<std::string_view> options);

  bool Has(std::string_view flag) const { return flags_.count(std::string(flag)) > 0; }
  // The option's value; the last one when it was given more than once.
  std::optional<std::string> Option(std::string_view name) const;
  // Every value given for the option, in order: for options that may be repeated.
  std::vector<std::string> OptionValues(std::string_view name) const;
  // The option as a non-negative integer, or `fallback` when absent; a usage error otherwise.
  uint64_t Number(std::string_view name, uint64_t fallback) const;

  const std::vector<std::string>& positional() const { return positional_; }
  // Throws a usage error unless there are between `min` and `max` positional arguments.
  void ExpectPositional(size_t min, size_t max, std::string_view what) const;

 private:
  std::string command_;
  std::set<std::string> flags_;
  std::map<std::string, std::vector<std::string>> options_;
  std::vector<std::string> positional_;
};

}  // namespace whycache::cli

#endif  // WHYCACHE_CLI_COMMAND_ARGS_H_
