#include "lib/cache/read_counters.h"

#include <deque>
#include <mutex>
#include <vector>

namespace whycache::cache {
namespace {

struct Registry {
  std::mutex mu;
  std::deque<ThreadReadCounters> blocks;  // A deque never moves what it holds.
  std::vector<ThreadReadCounters*> free;  // Blocks of ended threads, zeroed.
  ReadTotals ended;                       // What those threads counted.
};

Registry& TheRegistry() {
  static Registry* registry = new Registry();  // Never destroyed: threads may outlive main.
  return *registry;
}

// Hands the calling thread's block back when the thread ends.
struct BlockReturner {
  ThreadReadCounters* block = nullptr;

  ~BlockReturner() {
    if (block == nullptr) return;
    Registry& r = TheRegistry();
    std::lock_guard lock(r.mu);
    r.ended.hits += block->hits.exchange(0, std::memory_order_relaxed);
    r.ended.misses += block->misses.exchange(0, std::memory_order_relaxed);
    r.free.push_back(block);
    this_thread_read_counters = nullptr;
  }
};

thread_local BlockReturner t_returner;

}  // namespace

ThreadReadCounters* RegisterThreadReadCounters() {
  Registry& r = TheRegistry();
  ThreadReadCounters* block;
  {
    std::lock_guard lock(r.mu);
    if (r.free.empty()) {
      block = &r.blocks.emplace_back();
    } else {
      block = r.free.back();
      r.free.pop_back();
    }
  }
  t_returner.block = block;
  return block;
}

ReadTotals SumReadCounters() {
  Registry& r = TheRegistry();
  std::lock_guard lock(r.mu);
  ReadTotals totals = r.ended;
  for (const ThreadReadCounters& b : r.blocks) {
    totals.hits += b.hits.load(std::memory_order_relaxed);
    totals.misses += b.misses.load(std::memory_order_relaxed);
  }
  return totals;
}

}  // namespace whycache::cache
