// This process's read counters: hits and misses, in all and per configured key prefix. Each thread
// counts in its own block, so a read pays plain increments rather than atomic read-modify-writes
// on a shared cache line; Stats() sums the blocks.
//
// Prefixes: while a Cache opened with CacheOptions::stat_prefixes is open, every read of the
// process (through any Cache) counts toward each of its prefixes that the key starts with. The
// prefixes counted are those of the Caches open now; each distinct prefix the process ever counted
// keeps an index of its own, so its sums survive the Caches that named it.
#ifndef WHYCACHE_LIB_CACHE_READ_COUNTERS_H_
#define WHYCACHE_LIB_CACHE_READ_COUNTERS_H_

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace whycache::cache {

// Distinct prefixes one process may count over its life (each Cache names at most
// kMaxStatPrefixes of them).
inline constexpr size_t kMaxProcessStatPrefixes = 64;

// A set of prefixes to match keys against. Immutable once made, and never freed: a reading thread
// may still hold one that has since been replaced.
struct PrefixTable {
  struct Entry {
    std::string prefix;
    uint32_t index;  // The prefix's counters in every ThreadReadCounters.
  };
  // Sorted by first byte: the entries of keys starting with byte b are
  // entries[first[b] .. first[b + 1]), so a key whose first byte starts no prefix costs one load.
  std::vector<Entry> entries;
  std::array<uint8_t, 257> first{};
};

struct PrefixCounters {
  std::atomic<uint64_t> hits{0};
  std::atomic<uint64_t> misses{0};
};

struct ThreadReadCounters {
  // Written only by the owning thread; atomics so that Stats() may read them meanwhile.
  std::atomic<uint64_t> hits{0};
  std::atomic<uint64_t> misses{0};
  // The prefixes counted now, or nullptr when none: what a read without prefixes pays for them is
  // this load and one branch. Stored by SetCountedPrefixes under the registry's lock.
  std::atomic<const PrefixTable*> prefixes{nullptr};
  std::array<PrefixCounters, kMaxProcessStatPrefixes> by_prefix;

  // Counts one read of `key`.
  void Count(bool hit, std::string_view key) {
    Bump(hit ? hits : misses);
    if (const PrefixTable* table = prefixes.load(std::memory_order_acquire)) [[unlikely]] {
      CountPrefixes(*table, hit, key);
    }
  }

  static void Bump(std::atomic<uint64_t>& c) {
    c.store(c.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  }

 private:
  // Out of line: inlined into every get, the matching loop made a get without prefixes 40%
  // slower (more code between two gets' cache misses), branch untaken or not.
  [[gnu::noinline]] void CountPrefixes(const PrefixTable& table, bool hit, std::string_view key);
};

// Registers a block for the calling thread, reusing the block of a thread that ended. When the
// calling thread ends, its counts move to the process's totals and the block is free again, so
// a process that starts and ends threads all day keeps as many blocks as it has threads at once.
ThreadReadCounters* RegisterThreadReadCounters();

inline thread_local ThreadReadCounters* this_thread_read_counters = nullptr;

inline ThreadReadCounters& ReadCountersForThisThread() {
  if (this_thread_read_counters == nullptr) {
    this_thread_read_counters = RegisterThreadReadCounters();
  }
  return *this_thread_read_counters;
}

struct PrefixTotals {
  std::string prefix;
  uint64_t hits = 0;
  uint64_t misses = 0;
};

struct ReadTotals {
  uint64_t hits = 0;
  uint64_t misses = 0;
  // Every prefix the process ever counted, by its index.
  std::vector<PrefixTotals> prefixes;
};

// The sums over every thread of the process, past and present. A forked child starts from zero:
// the counts its parent's threads made before the fork are not the child's.
ReadTotals SumReadCounters();

// Throws Error(kInvalidArgument) naming what is wrong unless `prefixes` may be
// CacheOptions::stat_prefixes: at most kMaxStatPrefixes, each non-empty, within kMaxKeyBytes, and
// no two equal.
void CheckStatPrefixes(const std::vector<std::string>& prefixes);

// Counts reads toward `prefixes` while it lives (with those of the other live ones).
class CountedPrefixes {
 public:
  // Throws Error(kInvalidArgument) when the process would have counted more than
  // kMaxProcessStatPrefixes distinct prefixes. REQUIRES: CheckStatPrefixes(prefixes) passed.
  explicit CountedPrefixes(const std::vector<std::string>& prefixes);
  ~CountedPrefixes();
  CountedPrefixes(const CountedPrefixes&) = delete;
  CountedPrefixes& operator=(const CountedPrefixes&) = delete;

  // The index of each prefix (ReadTotals::prefixes), in the order given.
  const std::vector<uint32_t>& indexes() const { return indexes_; }

 private:
  std::vector<uint32_t> indexes_;
};

}  // namespace whycache::cache

#endif  // WHYCACHE_LIB_CACHE_READ_COUNTERS_H_
