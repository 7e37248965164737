// The simulation against the MySQL log in the test MariaDB, whose server it also kills and
// restarts: one test per seed, sharded (see simulation.h for the settings).
#include "gtest/gtest.h"
#include "tests/sim/sim_test_case.h"
#include "tests/sim/simulation.h"

namespace whycache::sim {
namespace {

class MysqlLogSimulation : public ::testing::TestWithParam<uint64_t> {};

TEST_P(MysqlLogSimulation, EveryInvariantHoldsAfterEveryStep) {
  RunSeedTest("mysql", GetParam(), /*default_steps=*/2'500,
              [](const std::string&) { return MakeMysqlSimLog(); });
}

INSTANTIATE_TEST_SUITE_P(Seeds, MysqlLogSimulation,
                         ::testing::ValuesIn(SeedsFromEnv(/*first=*/1001, /*default_count=*/4)));

}  // namespace
}  // namespace whycache::sim
