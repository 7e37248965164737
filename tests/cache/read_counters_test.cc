// The per-thread read counters: under thread churn a server that starts and ends threads all day
// keeps a bounded number of blocks and loses no count; per-prefix counts match a model of which
// prefixes each key starts with, per thread and summed over the process, and only while some
// CountedPrefixes names them; a forked child starts from zero.
#include "lib/cache/read_counters.h"

#include <condition_variable>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "tests/support/child_process.h"
#include "whycache/cache.h"
#include "whycache/error.h"
#include "whycache/limits.h"

namespace whycache::cache {
namespace {

using testing::ChildProcess;

// The model: does `key` start with `prefix`, byte by byte.
bool StartsWith(const std::string& key, const std::string& prefix) {
  if (key.size() < prefix.size()) return false;
  for (size_t i = 0; i < prefix.size(); ++i) {
    if (key[i] != prefix[i]) return false;
  }
  return true;
}

struct Expected {
  uint64_t hits = 0;
  uint64_t misses = 0;
};

// What SumReadCounters() says of `index` minus what it said in `before`.
Expected Delta(const ReadTotals& before, const ReadTotals& after, uint32_t index) {
  const uint64_t hits = index < before.prefixes.size() ? before.prefixes[index].hits : 0;
  const uint64_t misses = index < before.prefixes.size() ? before.prefixes[index].misses : 0;
  return {after.prefixes.at(index).hits - hits, after.prefixes.at(index).misses - misses};
}

TEST(ReadCountersTest, BlocksOfEndedThreadsAreReusedAndTheirCountsKept) {
  const ReadTotals start = SumReadCounters();
  ThreadReadCounters* first = nullptr;
  std::thread([&] {
    first = &ReadCountersForThisThread();
    first->Count(true, "k");
  }).join();
  constexpr int kThreads = 1000;
  for (int i = 0; i < kThreads; ++i) {
    ThreadReadCounters* block = nullptr;
    std::thread([&] {
      block = &ReadCountersForThisThread();
      block->Count(i % 2 == 0, "k");
    }).join();
    ASSERT_EQ(block, first) << "thread " << i << " got a block of its own; ended ones leak";
  }
  const ReadTotals end = SumReadCounters();
  EXPECT_EQ(end.hits - start.hits, 1u + kThreads / 2);
  EXPECT_EQ(end.misses - start.misses, kThreads / 2u);
}

TEST(ReadCountersTest, AKeyCountsTowardEveryPrefixItStartsWith) {
  // Prefixes sharing a first byte, one nested in another, and one of a byte above 0x7f.
  const std::vector<std::string> prefixes = {"user:", "user:4", "\xff", "a", "ab", "zz"};
  const std::vector<std::string> keys = {
      "",   "u",   "user", "user:", "user:4", "user:42", "user:5", "\xff",   "\xff\x00x", "a",
      "ab", "abc", "b",    "z",     "zz",     "zzz",     "\xfe",   "USER:4", "xuser:4",   "a\xff"};
  CountedPrefixes counted(prefixes);
  ASSERT_EQ(counted.indexes().size(), prefixes.size());
  std::map<std::string, Expected> model;
  const ReadTotals before = SumReadCounters();
  ThreadReadCounters& block = ReadCountersForThisThread();
  for (int round = 0; round < 3; ++round) {
    for (size_t k = 0; k < keys.size(); ++k) {
      const bool hit = (k + round) % 3 != 0;
      block.Count(hit, keys[k]);
      for (const std::string& p : prefixes) {
        if (StartsWith(keys[k], p)) ++(hit ? model[p].hits : model[p].misses);
      }
    }
  }
  const ReadTotals after = SumReadCounters();
  EXPECT_EQ(after.hits + after.misses - before.hits - before.misses, 3 * keys.size());
  for (size_t i = 0; i < prefixes.size(); ++i) {
    const uint32_t index = counted.indexes()[i];
    EXPECT_EQ(after.prefixes.at(index).prefix, prefixes[i]);
    const Expected got = Delta(before, after, index);
    EXPECT_EQ(got.hits, model[prefixes[i]].hits) << prefixes[i];
    EXPECT_EQ(got.misses, model[prefixes[i]].misses) << prefixes[i];
  }
}

TEST(ReadCountersTest, ThreadsCountApartAndTheProcessSumsThemPastAndPresent) {
  const std::vector<std::string> prefixes = {"t:", "t:odd:"};
  constexpr int kThreads = 8;
  constexpr int kReadsPerThread = 1000;
  // One thread takes its block before the prefixes are counted, and must count them after.
  std::mutex mu;
  std::condition_variable cv;
  bool registered = false, counting = false, early_done = false;
  const ReadTotals before = SumReadCounters();
  std::thread early([&] {
    ReadCountersForThisThread().Count(true, "t:before");
    {
      std::unique_lock lock(mu);
      registered = true;
      cv.notify_all();
      cv.wait(lock, [&] { return counting; });
    }
    for (int i = 0; i < kReadsPerThread; ++i) ReadCountersForThisThread().Count(true, "t:x");
    std::lock_guard lock(mu);
    early_done = true;
    cv.notify_all();
  });
  {
    std::unique_lock lock(mu);
    cv.wait(lock, [&] { return registered; });
  }
  CountedPrefixes counted(prefixes);
  {
    std::lock_guard lock(mu);
    counting = true;
    cv.notify_all();
  }
  Expected model_t, model_odd;
  // Half the threads end before the sums are taken, half are still running (and done reading).
  std::vector<std::thread> ended, running;
  bool release = false;
  int done = 0;
  for (int t = 0; t < kThreads; ++t) {
    const bool odd = t % 2 == 1;
    const bool stays = t >= kThreads / 2;
    for (int i = 0; i < kReadsPerThread; ++i) {
      const bool hit = i % 4 != 0;
      ++(hit ? model_t.hits : model_t.misses);
      if (odd) ++(hit ? model_odd.hits : model_odd.misses);
    }
    (stays ? running : ended).emplace_back([&, odd, stays] {
      ThreadReadCounters& block = ReadCountersForThisThread();
      for (int i = 0; i < kReadsPerThread; ++i) {
        block.Count(i % 4 != 0, odd ? "t:odd:" + std::to_string(i) : "t:" + std::to_string(i));
      }
      if (!stays) return;
      std::unique_lock lock(mu);
      ++done;
      cv.notify_all();
      cv.wait(lock, [&] { return release; });
    });
  }
  for (std::thread& t : ended) t.join();
  {
    std::unique_lock lock(mu);
    cv.wait(lock, [&] { return early_done && done == kThreads / 2; });
  }
  model_t.hits += kReadsPerThread;  // The early thread's, all hits.
  const ReadTotals after = SumReadCounters();
  {
    std::lock_guard lock(mu);
    release = true;
    cv.notify_all();
  }
  for (std::thread& t : running) t.join();
  early.join();
  const Expected t = Delta(before, after, counted.indexes()[0]);
  const Expected odd = Delta(before, after, counted.indexes()[1]);
  EXPECT_EQ(t.hits, model_t.hits);
  EXPECT_EQ(t.misses, model_t.misses);
  EXPECT_EQ(odd.hits, model_odd.hits);
  EXPECT_EQ(odd.misses, model_odd.misses);
  // The threads' ends lose nothing.
  const ReadTotals joined = SumReadCounters();
  EXPECT_EQ(Delta(before, joined, counted.indexes()[0]).hits, model_t.hits);
  EXPECT_EQ(Delta(before, joined, counted.indexes()[1]).misses, model_odd.misses);
}

TEST(ReadCountersTest, PrefixesCountOnlyWhileSomeCountedPrefixesNamesThem) {
  ThreadReadCounters& block = ReadCountersForThisThread();
  uint32_t index;
  ReadTotals before;
  {
    CountedPrefixes counted({"w:"});
    index = counted.indexes()[0];
    before = SumReadCounters();
    block.Count(true, "w:1");
    {
      CountedPrefixes again({"w:", "w2:"});  // A second user of the same prefix.
      EXPECT_EQ(again.indexes()[0], index);
      block.Count(false, "w:2");
    }
    block.Count(true, "w:3");  // Still counted: the first user lives.
  }
  EXPECT_EQ(block.prefixes.load(), nullptr) << "prefixes named by no one still checked per read";
  block.Count(true, "w:4");
  const ReadTotals after = SumReadCounters();
  EXPECT_EQ(Delta(before, after, index).hits, 2u);
  EXPECT_EQ(Delta(before, after, index).misses, 1u);
  // Named again, the prefix keeps its index and its sums.
  CountedPrefixes back({"w:"});
  EXPECT_EQ(back.indexes()[0], index);
  block.Count(true, "w:5");
  EXPECT_EQ(Delta(before, SumReadCounters(), index).hits, 3u);
}

TEST(ReadCountersTest, CheckStatPrefixesNamesWhatIsWrong) {
  const auto message_of = [](const std::vector<std::string>& prefixes) -> std::string {
    try {
      CheckStatPrefixes(prefixes);
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), Error::Code::kInvalidArgument);
      return e.what();
    }
    return "";
  };
  std::vector<std::string> most;
  for (size_t i = 0; i < kMaxStatPrefixes; ++i) {
    most.push_back(std::string(kMaxKeyBytes - 1, 'p') + static_cast<char>('A' + i));
  }
  EXPECT_EQ(message_of(most), "");
  EXPECT_EQ(message_of({}), "");
  std::vector<std::string> too_many = most;
  too_many.push_back("one more");
  EXPECT_NE(message_of(too_many).find("33 prefixes given, at most 32"), std::string::npos);
  EXPECT_NE(message_of({"a", ""}).find("prefix 1 is empty"), std::string::npos);
  EXPECT_NE(message_of({std::string(kMaxKeyBytes + 1, 'x')}).find("prefix 0 has 4097 bytes"),
            std::string::npos);
  EXPECT_NE(message_of({"a", "b", "a"}).find("prefix 2 is given twice"), std::string::npos);
}

TEST(ReadCountersTest, AProcessCountsAtMost64DistinctPrefixes) {
  // In a child, so that the prefixes it names do not use up this process's budget.
  ChildProcess child([] {
    const size_t named = SumReadCounters().prefixes.size();
    std::vector<std::string> fill;
    for (size_t i = named; i < kMaxProcessStatPrefixes; ++i) {
      fill.push_back("budget:" + std::to_string(i));
    }
    CountedPrefixes up_to_the_limit(fill);
    CountedPrefixes same_again(fill);  // Names already counted cost nothing.
    try {
      CountedPrefixes one_more({"budget:over"});
      return 1;
    } catch (const Error& e) {
      if (e.code() != Error::Code::kInvalidArgument) return 2;
      if (std::string(e.what()).find("65 distinct prefixes, more than the 64") ==
          std::string::npos) {
        return 3;
      }
    }
    return 0;
  });
  const int status = child.Wait();
  EXPECT_TRUE(ChildProcess::Succeeded(status)) << ChildProcess::Describe(status);
}

TEST(ReadCountersTest, AForkedChildCountsFromZero) {
  CountedPrefixes counted({"f:"});
  const uint32_t index = counted.indexes()[0];
  ReadCountersForThisThread().Count(true, "f:parent");
  const ReadTotals parent = SumReadCounters();
  ASSERT_GT(parent.hits, 0u);
  ChildProcess child([index] {
    const ReadTotals start = SumReadCounters();
    if (start.hits != 0 || start.misses != 0) return 1;
    if (start.prefixes.at(index).hits != 0) return 2;
    ReadCountersForThisThread().Count(true, "f:1");
    ReadCountersForThisThread().Count(false, "f:2");
    const ReadTotals end = SumReadCounters();
    if (end.hits != 1 || end.misses != 1) return 3;
    if (end.prefixes.at(index).hits != 1 || end.prefixes.at(index).misses != 1) return 4;
    return 0;
  });
  const int status = child.Wait();
  EXPECT_TRUE(ChildProcess::Succeeded(status)) << ChildProcess::Describe(status);
  const ReadTotals after = SumReadCounters();
  EXPECT_EQ(after.hits, parent.hits) << "the child's reads counted in the parent";
  EXPECT_EQ(after.prefixes.at(index).hits, parent.prefixes.at(index).hits);
}

}  // namespace
}  // namespace whycache::cache
