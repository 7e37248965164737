#include "lib/io/child_process.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <thread>

#include "whycache/error.h"

namespace whycache::io {

ChildProcess::ChildProcess(const std::function<int()>& body) {
  // Flush so buffered output of the parent is not written twice.
  std::fflush(nullptr);
  pid_ = fork();
  if (pid_ < 0) {
    throw Error(Error::Code::kIOError, std::string("fork failed: ") + std::strerror(errno));
  }
  if (pid_ == 0) {
    int code = kUncaughtException;
    try {
      code = body();
    } catch (const std::exception& e) {
      std::fprintf(stderr, "child %d: uncaught exception: %s\n", getpid(), e.what());
    } catch (...) {
      std::fprintf(stderr, "child %d: uncaught non-standard exception\n", getpid());
    }
    std::fflush(nullptr);
    _exit(code);
  }
}

ChildProcess::ChildProcess(ChildProcess&& other) noexcept
    : pid_(other.pid_), status_(other.status_) {
  other.pid_ = -1;
}

ChildProcess::~ChildProcess() {
  if (pid_ > 0 && !status_) {
    kill(pid_, SIGKILL);
    Wait();
  }
}

void ChildProcess::Signal(int signal) {
  if (pid_ > 0 && !status_) kill(pid_, signal);
}

int ChildProcess::Wait() {
  while (!status_) {
    int status = 0;
    pid_t r = waitpid(pid_, &status, 0);
    if (r == pid_) {
      status_ = status;
    } else if (r < 0 && errno != EINTR) {
      throw Error(Error::Code::kIOError,
                  "waitpid " + std::to_string(pid_) + " failed: " + std::strerror(errno));
    }
  }
  return *status_;
}

std::optional<int> ChildProcess::WaitFor(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!status_) {
    int status = 0;
    pid_t r = waitpid(pid_, &status, WNOHANG);
    if (r == pid_) {
      status_ = status;
      break;
    }
    if (r < 0 && errno != EINTR) {
      throw Error(Error::Code::kIOError,
                  "waitpid " + std::to_string(pid_) + " failed: " + std::strerror(errno));
    }
    if (std::chrono::steady_clock::now() >= deadline) return std::nullopt;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return status_;
}

bool ChildProcess::Succeeded(int wait_status) {
  return WIFEXITED(wait_status) && WEXITSTATUS(wait_status) == 0;
}

std::string ChildProcess::Describe(int wait_status) {
  if (WIFEXITED(wait_status)) return "exited with " + std::to_string(WEXITSTATUS(wait_status));
  if (WIFSIGNALED(wait_status)) {
    return "killed by signal " + std::to_string(WTERMSIG(wait_status)) + " (" +
           strsignal(WTERMSIG(wait_status)) + ")";
  }
  return "wait status " + std::to_string(wait_status);
}

}  // namespace whycache::io
