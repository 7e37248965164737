// The simulation against the file log: one test per seed, sharded (see simulation.h for the
// settings that replay a seed or run longer).
#include "gtest/gtest.h"
#include "tests/sim/sim_test_case.h"
#include "tests/sim/simulation.h"

namespace whycache::sim {
namespace {

class FileLogSimulation : public ::testing::TestWithParam<uint64_t> {};

TEST_P(FileLogSimulation, EveryInvariantHoldsAfterEveryStep) {
  RunSeedTest("file", GetParam(), /*default_steps=*/12'500, MakeFileSimLog);
}

INSTANTIATE_TEST_SUITE_P(Seeds, FileLogSimulation,
                         ::testing::ValuesIn(SeedsFromEnv(/*first=*/1, /*default_count=*/8)));

}  // namespace
}  // namespace whycache::sim
