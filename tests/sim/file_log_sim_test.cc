// The simulation against the file log: one test per seed, sharded (see simulation.h for the
// settings that replay a seed or run longer).
#include "gtest/gtest.h"
#include "tests/sim/simulation.h"
#include "tests/support/temp_dir.h"

namespace whycache::sim {
namespace {

class FileLogSimulation : public ::testing::TestWithParam<uint64_t> {};

TEST_P(FileLogSimulation, EveryInvariantHoldsAfterEveryStep) {
  whycache::testing::TempDir dir;
  const SimConfig config =
      ConfigFromEnv("file", GetParam(), /*default_steps=*/12'500, std::chrono::seconds(240));
  std::unique_ptr<SimLog> log = MakeFileSimLog(dir.File("log"));
  const SimResult result = RunSimulation(*log, dir.path(), config);
  if (!result.failure.empty()) ADD_FAILURE() << result.failure;
  std::printf("seed %llu: %llu steps%s\n", static_cast<unsigned long long>(config.seed),
              static_cast<unsigned long long>(result.steps_run),
              result.stopped_by_time_limit ? " (stopped by the time limit)" : "");
}

INSTANTIATE_TEST_SUITE_P(Seeds, FileLogSimulation,
                         ::testing::ValuesIn(SeedsFromEnv(/*first=*/1, /*default_count=*/8)));

}  // namespace
}  // namespace whycache::sim
