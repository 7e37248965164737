// Crash points: named places inside operations that take several steps (between the SQL
// statements of one change, between a file write and its sync or rename) where a test makes the
// process die as a machine or process crash would, at an exact place and with no timing
// involved.
//
// For tests only: nothing arms a point in production use. A point is armed process-wide, in one
// of two ways:
//   - ArmCrashPoint(), typically in a forked child that then runs the operation;
//   - the environment variable WHYCACHE_CRASH_AT=NAME or NAME:NTH, read once when the program
//     starts (for a whole program, e.g. the command-line tool under a script).
// The NTH time the armed point is reached (the first by default), the process reports the
// point's name on the report descriptor, if one was given, and then raises SIGKILL: no
// destructor, atexit handler or buffered output runs, as in a kill -9.
//
// Unarmed, reaching a point costs one relaxed atomic load. Points may be reached from any thread;
// arming and disarming are not synchronized with a concurrent reach and are meant for a process
// that has not started the operation yet. None of this is async-signal-safe, nor needs to be.
//
// Names are stable, lowercase and dotted: "<component>.<operation>.<place>", e.g.
// "file_log.append.before_sync". The simulation test (tests/sim) lists every point in the
// library and checks that each fires.
#ifndef WHYCACHE_LIB_IO_CRASH_POINT_H_
#define WHYCACHE_LIB_IO_CRASH_POINT_H_

#include <atomic>
#include <cstdint>
#include <string_view>

namespace whycache::io {

namespace crash_point_internal {
extern std::atomic<bool> armed;
// Counts a reach of `name` and kills the process if it is the armed point's nth.
void Reached(std::string_view name);
}  // namespace crash_point_internal

// Marks a crash point. `name` must be a string literal (or otherwise outlive the process).
inline void CrashPoint(std::string_view name) {
  if (crash_point_internal::armed.load(std::memory_order_relaxed)) {
    crash_point_internal::Reached(name);
  }
}

// Arms the point `name`: the process dies on its `nth` reach (REQUIRES: nth >= 1). When
// `report_fd` is not negative, "NAME\n" is written to it first, so that a parent can tell this
// death from any other. Replaces whatever was armed before, and restarts the count.
void ArmCrashPoint(std::string_view name, uint64_t nth = 1, int report_fd = -1);

// Arms what WHYCACHE_CRASH_AT would: "NAME" or "NAME:NTH". Returns false, arming nothing, for a
// spec without a name or with an NTH that is not a number of at least 1.
bool ArmCrashPointFromSpec(std::string_view spec);

// No point is armed any more.
void DisarmCrashPoints();

}  // namespace whycache::io

#endif  // WHYCACHE_LIB_IO_CRASH_POINT_H_
