// A deterministic simulation of the whole stack (writers, machines, the log, compaction,
// snapshots, restarts, reboots, kills) against one change log, checked after every step
// against the test's own record of every acknowledged write (sim_model.h).
//
// The steps come from the seed alone, so a seed replays the same run; only where a child is
// killed mid-apply does the scheduler choose how far it got, and nothing checked depends on it.
//
// Settings, from the environment:
//   WHYCACHE_SIM_SEED=S       run seed S only (a failing run prints its seed);
//   WHYCACHE_SIM_SEEDS=N      run N seeds from the test's first (file log 1, MySQL 1001);
//   WHYCACHE_SIM_STEPS=N      steps per seed;
//   WHYCACHE_SIM_TIME_LIMIT_S=N   stop a seed's run (passing) after N seconds;
//   WHYCACHE_SIM_SKIP=a,b     execute no step of these kinds, e.g. while a known defect is
//                             being fixed: append, machine_write, update_now, wait_for, update,
//                             compact, snapshot, restore, bootstrap, reopen, reopen_chunked,
//                             reboot, damage_snapshot, kill_apply, server_restart, check.
//                             The sequence of steps stays the same; skipped ones are logged.
#ifndef WHYCACHE_TESTS_SIM_SIMULATION_H_
#define WHYCACHE_TESTS_SIM_SIMULATION_H_

#include <chrono>
#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include "tests/sim/sim_log.h"
#include "tests/sim/sim_steps.h"

namespace whycache::sim {

struct SimConfig {
  std::string log_name;  // "file", "mysql": for messages.
  uint64_t seed = 1;
  uint64_t steps = 1000;
  std::chrono::seconds time_limit{600};
  std::set<StepKind> skip;
};

struct SimResult {
  uint64_t steps_run = 0;
  bool stopped_by_time_limit = false;
  // "" when every invariant held, else the seed, step, step kind, what broke (machine, key,
  // expected and actual) and the settings that replay it.
  std::string failure;
  // On failure: the steps before it with their outcomes (the ops log's end).
  std::string ops_tail;
};

// The seeds to run: WHYCACHE_SIM_SEED alone, else WHYCACHE_SIM_SEEDS (default
// `default_count`) seeds from `first`.
std::vector<uint64_t> SeedsFromEnv(uint64_t first, uint64_t default_count);

// The settings of one seed's run, from the environment over the defaults given. Throws
// std::invalid_argument for a malformed setting.
SimConfig ConfigFromEnv(const std::string& log_name, uint64_t seed, uint64_t default_steps,
                        std::chrono::seconds default_time_limit);

// Runs the simulation in `dir` (state files, snapshots) against `log`, a fresh log.
// REQUIRES: a single-threaded caller (it forks).
SimResult RunSimulation(SimLog& log, const std::string& dir, const SimConfig& config);

}  // namespace whycache::sim

#endif  // WHYCACHE_TESTS_SIM_SIMULATION_H_
