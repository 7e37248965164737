#include "lib/cache/read_counters.h"

#include <deque>
#include <mutex>

namespace whycache::cache {
namespace {

struct Registry {
  std::mutex mu;
  std::deque<ThreadReadCounters> blocks;  // A deque never moves what it holds.
};

Registry& TheRegistry() {
  static Registry* registry = new Registry();  // Never destroyed: threads may outlive main.
  return *registry;
}

}  // namespace

ThreadReadCounters* RegisterThreadReadCounters() {
  Registry& r = TheRegistry();
  std::lock_guard lock(r.mu);
  return &r.blocks.emplace_back();
}

ReadTotals SumReadCounters() {
  Registry& r = TheRegistry();
  std::lock_guard lock(r.mu);
  ReadTotals totals;
  for (const ThreadReadCounters& b : r.blocks) {
    totals.hits += b.hits.load(std::memory_order_relaxed);
    totals.misses += b.misses.load(std::memory_order_relaxed);
  }
  return totals;
}

}  // namespace whycache::cache
