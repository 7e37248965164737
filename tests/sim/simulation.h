// A deterministic simulation of the whole stack (writers, machines, the log, compaction,
// snapshots, restarts, reboots, kills) against one change log, checked after every step
// against the test's own record of every acknowledged write (sim_model.h).
//
// The steps come from the seed alone, so a seed replays the same run; only where a child is
// killed mid-apply does the scheduler choose how far it got, and nothing checked depends on it.
//
// Step kinds (sim_steps.h): appends by three writers and by machines, of batches that mix sets,
// deletes and prefix deletes (of one key, several, dozens or none, and between sets under their
// prefix); polls (UpdateNow, WaitFor, Update); compactions with random before_id, tombstone and
// token retentions, after which machines at id 0 and at or above the horizon replay the log to
// the oracle's head state; snapshot create,
// restore and bootstrap, damaged snapshots; reopen with other options; reboot; kill -9 of a
// child mid-apply (kill_apply); MariaDB killed and restarted (server_restart); the library's
// checks; and crash_at_point: a forked child runs an operation with one crash point armed
// (lib/io/crash_point.h) and dies there by SIGKILL. The points are visited in turn, so a run
// of the default length kills a child at every point of its log (the tests check it):
//   file log:  file_log.append.before_write, file_log.append.before_sync,
//              file_log.rollover.after_seal, file_log.rollover.before_manifest,
//              file_compaction.before_manifest, file_compaction.before_remove;
//   MySQL log: mysql_log.append.before_commit, mysql_log.append.after_commit,
//              mysql_log.read.between_statements, mysql_log.read.before_durable_write,
//              mysql_compaction.after_chunk, mysql_compaction.before_deletes,
//              mysql_compaction.after_horizon;
//   both:      snapshot.before_sync, snapshot.before_rename, state_rebuild.before_install,
//              state_rebuild.after_install.
// What a crash must leave (sim_crash_points.h lists the operation of each point): a batch whose
// writer died is in the log whole or not at all, the test learns which by reading it, and a
// retry with its token finds it; after a dead compaction, a replay of the log from the start
// equals the oracle, and compacting again finishes; a snapshot slot holds a right snapshot or
// one that is refused; a machine whose process died rebuilding or polling reads a right state
// and polls on to the head.
//
// Settings, from the environment:
//   WHYCACHE_SIM_SEED=S       run seed S only (a failing run prints its seed);
//   WHYCACHE_SIM_SEEDS=N      run N seeds from the test's first (file log 1, MySQL 1001);
//   WHYCACHE_SIM_STEPS=N      steps per seed;
//   WHYCACHE_SIM_TIME_LIMIT_S=N   stop a seed's run (passing) after N seconds;
//   WHYCACHE_SIM_SKIP=a,b     execute no step of these kinds, e.g. while a known defect is
//                             being fixed: append, machine_write, update_now, wait_for, update,
//                             compact, snapshot, restore, bootstrap, reopen, reopen_chunked,
//                             reboot, damage_snapshot, kill_apply, server_restart, check,
//                             crash_at_point.
//                             The sequence of steps stays the same; skipped ones are logged.
#ifndef WHYCACHE_TESTS_SIM_SIMULATION_H_
#define WHYCACHE_TESTS_SIM_SIMULATION_H_

#include <chrono>
#include <cstdint>
#include <map>
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
  // The crash_at_point steps executed, and how many of them killed their child at each point
  // (a child may finish without reaching its point: the operation did not pass there).
  uint64_t crash_steps = 0;
  std::map<std::string, uint64_t> crash_points_fired;
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
