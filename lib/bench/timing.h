// Timing for benchmarks on a shared, noisy machine. A measurement is repeated and reported as
// the median of its repetitions, in wall-clock time (a steady clock) and in the CPU time of the
// measuring thread: the CPU time leaves out the moments other work took the core away, so it
// drifts less between runs, while the wall time includes waiting for I/O, which is part of the
// cost of writes and fsyncs.
#ifndef WHYCACHE_LIB_BENCH_TIMING_H_
#define WHYCACHE_LIB_BENCH_TIMING_H_

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <functional>
#include <vector>

namespace whycache::bench {

struct Elapsed {
  double wall_seconds = 0;
  double cpu_seconds = 0;
};

// CPU time (user and system) the calling thread has used, in seconds.
double ThreadCpuSeconds();

// Runs `fn()` once and returns how long it took.
template <typename Fn>
Elapsed Time(Fn&& fn) {
  const auto wall_start = std::chrono::steady_clock::now();
  const double cpu_start = ThreadCpuSeconds();
  fn();
  Elapsed e;
  e.cpu_seconds = ThreadCpuSeconds() - cpu_start;
  e.wall_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - wall_start).count();
  return e;
}

// The median of `values`: the mean of the middle two for an even count, 0 for none.
double Median(std::vector<double> values);

// The value below which a fraction `p` (0 to 1) of `values` lies (nearest rank), 0 for none.
template <typename T>
double Percentile(std::vector<T> values, double p) {
  if (values.empty()) return 0;
  const size_t rank =
      std::min(values.size() - 1, static_cast<size_t>(p * static_cast<double>(values.size())));
  std::nth_element(values.begin(), values.begin() + static_cast<std::ptrdiff_t>(rank),
                   values.end());
  return static_cast<double>(values[rank]);
}

// Each of wall and CPU time: the median over the repetitions.
Elapsed MedianOf(const std::vector<Elapsed>& repetitions);

// Runs each of `contenders` once per repetition, taking turns: repetition r starts with
// contender r mod n, so that none always runs first or right after the same neighbour, and drift
// of the machine's load spreads over all of them. Passes the repetition's number to each.
// Returns, for each contender, the medians of its repetitions.
std::vector<Elapsed> InterleavedMedians(
    const std::vector<std::function<void(int repetition)>>& contenders, int repetitions);

}  // namespace whycache::bench

#endif  // WHYCACHE_LIB_BENCH_TIMING_H_
