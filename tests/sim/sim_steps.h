// The steps of a simulation run, drawn from one seed. A step says only what to do; what the
// system answers decides nothing about which steps follow, so a seed replays exactly the same
// sequence (given the same WHYCACHE_SIM_* settings).
#ifndef WHYCACHE_TESTS_SIM_SIM_STEPS_H_
#define WHYCACHE_TESTS_SIM_SIM_STEPS_H_

#include <chrono>
#include <cstdint>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "tests/sim/sim_crash_points.h"
#include "whycache/change_log.h"

namespace whycache::sim {

enum class StepKind {
  kAppend,          // A writer's ChangeLog appends one batch.
  kMachineWrite,    // A machine's Cache writes one batch.
  kUpdateNow,       // A machine polls now; it must reach the head.
  kWaitFor,         // A machine waits for an acknowledged id.
  kUpdate,          // A machine calls Update() (the per-request call) until it reaches the head.
  kCompact,         // The log is compacted.
  kSnapshot,        // A machine writes a snapshot into a slot.
  kRestore,         // A machine restores the snapshot of a slot.
  kBootstrap,       // A machine's state file is deleted and rebuilt from a slot's snapshot.
  kReopen,          // A machine is closed and opened again with other options.
  kReopenChunked,   // The same, applying only a few updates per poll from now on.
  kReboot,          // The machine reboots: its state file now comes from a previous boot.
  kDamageSnapshot,  // One byte of a slot's snapshot body is flipped, as a bad disk would.
  kKillApply,       // A child process applying a backlog on a machine is killed (SIGKILL).
  kServerRestart,   // The log's server is killed and started again (MySQL).
  kCheck,           // A machine runs Verify() and the library's check against the log.
  kCrashAtPoint,    // A child running an operation dies at a named crash point (SIGKILL).
  kCount,
};

// "append", "reboot", ...: the names WHYCACHE_SIM_SKIP takes.
std::string_view StepName(StepKind kind);
std::optional<StepKind> StepKindNamed(std::string_view name);

// Snapshot slot 0 is the file machines name as CacheOptions::resync_snapshot.
inline constexpr int kSnapshotSlots = 3;

struct Step {
  StepKind kind = StepKind::kAppend;
  int writer = 0;
  int machine = 0;
  // kAppend and kMachineWrite: one batch; kReboot: one batch a writer appends while the machine
  // is down; kKillApply, and kCrashAtPoint at a poll: the backlog appended before the child
  // runs; kCrashAtPoint at an append: the batch the child appends.
  std::vector<std::vector<Mutation>> batches;
  // kWaitFor: which acknowledged id, as a fraction of the history in 1/1000.
  // kCompact: before_id the same way; 1000 means all history (before_id 0).
  // kDamageSnapshot: where in the body.
  // kCrashAtPoint at a compaction: as for kCompact.
  uint32_t per_mille = 0;
  std::chrono::seconds tombstone_retention{0};
  std::chrono::seconds token_retention{0};
  int snapshot_slot = 0;
  // kReopen, kKillApply and kCrashAtPoint: options of the machine's Cache.
  bool use_resync_snapshot = false;
  int poll_interval_ms = 1;
  size_t max_updates_per_poll = 100'000;
  uint64_t boot_id = 0;  // kReboot: the new boot's id.
  // kCrashAtPoint: the point armed, for its crash_nth reach, and whether an append carries a
  // token (its writer then retries with it, as after an append of unknown outcome).
  CrashPointSpec crash_point{};
  uint32_t crash_nth = 1;
  bool with_token = false;
};

// One line: the kind, its target and its parameters, keys and values escaped.
std::string Describe(const Step& step);

// Bytes as C-like escaped text in double quotes: "a\x00b".
std::string Quote(std::string_view bytes);

class StepGenerator {
 public:
  // A crash_at_point step arms the next of `crash_points` in turn (from a place the seed picks),
  // so that a run reaches every one of them; none is generated when the list is empty.
  StepGenerator(uint64_t seed, int writers, int machines, std::vector<CrashPointSpec> crash_points);
  Step Next();

 private:
  uint64_t Below(uint64_t n) { return rng_() % n; }
  std::string Key();
  std::string Value();
  // A prefix to delete: one covering a key, a few, a few dozen, or none.
  std::string Prefix();
  std::vector<Mutation> Batch();
  std::vector<std::vector<Mutation>> Backlog(bool multi_key);
  void CompactionSettings(Step* s);

  std::mt19937_64 rng_;
  const int writers_;
  const int machines_;
  const std::vector<CrashPointSpec> crash_points_;
  uint64_t next_crash_point_ = 0;
  uint64_t values_made_ = 0;  // Makes each non-empty value unique, so a lost write shows.
};

}  // namespace whycache::sim

#endif  // WHYCACHE_TESTS_SIM_SIM_STEPS_H_
