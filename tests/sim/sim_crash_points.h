// The crash points of the library (lib/io/crash_point.h) the simulation injects faults at, and
// the operation that reaches each. A crash_at_point step arms one of them in a forked child that
// runs the operation; the child dies there by SIGKILL, as a process or machine crash would.
#ifndef WHYCACHE_TESTS_SIM_SIM_CRASH_POINTS_H_
#define WHYCACHE_TESTS_SIM_SIM_CRASH_POINTS_H_

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace whycache::sim {

// What the child runs to reach a point.
enum class CrashOp {
  kAppend,    // A writer appends one batch, with a token or without.
  kCompact,   // The log is compacted with the step's settings.
  kSnapshot,  // A machine writes a snapshot into a slot.
  kRestore,   // A machine restores a snapshot of its own state (the state is rebuilt).
  kPoll,      // A machine applies a backlog a few updates per poll.
};

std::string_view CrashOpName(CrashOp op);

struct CrashPointSpec {
  std::string_view name;  // As the library names it.
  CrashOp op;
  std::string_view log;  // "file", "mysql", or "" for both.
  uint32_t max_nth;      // The step arms it for its nth reach, nth in [1, max_nth].
};

// The points a simulation against `log_name` ("file", "mysql") injects faults at: every point
// of the library that the log's operations reach.
std::vector<CrashPointSpec> CrashPointsFor(std::string_view log_name);

struct CrashOutcome {
  bool fired = false;  // The child died at the armed point (it said so before dying).
  std::string how;     // The child's end, for messages: "killed by signal 9", "exited with 0".
};

// Forks a child that arms `point` for its `nth` reach and runs `operation`, and waits for it to
// end. A child that ends otherwise than killed at the point (an exit other than 0, an exception,
// another signal) or that runs longer than `timeout` throws SimFailure naming the point.
CrashOutcome RunChildUntilCrash(std::string_view point, uint32_t nth,
                                const std::function<void()>& operation,
                                std::chrono::milliseconds timeout);

}  // namespace whycache::sim

#endif  // WHYCACHE_TESTS_SIM_SIM_CRASH_POINTS_H_
