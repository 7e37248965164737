#include "tests/sim/sim_test_case.h"

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <string>

#include "gtest/gtest.h"
#include "tests/sim/sim_crash_points.h"
#include "tests/sim/simulation.h"
#include "tests/support/temp_dir.h"

namespace whycache::sim {

namespace {

// Far below Bazel's timeout for a large test, with two seeds per shard.
constexpr std::chrono::seconds kTimeLimit{240};

}  // namespace

void RunSeedTest(const std::string& log_name, uint64_t seed, uint64_t default_steps,
                 const std::function<std::unique_ptr<SimLog>(const std::string& dir)>& make_log) {
  // State files live in shared memory, as on a real machine; the file log there too, so that
  // no step waits for a disk.
  whycache::testing::TempDir dir(std::filesystem::exists("/dev/shm") ? "/dev/shm" : "/tmp");
  const SimConfig config = ConfigFromEnv(log_name, seed, default_steps, kTimeLimit);
  std::unique_ptr<SimLog> log = make_log(dir.File("log"));
  const SimResult result = RunSimulation(*log, dir.path(), config);
  if (!result.failure.empty()) {
    std::fputs(result.ops_tail.c_str(), stderr);
    ADD_FAILURE() << result.failure;
  }
  std::string fired;
  for (const auto& [point, count] : result.crash_points_fired) {
    fired += " " + point + "=" + std::to_string(count);
  }
  std::printf("seed %llu: %llu steps%s, %llu crash_at_point steps; children killed at:%s\n",
              static_cast<unsigned long long>(seed),
              static_cast<unsigned long long>(result.steps_run),
              result.stopped_by_time_limit ? " (stopped by the time limit)" : "",
              static_cast<unsigned long long>(result.crash_steps), fired.c_str());
  // A fault never injected proves nothing: a whole run of the default length kills a child at
  // every point of its log at least once (the steps visit the points in turn).
  const bool whole_run = result.failure.empty() && !result.stopped_by_time_limit &&
                         config.steps == default_steps &&
                         !config.skip.contains(StepKind::kCrashAtPoint);
  if (!whole_run) return;
  for (const CrashPointSpec& point : CrashPointsFor(log_name)) {
    if (!result.crash_points_fired.contains(std::string(point.name))) {
      ADD_FAILURE() << "crash point " << point.name << " (reached by a " << CrashOpName(point.op)
                    << ") never fired in the " << result.crash_steps
                    << " crash_at_point steps of seed " << seed << " on the " << log_name << " log";
    }
  }
}

}  // namespace whycache::sim
