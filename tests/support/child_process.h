// Real child processes for multi-process and crash tests.
#ifndef WHYCACHE_TESTS_SUPPORT_CHILD_PROCESS_H_
#define WHYCACHE_TESTS_SUPPORT_CHILD_PROCESS_H_

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <optional>
#include <string>

namespace whycache::testing {

// A forked child that runs a function and exits with its return value. The child leaves through
// _exit, so it runs no destructors or atexit handlers of the parent's objects; an exception that
// escapes `body` is printed to stderr and becomes exit status kUncaughtException.
//
// Not thread-safe; fork from a single-threaded test (the child gets only the forking thread).
class ChildProcess {
 public:
  static constexpr int kUncaughtException = 99;

  // Forks and runs `body` in the child. Throws std::runtime_error if fork fails.
  explicit ChildProcess(const std::function<int()>& body);
  // Kills (SIGKILL) and reaps the child if it is still running, so no test leaves one behind.
  ~ChildProcess();
  ChildProcess(ChildProcess&& other) noexcept;
  ChildProcess& operator=(ChildProcess&&) = delete;
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  pid_t pid() const { return pid_; }

  // Sends `signal` to the child (no effect once it has been reaped).
  void Signal(int signal);

  // Waits for the child to end and returns its wait status (as from waitpid).
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

}  // namespace whycache::testing

#endif  // WHYCACHE_TESTS_SUPPORT_CHILD_PROCESS_H_
