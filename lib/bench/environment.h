// What a benchmark's figures depend on besides the code: how the code was built and the machine
// it ran on. A report carries both, so that a figure can be judged and reproduced.
#ifndef WHYCACHE_LIB_BENCH_ENVIRONMENT_H_
#define WHYCACHE_LIB_BENCH_ENVIRONMENT_H_

#include <cstdint>
#include <string>

namespace whycache::bench {

struct BuildFacts {
  // "opt": optimised, assertions off, no sanitizer (`bazel build --config=opt`). Otherwise
  // "fastbuild" (no optimisation: Bazel's default, or dbg), "opt-with-asserts" (optimised
  // without NDEBUG), "asan" or "tsan".
  std::string mode;
  // Whether the figures describe the product: true only for "opt".
  bool optimized = false;
  std::string compiler;  // E.g. "g++ 12.2.0".
};

struct MachineFacts {
  std::string cpu_model;  // From /proc/cpuinfo; "unknown" where it says nothing.
  int cores = 0;          // Online processors.
  uint64_t memory_bytes = 0;
  std::string kernel;  // uname's sysname and release, e.g. "Linux 6.1.0-13-amd64".
};

// The build this code was compiled in, from the compiler's own macros: it describes the binary
// that calls it only if the whole binary was built with the same flags, as Bazel does.
BuildFacts ThisBuild();

MachineFacts ThisMachine();

// The current time in UTC, ISO 8601 to the second: "2026-01-31T12:00:00Z".
std::string UtcNow();

}  // namespace whycache::bench

#endif  // WHYCACHE_LIB_BENCH_ENVIRONMENT_H_
