#include "lib/bench/replication_lag.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <string>
#include <thread>

#include "whycache/error.h"

namespace whycache::bench {
namespace {

constexpr const char* kLagKey = "bench:lag";

}  // namespace

ReplicationLagProbe::ReplicationLagProbe(const CacheOptions& a, const CacheOptions& b,
                                         uint64_t seed)
    : interval_(b.poll_interval), rng_(seed) {
  // The serving process opens machine B on its own: it inherits no Cache of this process.
  Cache::Open(b);
  std::fflush(nullptr);
  server_ = fork();
  if (server_ < 0) throw Error(Error::Code::kIOError, "replication lag: fork failed");
  if (server_ == 0) {
    int status = 1;
    try {
      auto cache = Cache::Open(b);
      const auto deadline = std::chrono::steady_clock::now() + std::chrono::minutes(5);
      while (std::chrono::steady_clock::now() < deadline) {
        cache->Update();
        std::this_thread::sleep_for(std::chrono::microseconds(200));
      }
      status = 0;
    } catch (const std::exception& e) {
      std::fprintf(stderr, "replication lag: machine B's process: %s\n", e.what());
    }
    _exit(status);
  }
  a_ = Cache::Open(a);
  b_reader_ = Cache::Open(b);
}

ReplicationLagProbe::~ReplicationLagProbe() {
  if (server_ < 0) return;
  kill(server_, SIGKILL);
  while (waitpid(server_, nullptr, 0) < 0 && errno == EINTR) {
  }
}

void ReplicationLagProbe::ThrowIfServerDied() {
  int status = 0;
  if (waitpid(server_, &status, WNOHANG) != server_) return;
  server_ = -1;
  throw Error(
      Error::Code::kIOError,
      "replication lag: machine B's serving process " +
          (WIFSIGNALED(status) ? "died of signal " + std::to_string(WTERMSIG(status))
                               : "exited with status " + std::to_string(WEXITSTATUS(status))));
}

void ReplicationLagProbe::WaitRandomPhase() {
  const uint64_t interval_us = static_cast<uint64_t>(interval_.count()) * 1000;
  std::this_thread::sleep_for(std::chrono::microseconds(rng_() % (interval_us + 1)));
}

double ReplicationLagProbe::SampleMs() {
  const std::string value = std::to_string(++writes_);
  a_->Set(kLagKey, value);
  const auto written = std::chrono::steady_clock::now();
  const auto deadline = written + std::chrono::seconds(10);
  while (b_reader_->Get(kLagKey) != value) {
    if (std::chrono::steady_clock::now() > deadline) {
      ThrowIfServerDied();
      const CacheStats b = b_reader_->Stats();
      throw Error(Error::Code::kTimedOut,
                  "replication lag: machine B did not serve write " + std::to_string(writes_) +
                      " within 10 s (B applied id " + std::to_string(b.applied_id) + ", " +
                      std::to_string(b.polls) + " polls, last error: " +
                      (b.last_error.empty() ? "none" : b.last_error) + ")");
    }
    std::this_thread::sleep_for(std::chrono::microseconds(100));
  }
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - written)
      .count();
}

}  // namespace whycache::bench
