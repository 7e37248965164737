// The body of one seed's test, shared by the tests of each log.
#ifndef WHYCACHE_TESTS_SIM_SIM_TEST_CASE_H_
#define WHYCACHE_TESTS_SIM_SIM_TEST_CASE_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "tests/sim/sim_log.h"

namespace whycache::sim {

// Runs seed `seed` (steps and settings from the environment, see simulation.h) against the
// log `make_log` creates in a fresh directory. On failure, prints the last steps to stderr and
// fails the current test with the seed, step, what broke and how to replay it.
void RunSeedTest(const std::string& log_name, uint64_t seed, uint64_t default_steps,
                 const std::function<std::unique_ptr<SimLog>(const std::string& dir)>& make_log);

}  // namespace whycache::sim

#endif  // WHYCACHE_TESTS_SIM_SIM_TEST_CASE_H_
