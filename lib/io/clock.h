// The clocks whycache reads. Wall-clock time is comparable across machines (write times in the
// log, replication lag); the coarse monotonic clock is for intervals within one boot and costs a
// few nanoseconds (the vDSO serves it), at a resolution of a few milliseconds.
#ifndef WHYCACHE_LIB_IO_CLOCK_H_
#define WHYCACHE_LIB_IO_CLOCK_H_

#include <time.h>

#include <cstdint>

namespace whycache::io {

// Wall-clock time in microseconds since the epoch. Thread- and process-safe.
inline int64_t NowMicros() {
  timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return int64_t{ts.tv_sec} * 1'000'000 + ts.tv_nsec / 1000;
}

// Monotonic time in nanoseconds since an arbitrary point of this boot, shared by every process
// of the machine. Thread- and process-safe.
inline int64_t CoarseMonotonicNanos() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
  return int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
}

}  // namespace whycache::io

#endif  // WHYCACHE_LIB_IO_CLOCK_H_
