#include "lib/log/file_uri.h"

#include "whycache/error.h"

namespace whycache::log {
namespace {

constexpr std::string_view kScheme = "file:";

}  // namespace

bool IsFileLogUri(std::string_view uri) { return uri.starts_with(kScheme); }

std::string FileLogDirectory(std::string_view uri) {
  auto invalid = [&](const std::string& why) {
    return Error(Error::Code::kInvalidArgument,
                 "bad file log URI '" + std::string(uri) + "': " + why +
                     " (use file:DIR, file:/abs/dir or file:///abs/dir)");
  };
  if (!IsFileLogUri(uri)) throw invalid("it does not start with file:");
  std::string_view rest = uri.substr(kScheme.size());
  if (rest.starts_with("//")) {
    rest.remove_prefix(2);
    if (rest.starts_with("localhost/")) rest.remove_prefix(std::string_view("localhost").size());
    if (!rest.starts_with("/")) throw invalid("file logs are local: no host may be named");
  }
  if (rest.empty()) throw invalid("no directory given");
  if (rest.find('\0') != std::string_view::npos) throw invalid("the directory contains a NUL byte");
  return std::string(rest);
}

}  // namespace whycache::log
