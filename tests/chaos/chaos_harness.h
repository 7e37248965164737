// A chaos run: a workload of real processes on three machines sharing one change log, while the
// parent kills them with SIGKILL (writers and appliers once they say they are inside an
// operation) and disturbs the log's storage; then checks that reads never broke and that no
// write was lost.
//
// The processes, each a forked child that runs until the parent stops or kills it:
//   readers      per-request loop: Update(), then gets and scans in one read transaction,
//                checking that no batch is seen in part and that views never change;
//   appliers     UpdateNow() in a loop;
//   writers      Write() of random batches, each with a unique token key, recording every id
//                Write() returned in memory shared with the parent (never in the log's
//                filesystem, which the run fills and makes read-only);
//   compactor    Cache::Compact with a one-second tombstone retention, so the horizon
//                moves and machines resync;
//   snapshotter  CreateSnapshot on machine A, RestoreSnapshot of it on machine B.
// Machine A runs two readers and an applier, machine B a reader and an applier, machine C an
// applier that catches up every few seconds, so that compaction leaves it below the horizon.
//
// At the end, with every child stopped: a compaction runs to its end within a bound (no
// compaction lock is left held); the log has strictly increasing ids and each token in
// one update only; every id a writer got back is in the log with that writer's token; each
// machine, opened by a fresh process, gets through UpdateNow() within a bound (no lock is held
// by a dead process) and then holds exactly the log replayed, passes Verify() and
// CheckAgainstLog().
#ifndef WHYCACHE_TESTS_CHAOS_CHAOS_HARNESS_H_
#define WHYCACHE_TESTS_CHAOS_CHAOS_HARNESS_H_

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "tests/log/log_backends.h"

namespace whycache::testing {

// Something done to the log's storage for a stretch of the run.
struct Disruption {
  std::string name;
  // When it begins and ends, as fractions of the run's duration.
  double start = 0;
  double end = 0;
  // Called in the parent.
  std::function<void()> begin;
  std::function<void()> finish;
  // Kill the log's writing processes (writers and compactor) when it begins and ends, so that
  // the ones that replace them open the log's files under the new conditions.
  bool restart_log_writers = false;
};

struct ChaosOptions {
  FreshLog* log = nullptr;  // REQUIRED.
  std::chrono::milliseconds duration{45'000};
  uint64_t seed = 1;
  std::vector<Disruption> disruptions;
  // Called first in every child.
  std::function<void()> child_setup;
  // Called in writers and the compactor after child_setup, while `disruption` (an index into
  // `disruptions`, or -1) is under way.
  std::function<void(int disruption)> log_writer_setup;
};

enum class Role { kReader, kApplier, kWriter, kCompactor, kSnapshotter };
inline constexpr int kRoleCount = 5;
const char* RoleName(Role role);

struct ChaosReport {
  int kills[kRoleCount] = {};
  // Kills that landed while the process was inside its operation (a reader's Update() and
  // read transaction, an UpdateNow(), an append, a compaction, a snapshot).
  int kills_inside[kRoleCount] = {};
  int log_writer_restarts = 0;  // Kills when a disruption began or ended.
  uint64_t reads = 0;           // Read transactions the readers completed.
  // Per disruption + 1 (index 0: none under way, i + 1: disruptions[i]), by the disruption
  // under way when the attempt began: ids that writers got back, writes and compactions that
  // failed.
  std::vector<uint64_t> writes_returned;
  std::vector<uint64_t> writes_refused;
  std::vector<uint64_t> compactions_refused;
  uint64_t compactions = 0;
  uint64_t snapshots_created = 0;
  uint64_t snapshots_restored = 0;
  uint64_t restores_refused = 0;    // Below the horizon, or the log unreachable.
  uint64_t resyncs = 0;             // Of all machines, from their stats at the end.
  int64_t final_compaction_ms = 0;  // A compaction after the run: no compaction lock was left.
  uint64_t log_updates = 0;         // Updates in the log at the end (after compaction).
  uint64_t log_head = 0;
  uint64_t ids_verified = 0;  // Returned ids found in the log with their token.
  int machines_equal = 0;     // Of 3, whose final state equals the log replayed.
  std::vector<std::string> failures;

  std::string Summary(const std::vector<Disruption>& disruptions) const;
};

// Runs the workload for options.duration, and past it until the run holds what
// ExpectNothingBrokeOrLost expects (at most two minutes more), then checks the end state.
// Disruptions begin only after a write succeeded undisturbed and end only after a write was
// refused under them. Failures are in report.failures (the caller asserts that it is empty);
// the run itself never stops early.
ChaosReport RunChaos(const ChaosOptions& options);

// The expectations every run shares (gtest EXPECTs): no failure; each role killed several
// times, writers and appliers inside their operation too; compactions and restores done; every
// id a writer got back found with its batch; every machine equal to the log replayed.
void ExpectNothingBrokeOrLost(const ChaosReport& report);

// The run's duration: CHAOS_SECONDS from the environment, else `fallback`.
std::chrono::milliseconds ChaosDuration(std::chrono::milliseconds fallback);

}  // namespace whycache::testing

#endif  // WHYCACHE_TESTS_CHAOS_CHAOS_HARNESS_H_
