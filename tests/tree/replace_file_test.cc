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

}  // namespace
}  // namespace whycache::tree
