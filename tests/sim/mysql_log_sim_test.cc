// The simulation against the MySQL log in the test MariaDB, whose server it also kills and
// restarts: one test per seed, sharded (see simulation.h for the settings).
#include "gtest/gtest.h"
#include "tests/sim/simulation.h"
#include "tests/support/temp_dir.h"

namespace whycache::sim {
namespace {

class MysqlLogSimulation : public ::testing::TestWithParam<uint64_t> {};

TEST_P(MysqlLogSimulation, EveryInvariantHoldsAfterEveryStep) {
  whycache::testing::TempDir dir;
  const SimConfig config =
      ConfigFromEnv("mysql", GetParam(), /*default_steps=*/2'500, std::chrono::seconds(240));
  std::unique_ptr<SimLog> log = MakeMysqlSimLog();
  const SimResult result = RunSimulation(*log, dir.path(), config);
  if (!result.failure.empty()) ADD_FAILURE() << result.failure;
  std::printf("seed %llu: %llu steps%s\n", static_cast<unsigned long long>(config.seed),
              static_cast<unsigned long long>(result.steps_run),
              result.stopped_by_time_limit ? " (stopped by the time limit)" : "");
}

INSTANTIATE_TEST_SUITE_P(Seeds, MysqlLogSimulation,
                         ::testing::ValuesIn(SeedsFromEnv(/*first=*/1001, /*default_count=*/4)));

}  // namespace
}  // namespace whycache::sim
