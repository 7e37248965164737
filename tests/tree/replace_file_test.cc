// A rebuild that finds the file a crashed swap left at PATH.rebuild: processes still reading that
// file (it was PATH until the swap) keep reading it intact.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <map>
#include <string>

#include "lib/tree/tree.h"
#include "tests/support/child_process.h"
#include "tests/support/temp_dir.h"
#include "tests/tree/pipe_signal.h"

namespace whycache::tree {
namespace {

using whycache::testing::ChildProcess;

std::string Differences(const ReadTxn& txn, const std::map<std::string, std::string>& expected) {
  if (txn.KeyCount() != expected.size()) return "key count " + std::to_string(txn.KeyCount());
  for (const auto& [k, v] : expected) {
    if (txn.Get(k) != v) return "key " + k;
  }
  return "";
}

TEST(ReplaceFileTest, LeftoverOfACrashedSwapStaysIntactForItsReaders) {
  testing::TempDir dir;
  const std::string path = dir.File("state");
  TreeOptions options;
  options.initial_file_bytes = 8 << 20;  // Larger than any rebuild of it.
  auto tree = Tree::Open(path, options);
  std::map<std::string, std::string> expected;
  {
    auto w = tree->BeginWrite();
    for (int k = 0; k < 3000; ++k) {
      const std::string key = "key" + std::to_string(k);
      expected[key] = std::string(100, 'a' + k % 26) + key;
      w->Put(key, expected[key]);
    }
    w->Commit(1);
  }
  PipeSignal reading, rebuilt;
  ChildProcess reader([&] {
    auto t = Tree::Open(path);
    ReadTxn txn = t->BeginRead();
    std::string problem = Differences(txn, expected);
    if (!reading.Send()) return 1;
    if (rebuilt.Receive() == 0) return 1;
    if (problem.empty()) problem = Differences(txn, expected);
    if (problem.empty()) return 0;
    std::fprintf(stderr, "the file the reader maps changed under it: %s\n", problem.c_str());
    return 2;
  });
  ASSERT_NE(reading.Receive(), 0u);
  // The state a crash between the exchange and the unlink leaves: the file the reader maps,
  // superseded, at PATH.rebuild.
  ASSERT_EQ(link(path.c_str(), (path + ".keep").c_str()), 0);
  tree->Compact();
  ASSERT_EQ(rename((path + ".keep").c_str(), (path + ".rebuild").c_str()), 0);

  std::map<std::string, std::string> now = expected;
  {
    auto w = tree->BeginWrite();
    for (auto& [k, v] : now) w->Put(k, v = "new " + k);
    w->Commit(2);
  }
  tree->Compact();
  ASSERT_TRUE(rebuilt.Send());
  const int status = reader.Wait();
  EXPECT_TRUE(ChildProcess::Succeeded(status)) << ChildProcess::Describe(status);
  EXPECT_EQ(Differences(tree->BeginRead(), now), "");
  tree->Verify();
}

// PATH deleted by an operator, or moved aside as damaged, and made anew: once a writer of a
// process still on the old file notices, readers of the old file in every process move to the
// new one at their next read transaction.
TEST(ReplaceFileTest, ReadersFollowAFileReplacedWithoutASwap) {
  testing::TempDir dir;
  const std::string path = dir.File("state");
  auto writer = Tree::Open(path);
  {
    auto w = writer->BeginWrite();
    w->Put("k", "first file");
    w->Commit(1);
  }
  PipeSignal replaced[2], read[2];
  ChildProcess reader([&] {
    auto t = Tree::Open(path);
    for (int round = 0; round < 2; ++round) {
      const std::string before(*t->BeginRead().Get("k"));
      if (!read[round].Send() || replaced[round].Receive() == 0) return 1;
      const std::string after(*t->BeginRead().Get("k"));
      if (after == before) {
        std::fprintf(stderr, "round %d: the reader still reads '%s'\n", round, after.c_str());
        return 2;
      }
    }
    return 0;
  });
  for (int round = 0; round < 2; ++round) {
    ASSERT_NE(read[round].Receive(), 0u);
    if (round == 0) {
      ASSERT_EQ(unlink(path.c_str()), 0);
    } else {
      ASSERT_EQ(rename(path.c_str(), (path + ".bad").c_str()), 0);
    }
    {
      auto fresh = Tree::Open(path);
      auto w = fresh->BeginWrite();
      w->Put("k", "file " + std::to_string(round + 2));
      w->Commit(1);
    }
    // The applier of the writer's process, still on the old file, notices when it next polls.
    writer->BeginWrite();
    ASSERT_TRUE(replaced[round].Send());
  }
  const int status = reader.Wait();
  EXPECT_TRUE(ChildProcess::Succeeded(status)) << ChildProcess::Describe(status);
}

}  // namespace
}  // namespace whycache::tree
