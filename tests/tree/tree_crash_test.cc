// kill -9 of a writer at random moments and at points it announces (inside a write
// transaction), and of a reader holding a pin.
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <map>
#include <random>
#include <string>
#include <thread>

#include "lib/tree/tree.h"
#include "tests/support/child_process.h"
#include "tests/support/temp_dir.h"
#include "tests/tree/tree_model.h"
#include "whycache/error.h"

namespace whycache::tree {
namespace {

using whycache::testing::ChildProcess;

constexpr int kIterations = 200;

// The batch committed with applied id `id`: the same in every process, so the parent can
// replay the history a killed writer went through.
template <typename PutFn, typename EraseFn>
void BatchFor(uint64_t id, PutFn put, EraseFn erase) {
  std::mt19937_64 rng(id * 0x9e3779b97f4a7c15ULL);
  // Every tenth batch is large enough to be merged into a new file, so kills land in merges.
  const int n = id % 10 == 0 ? 6000 : 200 + static_cast<int>(rng() % 1500);
  for (int i = 0; i < n; ++i) {
    const std::string key = "k" + std::to_string(rng() % 4000);
    if (rng() % 5 == 0) {
      erase(key);
    } else {
      put(key, std::to_string(id) + ":" + std::string(rng() % 200, 'v'));
    }
  }
  put("applied", std::to_string(id));
}

void ApplyToModel(uint64_t id, std::map<std::string, std::string>* model) {
  BatchFor(
      id, [&](const std::string& k, const std::string& v) { (*model)[k] = v; },
      [&](const std::string& k) { model->erase(k); });
}

void Commit(Tree& tree, uint64_t id) {
  auto w = tree.BeginWrite(false);
  if (w == nullptr) throw Error(Error::Code::kBusy, "writer lock still held");
  BatchFor(
      id, [&](const std::string& k, const std::string& v) { w->Put(k, v); },
      [&](const std::string& k) { w->Erase(k); });
  w->Commit(id);
}

// Like Commit, but after `puts` of the batch's changes it writes a byte to `ready_fd` and waits
// for end of file on `hold_fd`: the caller kills it there, inside the write transaction.
// REQUIRES: 0 < puts <= 200 (every batch has more changes).
void CommitUntilStopped(Tree& tree, uint64_t id, int puts, int ready_fd, int hold_fd) {
  auto w = tree.BeginWrite(false);
  if (w == nullptr) throw Error(Error::Code::kBusy, "writer lock still held");
  int done = 0;
  const auto stop_here = [&] {
    if (++done != puts) return;
    if (write(ready_fd, "x", 1) != 1) _exit(2);
    char c;
    while (read(hold_fd, &c, 1) != 0) {
    }
    _exit(2);
  };
  BatchFor(
      id,
      [&](const std::string& k, const std::string& v) {
        w->Put(k, v);
        stop_here();
      },
      [&](const std::string& k) {
        w->Erase(k);
        stop_here();
      });
  std::fprintf(stderr, "batch %llu has fewer than %d changes\n",
               static_cast<unsigned long long>(id), puts);
  _exit(2);
}

TreeOptions SmallFile() {
  TreeOptions o;
  o.initial_file_bytes = 256 << 10;
  o.reader_slots = 16;
  return o;
}

TEST(TreeCrashTest, KilledWriterLeavesTheLastPublishedVersion) {
  testing::TempDir dir;
  const std::string path = dir.File("state");
  Tree::Open(path, SmallFile());
  std::mt19937_64 rng(std::random_device{}());
  std::map<std::string, std::string> model;
  uint64_t model_id = 0;
  int killed_mid_run = 0;
  for (int iteration = 0; iteration < kIterations; ++iteration) {
    // Even iterations kill the writer where it says it is: inside the write transaction of its
    // `stop_at`-th commit, after `puts` changes. Odd ones kill it after a random pause, which
    // may land anywhere (in a commit, a merge, a rebuild) or after it finished; nothing counts
    // on where.
    const bool announced = iteration % 2 == 0;
    const int stop_at = static_cast<int>(rng() % 20);
    const int puts = 1 + static_cast<int>(rng() % 200);
    int ready[2];
    int hold[2];
    ASSERT_EQ(pipe(ready), 0);
    ASSERT_EQ(pipe(hold), 0);
    ChildProcess writer([&] {
      close(ready[0]);
      close(hold[1]);
      auto tree = Tree::Open(path);
      uint64_t id = tree->BeginRead().AppliedId();
      for (int i = 0; i < 1000; ++i) {
        if (announced && i == stop_at) CommitUntilStopped(*tree, id + 1, puts, ready[1], hold[0]);
        Commit(*tree, ++id);
        // Rebuilds get killed too.
        if (id % 7 == 0) tree->Compact();
      }
      return 0;
    });
    close(ready[1]);
    close(hold[0]);
    if (announced) {
      pollfd p{.fd = ready[0], .events = POLLIN, .revents = 0};
      char c;
      ASSERT_TRUE(poll(&p, 1, 60'000) == 1 && read(ready[0], &c, 1) == 1)
          << "iteration " << iteration << ": the writer never reached commit " << stop_at;
    } else {
      std::this_thread::sleep_for(std::chrono::microseconds(rng() % 60000));
    }
    writer.Signal(SIGKILL);
    const int status = writer.Wait();
    close(ready[0]);
    close(hold[1]);
    if (announced) {
      ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)
          << "iteration " << iteration << ": " << ChildProcess::Describe(status);
    }
    if (WIFSIGNALED(status)) ++killed_mid_run;

    auto tree = Tree::Open(path);
    tree->Verify();
    ReadTxn r = tree->BeginRead();
    const uint64_t applied = r.AppliedId();
    ASSERT_GE(applied, model_id);
    while (model_id < applied) ApplyToModel(++model_id, &model);
    ASSERT_EQ(r.KeyCount(), model.size()) << "iteration " << iteration;
    ASSERT_TRUE(MatchesModel(r, model)) << "iteration " << iteration;

    // A new writer gets the lock at once and commits.
    Commit(*tree, ++model_id);
    ApplyToModel(model_id, &model);
    ASSERT_EQ(tree->BeginRead().AppliedId(), model_id);
  }
  std::printf(
      "%d writers killed while running (%d of them inside a write transaction they "
      "announced), %llu batches committed\n",
      killed_mid_run, kIterations / 2, static_cast<unsigned long long>(model_id));
}

TEST(TreeCrashTest, SlotOfAKilledReaderIsReapedAndSpaceReused) {
  testing::TempDir dir;
  const std::string path = dir.File("state");
  TreeOptions options;
  options.initial_file_bytes = 64 << 20;
  options.max_free_fraction = 1e9;  // No defragmentation: only reuse may keep the file small.
  auto tree = Tree::Open(path, options);
  auto rewrite = [&](uint64_t id) {
    auto w = tree->BeginWrite();
    for (int k = 0; k < 100; ++k)
      w->Put("key" + std::to_string(k), std::string(1000, 'a' + id % 26));
    w->Commit(id);
  };
  rewrite(1);
  int ready[2];
  ASSERT_EQ(pipe(ready), 0);
  ChildProcess reader([&] {
    auto t = Tree::Open(path);
    ReadTxn r = t->BeginRead();
    const char c = 'r';
    if (write(ready[1], &c, 1) != 1) return 1;
    std::this_thread::sleep_for(std::chrono::seconds(60));
    return 0;
  });
  char c;
  ASSERT_EQ(read(ready[0], &c, 1), 1);
  close(ready[0]);
  close(ready[1]);

  auto allocated = [&] {
    const TreeStats s = tree->Stats();
    return s.used_bytes + s.free_bytes;
  };
  const uint64_t before = allocated();
  const uint64_t pinned = tree->Stats().version;
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  for (uint64_t id = 2; id < 52; ++id) rewrite(id);
  TreeStats s = tree->Stats();
  EXPECT_EQ(s.oldest_pinned_version, pinned);
  EXPECT_GT(s.oldest_pinned_age_seconds, 0.0);
  // Nothing the reader may see can be reused: every batch took new space.
  EXPECT_GT(allocated(), before + 40 * 100 * 1000);

  reader.Signal(SIGKILL);
  reader.Wait();
  rewrite(52);
  s = tree->Stats();
  EXPECT_EQ(s.oldest_pinned_version, s.version);
  EXPECT_EQ(s.reader_slots_in_use, 1u);  // Stats' own.
  const uint64_t after_reap = allocated();
  for (uint64_t id = 53; id < 553; ++id) rewrite(id);
  EXPECT_LE(allocated(), after_reap + 2 * 100 * 1100);
  EXPECT_EQ(tree->Stats().file_bytes, s.file_bytes);
  tree->Verify();
}

}  // namespace
}  // namespace whycache::tree
