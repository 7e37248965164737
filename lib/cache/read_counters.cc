#include "lib/cache/read_counters.h"

#include <pthread.h>

#include <algorithm>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <vector>

#include "whycache/cache.h"
#include "whycache/error.h"
#include "whycache/limits.h"

namespace whycache::cache {
namespace {

struct Totals {
  uint64_t hits = 0;
  uint64_t misses = 0;
};

struct Registry {
  std::mutex mu;
  std::deque<ThreadReadCounters> blocks;  // A deque never moves what it holds.
  std::vector<ThreadReadCounters*> free;  // Blocks of ended threads, zeroed.
  Totals ended;                           // What those threads counted.
  std::array<Totals, kMaxProcessStatPrefixes> ended_by_prefix;
  std::vector<std::string> names;  // Every prefix ever counted, by index.
  std::vector<uint32_t> users;     // Live CountedPrefixes naming each.
  // One table per set of prefixes counted at once (a bit per index), never freed.
  std::map<uint64_t, std::unique_ptr<const PrefixTable>> tables;
  const PrefixTable* counted = nullptr;  // What every block points to.
};

Registry& TheRegistry();

// A forked child's only thread runs this while it holds the lock taken before the fork, so that
// no block was being registered or returned, nor the sums taken, when the fork copied them.
void ForgetCountsOfParent() {
  Registry& r = TheRegistry();
  for (ThreadReadCounters& b : r.blocks) {
    b.hits.store(0, std::memory_order_relaxed);
    b.misses.store(0, std::memory_order_relaxed);
    for (PrefixCounters& c : b.by_prefix) {
      c.hits.store(0, std::memory_order_relaxed);
      c.misses.store(0, std::memory_order_relaxed);
    }
  }
  r.ended = {};
  r.ended_by_prefix = {};
  r.mu.unlock();
}

Registry& TheRegistry() {
  // Never destroyed: threads may outlive main.
  static Registry* registry = [] {
    auto* r = new Registry();
    pthread_atfork([] { TheRegistry().mu.lock(); }, [] { TheRegistry().mu.unlock(); },
                   ForgetCountsOfParent);
    return r;
  }();
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
    for (size_t i = 0; i < kMaxProcessStatPrefixes; ++i) {
      r.ended_by_prefix[i].hits += block->by_prefix[i].hits.exchange(0, std::memory_order_relaxed);
      r.ended_by_prefix[i].misses +=
          block->by_prefix[i].misses.exchange(0, std::memory_order_relaxed);
    }
    r.free.push_back(block);
    this_thread_read_counters = nullptr;
  }
};

thread_local BlockReturner t_returner;

std::unique_ptr<const PrefixTable> MakeTable(const std::vector<std::string>& names, uint64_t set) {
  auto table = std::make_unique<PrefixTable>();
  for (uint32_t i = 0; i < names.size(); ++i) {
    if (set >> i & 1) table->entries.push_back({names[i], i});
  }
  std::stable_sort(table->entries.begin(), table->entries.end(), [](const auto& a, const auto& b) {
    return static_cast<unsigned char>(a.prefix[0]) < static_cast<unsigned char>(b.prefix[0]);
  });
  size_t e = 0;
  for (int b = 0; b <= 256; ++b) {
    while (e < table->entries.size() &&
           static_cast<unsigned char>(table->entries[e].prefix[0]) < b) {
      ++e;
    }
    table->first[b] = static_cast<uint8_t>(e);
  }
  return table;
}

// Points every block at the table of the prefixes that live CountedPrefixes name.
// REQUIRES: r.mu held.
void PointBlocksAtCountedPrefixes(Registry& r) {
  uint64_t set = 0;
  for (uint32_t i = 0; i < r.users.size(); ++i) {
    if (r.users[i] > 0) set |= uint64_t{1} << i;
  }
  const PrefixTable* table = nullptr;
  if (set != 0) {
    std::unique_ptr<const PrefixTable>& made = r.tables[set];
    if (made == nullptr) made = MakeTable(r.names, set);
    table = made.get();
  }
  r.counted = table;
  for (ThreadReadCounters& b : r.blocks) b.prefixes.store(table, std::memory_order_release);
}

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
    block->prefixes.store(r.counted, std::memory_order_release);
  }
  t_returner.block = block;
  return block;
}

ReadTotals SumReadCounters() {
  Registry& r = TheRegistry();
  std::lock_guard lock(r.mu);
  ReadTotals totals{.hits = r.ended.hits, .misses = r.ended.misses};
  totals.prefixes.resize(r.names.size());
  for (size_t i = 0; i < r.names.size(); ++i) {
    totals.prefixes[i] = {r.names[i], r.ended_by_prefix[i].hits, r.ended_by_prefix[i].misses};
  }
  for (const ThreadReadCounters& b : r.blocks) {
    totals.hits += b.hits.load(std::memory_order_relaxed);
    totals.misses += b.misses.load(std::memory_order_relaxed);
    for (size_t i = 0; i < r.names.size(); ++i) {
      totals.prefixes[i].hits += b.by_prefix[i].hits.load(std::memory_order_relaxed);
      totals.prefixes[i].misses += b.by_prefix[i].misses.load(std::memory_order_relaxed);
    }
  }
  return totals;
}

void CheckStatPrefixes(const std::vector<std::string>& prefixes) {
  const auto invalid = [](const std::string& why) {
    throw Error(Error::Code::kInvalidArgument, "CacheOptions::stat_prefixes: " + why);
  };
  if (prefixes.size() > kMaxStatPrefixes) {
    invalid(std::to_string(prefixes.size()) + " prefixes given, at most " +
            std::to_string(kMaxStatPrefixes) + " allowed");
  }
  for (size_t i = 0; i < prefixes.size(); ++i) {
    const std::string& p = prefixes[i];
    if (p.empty()) invalid("prefix " + std::to_string(i) + " is empty");
    if (p.size() > kMaxKeyBytes) {
      invalid("prefix " + std::to_string(i) + " has " + std::to_string(p.size()) +
              " bytes, more than the " + std::to_string(kMaxKeyBytes) + " of the longest key");
    }
    if (std::find(prefixes.begin(), prefixes.begin() + i, p) != prefixes.begin() + i) {
      invalid("prefix " + std::to_string(i) + " is given twice");
    }
  }
}

CountedPrefixes::CountedPrefixes(const std::vector<std::string>& prefixes) {
  Registry& r = TheRegistry();
  std::lock_guard lock(r.mu);
  size_t added = 0;
  for (const std::string& p : prefixes) {
    added += std::find(r.names.begin(), r.names.end(), p) == r.names.end();
  }
  if (r.names.size() + added > kMaxProcessStatPrefixes) {
    throw Error(Error::Code::kInvalidArgument,
                "CacheOptions::stat_prefixes: this process would count " +
                    std::to_string(r.names.size() + added) + " distinct prefixes, more than the " +
                    std::to_string(kMaxProcessStatPrefixes) + " one process may count");
  }
  for (const std::string& p : prefixes) {
    auto it = std::find(r.names.begin(), r.names.end(), p);
    if (it == r.names.end()) {
      r.names.push_back(p);
      r.users.push_back(0);
      it = r.names.end() - 1;
    }
    const auto index = static_cast<uint32_t>(it - r.names.begin());
    ++r.users[index];
    indexes_.push_back(index);
  }
  PointBlocksAtCountedPrefixes(r);
}

CountedPrefixes::~CountedPrefixes() {
  Registry& r = TheRegistry();
  std::lock_guard lock(r.mu);
  for (uint32_t index : indexes_) --r.users[index];
  PointBlocksAtCountedPrefixes(r);
}

void ThreadReadCounters::CountPrefixes(const PrefixTable& table, bool hit, std::string_view key) {
  if (key.empty()) return;
  const auto b = static_cast<unsigned char>(key[0]);
  for (uint32_t i = table.first[b]; i < table.first[b + 1]; ++i) {
    const PrefixTable::Entry& e = table.entries[i];
    if (key.starts_with(e.prefix)) {
      PrefixCounters& c = by_prefix[e.index];
      Bump(hit ? c.hits : c.misses);
    }
  }
}

}  // namespace whycache::cache
