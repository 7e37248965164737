// The per-thread read counters under thread churn: a server that starts and ends threads all
// day keeps a bounded number of blocks and loses no count.
#include "lib/cache/read_counters.h"

#include <thread>

#include "gtest/gtest.h"

namespace whycache::cache {
namespace {

TEST(ReadCountersTest, BlocksOfEndedThreadsAreReusedAndTheirCountsKept) {
  const ReadTotals start = SumReadCounters();
  ThreadReadCounters* first = nullptr;
  std::thread([&] {
    first = &ReadCountersForThisThread();
    first->Count(true);
  }).join();
  constexpr int kThreads = 1000;
  for (int i = 0; i < kThreads; ++i) {
    ThreadReadCounters* block = nullptr;
    std::thread([&] {
      block = &ReadCountersForThisThread();
      block->Count(i % 2 == 0);
    }).join();
    ASSERT_EQ(block, first) << "thread " << i << " got a block of its own; ended ones leak";
  }
  const ReadTotals end = SumReadCounters();
  EXPECT_EQ(end.hits - start.hits, 1u + kThreads / 2);
  EXPECT_EQ(end.misses - start.misses, kThreads / 2u);
}

}  // namespace
}  // namespace whycache::cache
