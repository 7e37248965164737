// A simulated reboot of a machine. Kept apart from everything else because it writes the state
// file's header directly, whose control block layout (lib/cache/shared_control.h) may change.
#ifndef WHYCACHE_TESTS_SIM_SIM_REBOOT_H_
#define WHYCACHE_TESTS_SIM_SIM_REBOOT_H_

#include <cstdint>
#include <string>

namespace whycache::sim {

// Makes the state file at `path` look as a previous boot left it: every record of the current
// boot id in its header names another boot (`boot_id`, any value) instead, and its next poll is
// due at a CLOCK_MONOTONIC time that the new boot's clock, restarted near zero, will not reach
// for days. Returns "" or what failed (nothing is simulated where the kernel has no boot id).
// REQUIRES: no process has the file open (every machine process is gone in a reboot).
std::string RewriteAsPreviousBoot(const std::string& path, uint64_t boot_id);

}  // namespace whycache::sim

#endif  // WHYCACHE_TESTS_SIM_SIM_REBOOT_H_
