#include "lib/bench/timing.h"

#include <time.h>

#include <algorithm>

namespace whycache::bench {

double ThreadCpuSeconds() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

double Median(std::vector<double> values) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  const size_t mid = values.size() / 2;
  return values.size() % 2 == 1 ? values[mid] : (values[mid - 1] + values[mid]) / 2;
}

Elapsed MedianOf(const std::vector<Elapsed>& repetitions) {
  std::vector<double> wall, cpu;
  for (const Elapsed& e : repetitions) {
    wall.push_back(e.wall_seconds);
    cpu.push_back(e.cpu_seconds);
  }
  return {Median(wall), Median(cpu)};
}

std::vector<Elapsed> InterleavedMedians(
    const std::vector<std::function<void(int repetition)>>& contenders, int repetitions) {
  const size_t n = contenders.size();
  std::vector<std::vector<Elapsed>> times(n);
  for (int r = 0; r < repetitions; ++r) {
    for (size_t k = 0; k < n; ++k) {
      const size_t c = (static_cast<size_t>(r) + k) % n;
      times[c].push_back(Time([&] { contenders[c](r); }));
    }
  }
  std::vector<Elapsed> medians;
  for (const std::vector<Elapsed>& t : times) medians.push_back(MedianOf(t));
  return medians;
}

}  // namespace whycache::bench
