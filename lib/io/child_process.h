// A forked child process that runs a function: the workers of `whycache demo`, and the real
// processes of multi-process and crash tests.
#ifndef WHYCACHE_LIB_IO_CHILD_PROCESS_H_
#define WHYCACHE_LIB_IO_CHILD_PROCESS_H_

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <optional>
#include <string>

namespace whycache::io {

// A forked child that runs a function and exits with its return value. The child leaves through
// _exit, so it runs no destructors or atexit handlers of the parent's objects; an exception that
// escapes `body` is printed to stderr and becomes exit status kUncaughtException.
//
// Not thread-safe; fork from a single-threaded process (the child gets only the forking thread).
class ChildProcess {
 public:
  static constexpr int kUncaughtException = 99;

  // Forks and runs `body` in the child. Throws Error(kIOError) if fork fails.
  explicit ChildProcess(const std::function<int()>& body);
  // Kills (SIGKILL) and reaps the child if it is still running, so that none outlives its owner
  // (e.g. when the owner leaves early through an exception).
  ~ChildProcess();
  ChildProcess(ChildProcess&& other) noexcept;
  ChildProcess& operator=(ChildProcess&&) = delete;
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  pid_t pid() const { return pid_; }

  // Sends `signal` to the child (no effect once it has been reaped).
  void Signal(int signal);

  // Waits for the child to end and returns its wait status (as from waitpid). Throws
  // Error(kIOError) if waitpid fails.
  int Wait();
  // Waits at most `timeout`; returns the wait status, or nullopt if it is still running.
  std::optional<int> WaitFor(std::chrono::milliseconds timeout);

  // True if the child exited by itself with status 0.
  static bool Succeeded(int wait_status);
  // "exited with 3", "killed by signal 9", ... for assertion messages.
  static std::string Describe(int wait_status);

 private:
  pid_t pid_ = -1;
  std::optional<int> status_;
};

}  // namespace whycache::io

#endif  // WHYCACHE_LIB_IO_CHILD_PROCESS_H_
