// When the log is polled: at most once per interval per machine, however many processes call
// update(). The schedule is a single shared time; a caller that finds it due claims the poll by
// moving the time forward with one compare-and-swap, so exactly one caller wins each due time and
// the rest return at once. A caller that finds it not due pays one clock read and one load.
#ifndef WHYCACHE_LIB_CACHE_POLL_SCHEDULE_H_
#define WHYCACHE_LIB_CACHE_POLL_SCHEDULE_H_

#include <algorithm>
#include <atomic>
#include <cstdint>

#include "lib/cache/shared_control.h"
#include "lib/io/clock.h"
#include "lib/tree/boot_id.h"

namespace whycache::cache {

// The longest pause between retries while the log is unreachable.
inline constexpr int64_t kMaxRetryBackoffNs = 5'000'000'000;

// True if the caller must poll now: the poll was due and this caller claimed it. The next due
// time moves one interval ahead, so a caller that dies while polling delays the machine's next
// poll by one interval at most.
inline bool ClaimDuePoll(SharedControl* control, int64_t now_ns) {
  int64_t due = control->next_poll_ns.load(std::memory_order_relaxed);
  if (now_ns < due) return false;
  const int64_t next = now_ns + control->poll_interval_ns.load(std::memory_order_relaxed);
  return control->next_poll_ns.compare_exchange_strong(due, next, std::memory_order_relaxed);
}

// After a failed poll: the next one waits twice as long each time, up to kMaxRetryBackoffNs.
inline void PollFailed(SharedControl* control, int64_t now_ns) {
  const uint32_t failures = control->consecutive_failures.fetch_add(1, std::memory_order_relaxed);
  const int64_t interval = control->poll_interval_ns.load(std::memory_order_relaxed);
  int64_t delay = interval;
  for (uint32_t i = 0; i < failures && delay < kMaxRetryBackoffNs; ++i) delay *= 2;
  control->next_poll_ns.store(now_ns + std::min(delay, kMaxRetryBackoffNs),
                              std::memory_order_relaxed);
}

inline void PollSucceeded(SharedControl* control) {
  control->consecutive_failures.store(0, std::memory_order_relaxed);
  control->unpolled_since_wall_us.store(0, std::memory_order_relaxed);
}

// Called when a process opens the state file, under the writer lock. A schedule kept from
// another boot (a state file on disk across a reboot) counts in a clock that has restarted, and
// could put the next poll as far ahead as that boot's uptime: it is dropped, the poll is due at
// once, and the machine counts as not polled since `wall_us`. Doing it here, once per boot,
// keeps ClaimDuePoll to one clock read and one load.
inline void StartScheduleForThisBoot(SharedControl* control, const tree::BootId& boot,
                                     int64_t wall_us) {
  if (control->schedule_boot[0].load(std::memory_order_relaxed) == boot[0] &&
      control->schedule_boot[1].load(std::memory_order_relaxed) == boot[1]) {
    return;
  }
  control->next_poll_ns.store(0, std::memory_order_relaxed);
  control->consecutive_failures.store(0, std::memory_order_relaxed);
  control->unpolled_since_wall_us.store(wall_us, std::memory_order_relaxed);
  control->schedule_boot[0].store(boot[0], std::memory_order_relaxed);
  control->schedule_boot[1].store(boot[1], std::memory_order_relaxed);
}

// The replication lag to report: the age of the newest applied update while the machine is
// behind the log or cannot tell (its last poll failed, or it has not polled since the file was
// made or the boot began), else 0. Never 0 for a machine that has not polled.
inline int64_t LagMicros(const SharedControl& control, uint64_t ids_behind, int64_t now_us) {
  const int64_t newest = control.newest_applied_write_us.load(std::memory_order_relaxed);
  const int64_t unpolled_since = control.unpolled_since_wall_us.load(std::memory_order_relaxed);
  if (unpolled_since != 0)
    return std::max<int64_t>(1, now_us - (newest != 0 ? newest : unpolled_since));
  const bool failing = control.consecutive_failures.load(std::memory_order_relaxed) > 0;
  return newest == 0 || (ids_behind == 0 && !failing) ? 0 : now_us - newest;
}

}  // namespace whycache::cache

#endif  // WHYCACHE_LIB_CACHE_POLL_SCHEDULE_H_
