// One-byte messages through a pipe, for a child process to tell the test (or another child)
// that it has reached a point, so that the test acts on that point instead of on a sleep.
#ifndef WHYCACHE_TESTS_SUPPORT_PIPE_SIGNAL_H_
#define WHYCACHE_TESTS_SUPPORT_PIPE_SIGNAL_H_

#include <chrono>

namespace whycache::testing {

// Writes one byte to `fd`; false if it could not (e.g. the reading end is closed).
// Async-signal-safe, so a forked child may call it anywhere.
bool WriteByte(int fd);

// Waits up to `timeout` for one byte on `fd` and consumes it; false if none came in time or
// the writing end was closed first.
bool ReadByte(int fd, std::chrono::milliseconds timeout);

}  // namespace whycache::testing

#endif  // WHYCACHE_TESTS_SUPPORT_PIPE_SIGNAL_H_
