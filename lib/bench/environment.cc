#include "lib/bench/environment.h"

#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include <fstream>

namespace whycache::bench {

BuildFacts ThisBuild() {
  BuildFacts b;
#if defined(__SANITIZE_ADDRESS__)
  b.mode = "asan";
#elif defined(__SANITIZE_THREAD__)
  b.mode = "tsan";
#elif !defined(__OPTIMIZE__)
  b.mode = "fastbuild";
#elif !defined(NDEBUG)
  b.mode = "opt-with-asserts";
#else
  b.mode = "opt";
#endif
  b.optimized = b.mode == "opt";
#if defined(__clang__)
  b.compiler = "clang " __clang_version__;
#elif defined(__GNUC__)
  b.compiler = "g++ " __VERSION__;
#else
  b.compiler = "unknown";
#endif
  return b;
}

MachineFacts ThisMachine() {
  MachineFacts m;
  m.cpu_model = "unknown";
  std::ifstream cpuinfo("/proc/cpuinfo");
  for (std::string line; std::getline(cpuinfo, line);) {
    if (!line.starts_with("model name")) continue;
    const size_t colon = line.find(':');
    if (colon != std::string::npos && colon + 2 <= line.size())
      m.cpu_model = line.substr(colon + 2);
    break;
  }
  m.cores = static_cast<int>(sysconf(_SC_NPROCESSORS_ONLN));
  const long pages = sysconf(_SC_PHYS_PAGES);
  const long page_bytes = sysconf(_SC_PAGESIZE);
  if (pages > 0 && page_bytes > 0) {
    m.memory_bytes = static_cast<uint64_t>(pages) * static_cast<uint64_t>(page_bytes);
  }
  utsname u;
  if (uname(&u) == 0) m.kernel = std::string(u.sysname) + " " + u.release;
  return m;
}

std::string UtcNow() {
  const time_t now = time(nullptr);
  tm utc;
  gmtime_r(&now, &utc);
  char buf[32];
  strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &utc);
  return buf;
}

}  // namespace whycache::bench
