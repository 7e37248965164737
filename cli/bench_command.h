// `whycache bench`: the built-in benchmark suite (lib/bench/suite.h), as a table or JSON.
#ifndef WHYCACHE_CLI_BENCH_COMMAND_H_
#define WHYCACHE_CLI_BENCH_COMMAND_H_

#include "cli/invocation.h"

namespace whycache::cli {

// Runs the suite in a temporary directory it removes afterwards: full by default, --quick for
// smaller data sets and fewer repetitions, --smoke for tiny ones; --dir DIR puts the temporary
// directory under DIR. A mysql:// log (--log or $WHYCACHE_LOG) adds the MySQL rows, run on
// tables of their own in its database. --plot DIR also writes PNG plots into DIR with gnuplot,
// whose presence it checks before the run. Prints the table, or with --json one JSON object, on
// stdout, and what it is measuring on stderr when that is a terminal. A build without
// optimisation runs too (so that tests can run it), but warns first on stderr and in the
// table's first line, and says so in the JSON: its figures are not the product's.
int RunBench(const Invocation& inv);

}  // namespace whycache::cli

#endif  // WHYCACHE_CLI_BENCH_COMMAND_H_
