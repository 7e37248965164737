// This process's read counters (hits and misses). Each thread counts in its own block, so a read
// pays a plain increment rather than an atomic read-modify-write on a shared cache line; Stats()
// sums the blocks.
#ifndef WHYCACHE_LIB_CACHE_READ_COUNTERS_H_
#define WHYCACHE_LIB_CACHE_READ_COUNTERS_H_

#include <atomic>
#include <cstdint>

namespace whycache::cache {

struct ThreadReadCounters {
  // Written only by the owning thread; atomics so that Stats() may read them meanwhile.
  std::atomic<uint64_t> hits{0};
  std::atomic<uint64_t> misses{0};

  void Count(bool hit) {
    std::atomic<uint64_t>& c = hit ? hits : misses;
    c.store(c.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  }
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

struct ReadTotals {
  uint64_t hits = 0;
  uint64_t misses = 0;
};

// The sums over every thread of the process, past and present.
ReadTotals SumReadCounters();

}  // namespace whycache::cache

#endif  // WHYCACHE_LIB_CACHE_READ_COUNTERS_H_
