// The machine's per-prefix read counts: a file of their own next to the state file
// (STATE_PATH.read-stats), mapped by every process that counts prefixes (CacheOptions::
// stat_prefixes) and read by any that shows them. The state file's control block has no room left
// for them, and they are not part of the state.
//
// The file holds the prefixes that processes count, by name (at most kReadStatsNames, appended
// under an flock and never removed), and kReadStatsSlots slots, each a process's counts per name.
// A process claims a slot and publishes its sums into it from time to time (plain stores: only
// the owner writes a slot); the machine's figures are the sums over all slots. Who owns a slot is
// told by a token, the liveness lock of lib/tree/liveness_lock.h taken in this file: unlike a pid,
// it holds across PID namespaces and pid reuse. A slot whose owner died keeps its counts; the
// process that claims it next keeps them as its base and publishes base + its own sums, so the
// machine's figures never go back, whenever any process is killed (claiming is one
// compare-and-swap of the token, publishing a store per counter, both monotone).
//
// A forked child takes a slot of its own at its next publication (it has no liveness token of its
// own until then; see LivenessLock), and its counts start from zero (SumReadCounters).
#ifndef WHYCACHE_LIB_CACHE_MACHINE_READ_STATS_H_
#define WHYCACHE_LIB_CACHE_MACHINE_READ_STATS_H_

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "lib/cache/read_counters.h"
#include "whycache/cache.h"

namespace whycache::cache {

inline constexpr uint32_t kReadStatsSlots = 1024;  // Processes counting prefixes at once.
inline constexpr uint32_t kReadStatsNames = 256;   // Distinct prefixes a machine ever counts.

std::string ReadStatsPath(const std::string& state_path);

struct MachinePrefixTotals {
  std::string prefix;
  uint64_t hits = 0;
  uint64_t misses = 0;
};

class ReadStatsFile;

// The machine's figures in the read-stats file of `state_path`, every prefix it names in the
// order they were first counted; empty when there is no such file. Needs only read access.
// Throws Error(kCorruption) for a damaged file and Error(kIncompatible) for one of another format
// version, naming it: a Cache opened with stat_prefixes replaces such a file.
std::vector<MachinePrefixTotals> ReadMachineReadStats(const std::string& state_path);

// What a Cache opened with stat_prefixes holds: it counts them in this process while it lives and
// publishes this process's sums into the machine's file.
class CacheReadStats {
 public:
  // Counts `prefixes` (validated by CheckStatPrefixes) and opens the read-stats file of
  // `state_path`, creating it when missing. A file that fails validation (damaged, not a
  // read-stats file, or of another format version) is moved to PATH.bad and made anew: the
  // machine's per-prefix figures then start from zero. Publishes at most once per
  // `publish_interval` from PublishIfDue. Throws Error(kInvalidArgument) when the process or the
  // file would count too many prefixes, Error(kBusy) when live processes hold every slot,
  // Error(kIOError) naming the file when it cannot be made, opened or locked.
  CacheReadStats(const std::string& state_path, const std::vector<std::string>& prefixes,
                 std::chrono::nanoseconds publish_interval);
  ~CacheReadStats();  // Publishes a last time.
  CacheReadStats(const CacheReadStats&) = delete;
  CacheReadStats& operator=(const CacheReadStats&) = delete;

  // For Update(): when a publication is due, one caller publishes; errors go to stderr, once.
  // A call that is not due costs a load.
  void PublishIfDue(int64_t now_ns) noexcept {
    int64_t due = next_publish_ns_.load(std::memory_order_relaxed);
    if (now_ns < due) return;
    if (next_publish_ns_.compare_exchange_strong(due, now_ns + publish_interval_ns_,
                                                 std::memory_order_relaxed)) {
      PublishFromUpdate();
    }
  }

  // The Stats() figures, after publishing: this Cache's prefixes in the order given, then the
  // other prefixes the machine's file names. Throws the errors of publishing.
  std::vector<PrefixReadStats> Figures();

 private:
  void PublishFromUpdate() noexcept;

  CountedPrefixes counted_;
  ReadStatsFile* file_;  // The process's one object for the file, never destroyed.
  const std::vector<std::string> prefixes_;
  const int64_t publish_interval_ns_;
  std::atomic<int64_t> next_publish_ns_{0};
  std::once_flag reported_;  // A publication failure from Update() is told once.
};

// The Stats() figures of a Cache opened without stat_prefixes: every prefix of the machine's
// file, with this process's counts toward it (0 unless another Cache of the process counts it).
std::vector<PrefixReadStats> PrefixFiguresOfMachine(const std::string& state_path);

}  // namespace whycache::cache

#endif  // WHYCACHE_LIB_CACHE_MACHINE_READ_STATS_H_
