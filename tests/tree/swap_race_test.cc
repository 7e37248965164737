// A writer thread swaps a rebuilt file in while a reader thread of the same Tree follows PATH to
// it. The swap marks the old file after renaming the new one in; a reader that moved in between,
// the last on the old file, unmapped it, and the writer then wrote to unmapped memory.
#include <dlfcn.h>
#include <stdio.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <string>
#include <thread>

#include "gtest/gtest.h"
#include "lib/tree/tree.h"
#include "tests/support/temp_dir.h"

namespace {

// How long the swapping thread stays between its rename and what follows it: long enough for a
// reader thread, which looks at PATH every 10 ms while its file is marked superseded, to move.
std::atomic<int> g_hold_after_rename_ms{0};

}  // namespace

// lib/tree swaps files with renameat2; this definition, the program's own, takes its calls.
extern "C" int renameat2(int old_dir, const char* old_path, int new_dir, const char* new_path,
                         unsigned int flags) noexcept {
  using Renameat2 = int (*)(int, const char*, int, const char*, unsigned int);
  static const Renameat2 real = reinterpret_cast<Renameat2>(dlsym(RTLD_NEXT, "renameat2"));
  const int rc = real(old_dir, old_path, new_dir, new_path, flags);
  const int saved = errno;
  if (const int ms = g_hold_after_rename_ms.load(); ms > 0) {
    std::this_thread::sleep_for(std::chrono::milliseconds(ms));
  }
  errno = saved;
  return rc;
}

namespace whycache::tree {
namespace {

TEST(SwapRaceTest, AReaderThreadMovingDuringASwapLeavesTheOldFileToTheWriter) {
  testing::TempDir dir;
  TreeOptions options;
  options.initial_file_bytes = 256 << 10;
  auto tree = Tree::Open(dir.File("state"), options);
  {
    auto w = tree->BeginWrite();
    w->Put("key", "0");
    w->Commit(1);
  }
  std::atomic<bool> done{false};
  std::string problem;
  std::thread reader([&] {
    for (uint64_t n = 0; n < 1'000'000'000 && !done.load(); ++n) {
      ReadTxn r = tree->BeginRead();
      const auto v = r.Get("key");
      if (!v || std::to_string(r.AppliedId() - 1) != *v) {
        problem = "key holds " + std::string(v ? *v : "nothing") + " at applied id " +
                  std::to_string(r.AppliedId());
        return;
      }
    }
  });
  g_hold_after_rename_ms.store(100);
  constexpr uint64_t kSwaps = 5;
  for (uint64_t i = 1; i <= kSwaps; ++i) {
    {
      auto w = tree->BeginWrite();
      w->Put("key", std::to_string(i));
      w->Commit(i + 1);
    }
    tree->Compact();
  }
  g_hold_after_rename_ms.store(0);
  done.store(true);
  reader.join();
  EXPECT_EQ(problem, "");
  EXPECT_EQ(tree->Stats().applied_id, kSwaps + 1);
}

}  // namespace
}  // namespace whycache::tree
