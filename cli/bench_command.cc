#include "cli/bench_command.h"

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <iostream>
#include <optional>
#include <string>

#include "cli/command_args.h"
#include "cli/exit_status.h"
#include "lib/bench/environment.h"
#include "lib/bench/plots.h"
#include "lib/bench/report.h"
#include "lib/bench/suite.h"
#include "whycache/error.h"

namespace whycache::cli {

int RunBench(const Invocation& inv) {
  CommandArgs args("bench", inv.args, {"--quick", "--smoke", "--json"}, {"--dir", "--plot"});
  args.ExpectPositional(0, 0,
                        "no arguments besides --quick, --smoke, --json, --dir DIR and --plot DIR");
  if (args.Has("--quick") && args.Has("--smoke")) {
    throw Error(Error::Code::kInvalidArgument,
                "bench: --quick and --smoke are two sizes; pass one (see whycache bench --help)");
  }
  bench::SuiteConfig config = args.Has("--smoke")   ? bench::SmokeSuite()
                              : args.Has("--quick") ? bench::QuickSuite()
                                                    : bench::FullSuite();
  config.scratch_parent = args.Option("--dir").value_or("");
  if (inv.log_uri && inv.log_uri->starts_with("mysql://")) config.mysql_uri = *inv.log_uri;

  const std::optional<std::string> plot_dir = args.Option("--plot");
  if (plot_dir) bench::RequireGnuplot();
  // Before the run, so that nobody waits minutes for figures they cannot use.
  const std::string warning = bench::BuildWarning(bench::ThisBuild());
  if (!warning.empty()) std::cerr << warning << "\n";
  const bool terminal = isatty(STDERR_FILENO);
  const auto start = std::chrono::steady_clock::now();
  bench::Report report = bench::RunSuite(config, [&](const std::string& what) {
    if (!terminal) return;
    const double s =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::fprintf(stderr, "bench: %5.1f s  %s\n", s, what.c_str());
  });
  report.command = "whycache bench";
  for (const std::string& arg : inv.args) report.command += " " + arg;
  if (args.Has("--json")) {
    bench::PrintJson(report, std::cout);
  } else {
    bench::PrintTable(report, std::cout);
  }
  std::cout.flush();
  if (plot_dir) {
    for (const std::string& path : bench::WritePlots(report, *plot_dir)) {
      std::cerr << "bench: wrote " << path << "\n";
    }
  }
  return std::cout.good() ? kExitOk : kExitOtherFailure;
}

}  // namespace whycache::cli
