// The command line's choice of change log: global options (cli/invocation.h) and the two URI
// schemes (lib/log/file_uri.h, lib/log/mysql/mysql_uri.h).
//
// Input: the command line's arguments separated by NUL bytes; the last one is also parsed as a
// URI of each scheme.
#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include "cli/invocation.h"
#include "lib/log/file_uri.h"
#include "lib/log/mysql/mysql_uri.h"
#include "tests/fuzz/fuzz_util.h"

namespace whycache::fuzz {
namespace {

const char* NoEnvironment(const char*) { return nullptr; }

void FuzzInvocation(const std::vector<std::string>& argv) {
  const cli::Invocation inv = cli::ParseInvocation(argv, NoEnvironment);
  // An empty argument where the command goes is taken as one (main then prints the usage).
  if (inv.command.empty() && inv.args.empty()) return;
  // The command and its arguments are the end of the command line, untouched.
  const size_t tail = inv.args.size() + 1;
  if (tail > argv.size() || argv[argv.size() - tail] != inv.command ||
      !std::equal(inv.args.begin(), inv.args.end(), argv.end() - inv.args.size())) {
    Fail("the command and its arguments are not the end of the command line");
  }
}

void FuzzFileUri(std::string_view uri) {
  const std::string dir = log::FileLogDirectory(uri);
  if (dir.empty() || dir.find('\0') != std::string::npos) {
    Fail("a file: URI gives an empty directory or one with a NUL byte");
  }
}

void FuzzMysqlUri(std::string_view uri) {
  const mysql_log::MysqlUri parsed = mysql_log::ParseMysqlUri(uri);
  if (!mysql_log::IsValidTablePrefix(parsed.table_prefix)) Fail("an invalid table prefix passed");
  mysql_log::MysqlUri again;
  try {
    again = mysql_log::ParseMysqlUri(parsed.Describe());
  } catch (const Error& e) {
    Fail("a MySQL URI's canonical form is refused: " + std::string(e.what()));
  }
  if (again.Describe() != parsed.Describe() || again.user != parsed.user ||
      again.host != parsed.host || again.port != parsed.port || again.database != parsed.database ||
      again.socket != parsed.socket || again.defaults_file != parsed.defaults_file) {
    Fail("a MySQL URI's canonical form parses to another URI");
  }
}

}  // namespace
}  // namespace whycache::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace whycache::fuzz;
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  std::vector<std::string> argv;
  for (size_t start = 0;;) {
    const size_t end = input.find('\0', start);
    argv.emplace_back(input.substr(start, end - start));
    if (end == std::string_view::npos) break;
    start = end + 1;
  }
  RejectingErrors([&] { FuzzInvocation(argv); });
  RejectingErrors([&] { FuzzFileUri(argv.back()); });
  RejectingErrors([&] { FuzzMysqlUri(argv.back()); });
  return 0;
}
