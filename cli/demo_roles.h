// The jobs of the processes `whycache demo` forks: service workers that read, an admin tool that
// writes and a cron job that compacts. Each runs in a process of its own, writes what it measured
// to `result_path` (see demo_results.h) and returns its exit status: 0 if all went well.
#ifndef WHYCACHE_CLI_DEMO_ROLES_H_
#define WHYCACHE_CLI_DEMO_ROLES_H_

#include <chrono>
#include <cstdint>
#include <string>

#include "whycache/cache.h"

namespace whycache::cli::demo {

using Clock = std::chrono::steady_clock;

inline double Milliseconds(Clock::duration d) {
  return std::chrono::duration<double, std::milli>(d).count();
}

// A service worker from `start` until `deadline`: before each request it calls Update(), then
// serves the request with zero-copy reads from one read transaction, and notes each heartbeat
// the first time it sees it. `seed` chooses the keys it asks for.
int RunReader(const CacheOptions& options, Clock::time_point start, Clock::time_point deadline,
              const std::string& result_path, uint64_t seed);

// The admin tool from `start` until `deadline`: change batches, each with the next heartbeat, at
// a steady pace.
int RunWriter(const CacheOptions& options, Clock::time_point start, Clock::time_point deadline,
              const std::string& result_path);

// The cron job: at `at`, one compaction of the whole history of the log at `log_uri`, while the
// writer and readers carry on.
int RunCompactor(const std::string& log_uri, Clock::time_point at, const std::string& result_path);

}  // namespace whycache::cli::demo

#endif  // WHYCACHE_CLI_DEMO_ROLES_H_
