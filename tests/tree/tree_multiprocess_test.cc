// Readers in several processes (and threads) while a writer commits and the file is rebuilt and
// swapped: no reader may see half a batch or a view that changes under it.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "lib/tree/tree.h"
#include "tests/support/child_process.h"
#include "tests/support/temp_dir.h"

namespace whycache::tree {
namespace {

using Clock = std::chrono::steady_clock;

constexpr int kGroupKeys = 64;

std::string GroupKey(int i) { return "group:" + std::to_string(i); }

// Every key of the group holds "<generation>;" and filler of a length that varies per batch,
// so values move around in the file between generations.
std::string GroupValue(uint64_t generation, int key, std::mt19937_64& rng) {
  std::string v = std::to_string(generation) + ";";
  v.append(rng() % 600, static_cast<char>('a' + key % 26));
  return v;
}

uint64_t GenerationOf(std::string_view v) {
  return std::stoull(std::string(v.substr(0, v.find(';'))));
}

// Commits generations 1, 2, ... until `deadline`, each rewriting the whole group, some junk
// keys, and the applied id. Rebuilds the file now and then; the small initial size makes it
// grow too. Returns the last generation.
uint64_t WriteGenerations(Tree& tree, Clock::time_point deadline, uint64_t seed) {
  std::mt19937_64 rng(seed);
  uint64_t generation = 0;
  while (Clock::now() < deadline && generation < 1'000'000) {
    auto w = tree.BeginWrite();
    ++generation;
    for (int k = 0; k < kGroupKeys; ++k) w->Put(GroupKey(k), GroupValue(generation, k, rng));
    for (int j = 0; j < 8; ++j) {
      const std::string junk = "junk:" + std::to_string(rng() % 2000);
      if (rng() % 3 == 0) {
        w->Erase(junk);
      } else {
        w->Put(junk, std::string(rng() % 300, 'j'));
      }
    }
    w->Commit(generation);
    w.reset();
    if (generation % 150 == 0) tree.Compact();
  }
  return generation;
}

// Reads the group until `deadline`. Returns an empty string, or what went wrong.
std::string ReadGenerations(Tree& tree, Clock::time_point deadline) {
  uint64_t last_applied = 0;
  uint64_t txns = 0;
  while (Clock::now() < deadline && txns < 10'000'000) {
    ++txns;
    ReadTxn r = tree.BeginRead();
    const uint64_t applied = r.AppliedId();
    if (applied < last_applied) return "applied id went back";
    last_applied = applied;
    std::vector<std::string_view> views;
    std::vector<std::string> copies;
    for (int k = 0; k < kGroupKeys; ++k) {
      auto v = r.Get(GroupKey(k));
      if (applied == 0) {
        if (v) return "a key exists before the first commit";
        continue;
      }
      if (!v) return "a group key is missing at applied id " + std::to_string(applied);
      if (GenerationOf(*v) != applied) {
        return "mixed group: generation " + std::to_string(GenerationOf(*v)) + " at applied id " +
               std::to_string(applied);
      }
      views.push_back(*v);
      copies.emplace_back(*v);
    }
    int scanned = 0;
    bool mixed = false;
    r.Scan("group:", [&](std::string_view, std::string_view v) {
      ++scanned;
      mixed |= GenerationOf(v) != applied;
      return true;
    });
    if (applied != 0 && (scanned != kGroupKeys || mixed)) return "scan saw a mixed group";
    // Give the writer time to commit (and rebuild) while the views are held.
    if (txns % 16 == 0) std::this_thread::sleep_for(std::chrono::microseconds(300));
    for (size_t i = 0; i < views.size(); ++i) {
      if (views[i] != copies[i]) return "a view changed during its read transaction";
    }
  }
  return "";
}

TreeOptions SmallFile() {
  TreeOptions o;
  o.initial_file_bytes = 256 << 10;
  o.reader_slots = 64;
  return o;
}

TEST(TreeMultiProcessTest, ReadersInFourProcessesNeverSeeHalfABatch) {
  testing::TempDir dir;
  const std::string path = dir.File("state");
  Tree::Open(path, SmallFile());
  const auto deadline = Clock::now() + std::chrono::seconds(4);
  std::vector<whycache::testing::ChildProcess> children;
  for (int i = 0; i < 4; ++i) {
    children.emplace_back([&] {
      auto tree = Tree::Open(path);
      const std::string problem = ReadGenerations(*tree, deadline);
      if (problem.empty()) return 0;
      std::fprintf(stderr, "reader %d: %s\n", i, problem.c_str());
      return 1;
    });
  }
  whycache::testing::ChildProcess writer([&] {
    auto tree = Tree::Open(path);
    const uint64_t last = WriteGenerations(*tree, deadline, 42);
    std::printf("writer committed %llu generations\n", static_cast<unsigned long long>(last));
    return last > 10 ? 0 : 1;
  });
  const auto wait = std::chrono::seconds(60);
  auto status = writer.WaitFor(wait);
  ASSERT_TRUE(status) << "writer still running";
  EXPECT_TRUE(whycache::testing::ChildProcess::Succeeded(*status))
      << whycache::testing::ChildProcess::Describe(*status);
  for (auto& c : children) {
    auto s = c.WaitFor(wait);
    ASSERT_TRUE(s) << "reader still running";
    EXPECT_TRUE(whycache::testing::ChildProcess::Succeeded(*s))
        << whycache::testing::ChildProcess::Describe(*s);
  }
  auto tree = Tree::Open(path);
  tree->Verify();
  // The readers exited without ending their slots' claims: reaped. Stats uses one itself.
  EXPECT_EQ(tree->Stats().reader_slots_in_use, 1u);
}

TEST(TreeMultiProcessTest, ReaderThreadsShareOneTreeWithAWriterThread) {
  testing::TempDir dir;
  auto tree = Tree::Open(dir.File("state"), SmallFile());
  const auto deadline = Clock::now() + std::chrono::seconds(2);
  std::vector<std::string> problems(3);
  std::vector<std::thread> readers;
  for (size_t i = 0; i < problems.size(); ++i) {
    readers.emplace_back([&, i] { problems[i] = ReadGenerations(*tree, deadline); });
  }
  const uint64_t last = WriteGenerations(*tree, deadline, 7);
  for (auto& t : readers) t.join();
  for (const auto& p : problems) EXPECT_EQ(p, "");
  EXPECT_GT(last, 10u);
  tree->Verify();
}

}  // namespace
}  // namespace whycache::tree
