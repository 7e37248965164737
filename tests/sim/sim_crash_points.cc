#include "tests/sim/sim_crash_points.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <stdexcept>

#include "lib/io/crash_point.h"
#include "tests/sim/sim_invariants.h"
#include "tests/support/child_process.h"

namespace whycache::sim {
namespace {

using whycache::testing::ChildProcess;

// Every crash point of the library. A point missing here is never injected; the tests fail
// for a point listed here that no run reaches.
constexpr std::array<CrashPointSpec, 18> kPoints = {{
    // Between the token record and the frame (with a token), or before the frame.
    {"file_log.append.before_write", CrashOp::kAppend, "file", 1},
    // The frame written, not yet synced.
    {"file_log.append.before_sync", CrashOp::kAppend, "file", 1},
    // A compaction seals the active segment: sealed and synced, its successor not yet made.
    {"file_log.rollover.after_seal", CrashOp::kCompact, "file", 1},
    // The successor's file made, the manifest not yet naming it.
    {"file_log.rollover.before_manifest", CrashOp::kCompact, "file", 1},
    // The rewritten segments written and synced, the manifest not yet switched to them.
    {"file_compaction.before_manifest", CrashOp::kCompact, "file", 1},
    // The manifest switched, the replaced segments not yet removed.
    {"file_compaction.before_remove", CrashOp::kCompact, "file", 1},
    // The rows inserted and the head advanced in the open transaction, COMMIT not yet sent.
    {"mysql_log.append.before_commit", CrashOp::kAppend, "mysql", 1},
    // COMMIT done, the id not yet returned: the writer never learns the outcome.
    {"mysql_log.append.after_commit", CrashOp::kAppend, "mysql", 1},
    // Between the statements of one paged read (ReadOnce).
    {"mysql_log.read.between_statements", CrashOp::kPoll, "mysql", 3},
    // Updates read, the reader's durability write not yet made.
    {"mysql_log.read.before_durable_write", CrashOp::kPoll, "mysql", 2},
    // A chunk's rewrite committed, the next chunk (or pass 2) not yet begun.
    {"mysql_compaction.after_chunk", CrashOp::kCompact, "mysql", 1},
    // Inside a rewrite's transaction: rows renumbered, emptied batches not yet deleted.
    {"mysql_compaction.before_deletes", CrashOp::kCompact, "mysql", 1},
    // The horizon raised and committed, the expired tombstones not yet dropped.
    {"mysql_compaction.after_horizon", CrashOp::kCompact, "mysql", 1},
    // A snapshot's temporary file complete, not yet synced; then synced, not yet renamed.
    {"snapshot.before_sync", CrashOp::kSnapshot, "", 1},
    {"snapshot.before_rename", CrashOp::kSnapshot, "", 1},
    // A rebuilt state file filled, not yet installed; then installed, its build files left.
    {"state_rebuild.before_install", CrashOp::kRestore, "", 1},
    {"state_rebuild.after_install", CrashOp::kRestore, "", 1},
    // An applier's commit published, its change journal record not yet written.
    {"applier.commit.before_journal", CrashOp::kPoll, "", 1},
}};

}  // namespace

std::string_view CrashOpName(CrashOp op) {
  constexpr std::array<std::string_view, 5> kNames = {"append", "compact", "snapshot", "restore",
                                                      "poll"};
  return kNames[static_cast<size_t>(op)];
}

std::vector<CrashPointSpec> CrashPointsFor(std::string_view log_name) {
  std::vector<CrashPointSpec> points;
  for (const CrashPointSpec& p : kPoints) {
    if (p.log.empty() || p.log == log_name) points.push_back(p);
  }
  return points;
}

CrashOutcome RunChildUntilCrash(std::string_view point, uint32_t nth,
                                const std::function<void()>& operation,
                                std::chrono::milliseconds timeout) {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) throw std::runtime_error("pipe2 failed");
  ChildProcess child([&] {
    close(fds[0]);
    io::ArmCrashPoint(point, nth, fds[1]);
    operation();
    return 0;
  });
  close(fds[1]);
  const std::optional<int> status = child.WaitFor(timeout);
  std::string report;
  char buffer[128];
  for (ssize_t n; status && (n = read(fds[0], buffer, sizeof(buffer))) > 0;) {
    report.append(buffer, static_cast<size_t>(n));
  }
  close(fds[0]);
  const std::string where =
      "a child armed at " + std::string(point) + " (reach " + std::to_string(nth) + ") ";
  if (!status) {
    throw SimFailure(where + "still runs after " + std::to_string(timeout.count()) + " ms");
  }
  CrashOutcome outcome;
  outcome.how = ChildProcess::Describe(*status);
  outcome.fired = report == std::string(point) + "\n";
  const bool killed = WIFSIGNALED(*status) && WTERMSIG(*status) == SIGKILL;
  if (outcome.fired != killed || (!killed && !ChildProcess::Succeeded(*status))) {
    throw SimFailure(where + outcome.how + (outcome.fired ? " after reaching it" : "") +
                     " (see its stderr)");
  }
  return outcome;
}

}  // namespace whycache::sim
