// When the log is polled: at most once per interval per machine, however many processes call
// update(). The schedule is a single shared time; a caller that finds it due claims the poll by
// moving the time forward with one compare-and-swap, so exactly one caller wins each due time and
// the rest return at once. A caller that finds it not due pays one clock read and one load.
#ifndef WHYCACHE_LIB_CACHE_POLL_SCHEDULE_H_
#define WHYCACHE_LIB_CACHE_POLL_SCHEDULE_H_

#include <time.h>

#include <algorithm>
#include <atomic>
#include <cstdint>

#include "lib/cache/shared_control.h"

namespace whycache::cache {

// The longest pause between retries while the log is unreachable.
inline constexpr int64_t kMaxRetryBackoffNs = 5'000'000'000;

// A monotonic clock shared by all processes of the machine. The coarse clock is read from the
// vDSO in a few nanoseconds; its resolution (a few milliseconds) is far below poll intervals.
inline int64_t MonotonicNowNs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
  return int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
}

// Wall-clock time in microseconds since the epoch: comparable across machines (write times in
// the log), unlike the monotonic clock.
inline int64_t WallMicros() {
  timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return int64_t{ts.tv_sec} * 1'000'000 + ts.tv_nsec / 1000;
}

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
}

}  // namespace whycache::cache

#endif  // WHYCACHE_LIB_CACHE_POLL_SCHEDULE_H_
