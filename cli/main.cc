// whycache: the command-line tool. See `whycache --help` and the README's CLI reference.
#include <csignal>
#include <cstdlib>
#include <iostream>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "cli/exit_status.h"
#include "cli/failure_message.h"
#include "cli/invocation.h"
#include "cli/output.h"
#include "whycache/error.h"
#include "whycache/version.h"

namespace whycache::cli {
namespace {

void PrintUsage(std::ostream& out) {
  out << "usage: whycache [--state PATH] [--log URI] COMMAND [ARGS...]\n"
         "\n"
         "An in-process, shared-memory, replicated key-value store.\n"
         "\n"
         "global options:\n"
         "  --state PATH  the machine's shared state file (default: $WHYCACHE_STATE)\n"
         "  --log URI     the change log (default: $WHYCACHE_LOG):\n"
         "                  file:DIR\n"
         "                  mysql://USER@HOST:PORT/DATABASE[?table=NAME][&socket=PATH]\n"
         "                  (password from $WHYCACHE_MYSQL_PASSWORD or &defaults-file=PATH)\n"
         "                  init and writers refuse a server that is not durable\n"
         "                  (innodb_flush_log_at_trx_commit=1, sync_binlog=1 with a binary\n"
         "                  log, autocommit on, not READ-UNCOMMITTED) unless the URI has\n"
         "                  &allow_unsafe_server_settings=1\n"
         "                  reads of new batches commit a write that makes them durable on a\n"
         "                  server without a binary log; &durable_reads=1 or 0: always, never\n"
         "                  &replicas=HOST:PORT,...: reads go to one of these replicas of the\n"
         "                  primary (chosen by host name, or &machine=NAME), failing over to\n"
         "                  the next and then the primary; writes go to the primary\n"
         "  --help        print this help; `whycache COMMAND --help` for a command\n"
         "  --version     print the version and the on-disk format versions\n"
         "\n"
         "commands:\n";
  for (const Command& c : AllCommands()) {
    std::string head = "  " + std::string(c.name);
    head.resize(12, ' ');
    out << head << c.summary << "\n";
  }
  out << "\nexit status: 0 ok, 1 key not found, 2 usage error, 3 integrity check failed,\n"
         "4 log or database unreachable, 5 corrupt or incompatible input file, 6 other failure\n";
}

void PrintCommandHelp(const Command& c) {
  std::cout << "usage: whycache [--state PATH] [--log URI] " << c.name;
  if (!c.usage.empty()) std::cout << " " << c.usage;
  std::cout << "\n\n" << c.summary << "\n";
  if (!c.details.empty()) std::cout << "\n" << c.details << "\n";
}

void PrintVersion() {
  std::cout << "whycache " << kVersion << "\n"
            << "state file format " << kStateFormatVersion << "\n"
            << "log record format " << kLogRecordFormatVersionWithoutPrefixErase << " and "
            << kLogRecordFormatVersion << " (records with a prefix delete)\n"
            << "log segment format " << kLogSegmentFormatVersion << "\n"
            << "snapshot format " << kSnapshotFormatVersion << "\n"
            << "mysql schema " << kMysqlSchemaVersion << "\n";
}

bool AsksForHelp(const std::vector<std::string>& args) {
  for (const std::string& a : args) {
    if (a == "--help" || a == "-h") return true;
  }
  return false;
}

int Run(const std::vector<std::string>& argv) {
  const Invocation inv =
      ParseInvocation(argv, [](const char* name) -> const char* { return std::getenv(name); });
  if (inv.version) {
    PrintVersion();
    return kExitOk;
  }
  if (inv.command.empty()) {
    PrintUsage(inv.help ? std::cout : std::cerr);
    return inv.help ? kExitOk : kExitUsage;
  }
  const Command* command = FindCommand(inv.command);
  if (command == nullptr) {
    std::cerr << "whycache: unknown command '" << inv.command << "' (see whycache --help)\n";
    return kExitUsage;
  }
  if (inv.help || AsksForHelp(inv.args)) {
    PrintCommandHelp(*command);
    return kExitOk;
  }
  return command->run(inv);
}

}  // namespace
}  // namespace whycache::cli

int main(int argc, char** argv) {
  // A closed pipe (`whycache tail | head`) then fails a write instead of killing the process,
  // and the command stops with its documented status.
  std::signal(SIGPIPE, SIG_IGN);
  try {
    const int status = whycache::cli::Run(std::vector<std::string>(argv + 1, argv + argc));
    try {
      whycache::cli::FlushStdout();
    } catch (const whycache::cli::StdoutClosed&) {
      // The reader took what it wanted: `check | head -1` still says whether the check failed.
    }
    return status;
  } catch (const whycache::cli::StdoutClosed&) {
    return whycache::cli::kExitOk;
  } catch (const whycache::Error& e) {
    std::cerr << whycache::cli::FailureMessage(e) << "\n";
    return whycache::cli::ExitStatusFor(e.code());
  } catch (const std::exception& e) {
    std::cerr << "whycache: " << e.what() << "\n";
    return whycache::cli::kExitOtherFailure;
  }
}
