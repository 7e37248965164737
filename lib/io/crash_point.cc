#include "lib/io/crash_point.h"

#include <signal.h>
#include <unistd.h>

#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <string>

namespace whycache::io {
namespace crash_point_internal {

constinit std::atomic<bool> armed{false};

namespace {

// Guards the armed point's settings and count against concurrent reaches.
std::mutex& Mutex() {
  static std::mutex mu;
  return mu;
}

struct Armed {
  std::string name;
  uint64_t remaining = 0;  // Reaches left before the one that kills.
  int report_fd = -1;
};

Armed& Settings() {
  static Armed settings;
  return settings;
}

}  // namespace

void Reached(std::string_view name) {
  std::lock_guard lock(Mutex());
  Armed& a = Settings();
  if (!armed.load(std::memory_order_relaxed) || name != a.name) return;
  if (--a.remaining > 0) return;
  if (a.report_fd >= 0) {
    const std::string line = a.name + "\n";
    // A short or failed write only costs the parent its proof of which point fired.
    [[maybe_unused]] const ssize_t ignored = write(a.report_fd, line.data(), line.size());
  }
  raise(SIGKILL);
}

}  // namespace crash_point_internal

void ArmCrashPoint(std::string_view name, uint64_t nth, int report_fd) {
  std::lock_guard lock(crash_point_internal::Mutex());
  crash_point_internal::Armed& a = crash_point_internal::Settings();
  a.name = std::string(name);
  a.remaining = nth == 0 ? 1 : nth;
  a.report_fd = report_fd;
  crash_point_internal::armed.store(true, std::memory_order_relaxed);
}

bool ArmCrashPointFromSpec(std::string_view spec) {
  const size_t colon = spec.find(':');
  const std::string_view name = spec.substr(0, colon);
  uint64_t nth = 1;
  if (colon != std::string_view::npos) {
    const std::string_view count = spec.substr(colon + 1);
    const auto [end, error] = std::from_chars(count.data(), count.data() + count.size(), nth);
    if (error != std::errc() || end != count.data() + count.size() || nth == 0) return false;
  }
  if (name.empty()) return false;
  ArmCrashPoint(name, nth);
  return true;
}

void DisarmCrashPoints() {
  std::lock_guard lock(crash_point_internal::Mutex());
  crash_point_internal::armed.store(false, std::memory_order_relaxed);
}

namespace {

// WHYCACHE_CRASH_AT, once, before main. A malformed value stops the program: a test that meant
// to crash somewhere must not pass by running undisturbed.
const bool kArmedFromEnvironment = [] {
  const char* spec = std::getenv("WHYCACHE_CRASH_AT");
  if (spec == nullptr || *spec == '\0') return false;
  if (!ArmCrashPointFromSpec(spec)) {
    std::fprintf(stderr, "WHYCACHE_CRASH_AT=%s: expected NAME or NAME:NTH with NTH >= 1\n", spec);
    std::abort();
  }
  return true;
}();

}  // namespace
}  // namespace whycache::io
