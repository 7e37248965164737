// PNG plots of a benchmark report, drawn by gnuplot: the distributions behind the table's
// medians, which a table of figures cannot show.
#ifndef WHYCACHE_LIB_BENCH_PLOTS_H_
#define WHYCACHE_LIB_BENCH_PLOTS_H_

#include <string>
#include <vector>

#include "lib/bench/report.h"

namespace whycache::bench {

// Throws Error(kIOError) saying what to install if `gnuplot` cannot be run. Call it before a
// run whose report is to be plotted, so that nobody waits minutes for a plot that cannot come.
void RequireGnuplot();

// Writes, into `dir` (created if missing), the plots of `report` that its measured sections
// allow: bench-read-latency.png (latency percentiles p50 to p99.9 of single gets on whycache and
// its peers, one panel per data set), bench-replication-lag.png (the distribution of the lag
// samples of each log) and bench-throughput.png (apply and snapshot throughput). Returns the
// paths written. Throws Error(kIOError) if gnuplot fails or a file cannot be written.
std::vector<std::string> WritePlots(const Report& report, const std::string& dir);

}  // namespace whycache::bench

#endif  // WHYCACHE_LIB_BENCH_PLOTS_H_
