// The reader table: slots claimed, moved between files, reaped and shared, checked through the
// pins a writer sees.
#include "lib/tree/reader_table.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sched.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <barrier>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "lib/tree/liveness_lock.h"
#include "lib/tree/mapped_file.h"
#include "lib/tree/tree.h"
#include "tests/support/child_process.h"
#include "tests/support/temp_dir.h"
#include "tests/tree/pipe_signal.h"
#include "tests/tree/small_stack_thread.h"
#include "whycache/error.h"

namespace whycache::tree {
namespace {

using whycache::testing::ChildProcess;

TreeOptions Slots(uint32_t n) {
  TreeOptions o;
  o.initial_file_bytes = 1 << 20;
  o.reader_slots = n;
  return o;
}

// Holds the lock of every liveness token of the file at `path` while it lives, so that no
// process can take a token there.
class AllTokensTaken {
 public:
  explicit AllTokensTaken(const std::string& path) : fd_(open(path.c_str(), O_RDWR)) {
    struct flock fl = {};
    fl.l_type = F_WRLCK;
    fl.l_whence = SEEK_SET;
    fl.l_start = static_cast<off_t>(kLivenessLockBase + 1);
    fl.l_len = kLivenessTokens;
    if (fd_ < 0 || fcntl(fd_, F_OFD_SETLK, &fl) != 0) {
      throw std::runtime_error("cannot lock the liveness tokens of " + path);
    }
  }
  ~AllTokensTaken() { close(fd_); }

 private:
  int fd_;
};

// A thread whose move to a rebuilt file fails keeps its slot in the old one: a later move
// releases that slot, not one another reader has claimed since.
TEST(ReaderTableTest, FailedMoveToANewFileKeepsTheOldSlot) {
  testing::TempDir dir;
  const std::string path = dir.File("state");
  auto reader = Tree::Open(path, Slots(2));
  reader->BeginRead();
  ASSERT_EQ(link(path.c_str(), (path + ".old").c_str()), 0);
  Tree::Open(path)->Compact();
  {
    // The new file maps, but the move fails after that: no liveness token is free there.
    AllTokensTaken taken(path);
    EXPECT_THROW(reader->BeginRead(), Error);
  }
  // Another reader of the old file pins a version there.
  std::unique_ptr<Mapping> old = MapFile(path + ".old");
  ReaderSlot* other = ClaimSlot(old.get());
  ASSERT_NE(other, nullptr);
  other->pinned.store(1);
  ReadTxn txn = reader->BeginRead();
  EXPECT_EQ(other->pinned.load(), 1u) << "the other reader's pin was cleared";
  EXPECT_EQ(static_cast<uint32_t>(other->owner.load()), old->liveness.token());
  ReleaseSlot(old->header, other);
}

constexpr int kNoPidNamespace = 97;

std::string NotStarted(int status) {
  return "the reader in a new PID namespace did not start: " + ChildProcess::Describe(status) +
         (WIFEXITED(status) && WEXITSTATUS(status) == kNoPidNamespace
              ? " (unshare(CLONE_NEWPID) is not permitted here)"
              : "");
}

// Runs `body` in a new PID namespace as the process whose pid there is `inner_pid` (1: the
// namespace's first process). Its pid in this namespace is sent through `outer_pid` when
// inner_pid is 1.
ChildProcess InPidNamespace(pid_t inner_pid, PipeSignal& outer_pid,
                            const std::function<int()>& body) {
  return ChildProcess([&, inner_pid] {
    if (unshare(CLONE_NEWPID) != 0) {
      std::fprintf(stderr,
                   "unshare(CLONE_NEWPID) failed (%s): this test needs to create PID namespaces "
                   "(root, or a sandbox that allows them)\n",
                   std::strerror(errno));
      return kNoPidNamespace;
    }
    const pid_t first = fork();
    if (first < 0) return 1;
    if (first == 0) {
      if (inner_pid == 1) _exit(body());
      // Children that exit at once use up the pids below inner_pid.
      for (pid_t next = 2; next < inner_pid; ++next) {
        const pid_t spent = fork();
        if (spent == 0) _exit(0);
        if (spent < 0 || waitpid(spent, nullptr, 0) != spent) _exit(1);
      }
      const pid_t reader = fork();
      if (reader == 0) _exit(getpid() == inner_pid ? body() : 3);
      int status = 0;
      waitpid(reader, &status, 0);
      _exit(WIFEXITED(status) ? WEXITSTATUS(status) : 4);
    }
    if (inner_pid == 1 && !outer_pid.Send(static_cast<uint64_t>(first))) return 1;
    int status = 0;
    waitpid(first, &status, 0);
    if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 6;
  });
}

void Rewrite(Tree& tree, uint64_t id) {
  auto w = tree.BeginWrite();
  for (int k = 0; k < 200; ++k) w->Put("key" + std::to_string(k), std::string(500, 'a' + id % 26));
  w->Commit(id);
}

TreeOptions NoDefragmentation() {
  TreeOptions options;
  options.initial_file_bytes = 64 << 20;
  options.max_free_fraction = 1e9;  // Space is reused in place or not at all.
  return options;
}

// A reader in another PID namespace, whose pid names no process here, keeps its pin: the space
// its version reaches is not reused under it.
TEST(ReaderTableTest, LiveReaderInAnotherPidNamespaceKeepsItsPin) {
  testing::TempDir dir;
  const std::string path = dir.File("state");
  auto tree = Tree::Open(path, NoDefragmentation());
  Rewrite(*tree, 1);
  pid_t meaningless = 300;  // A pid that names no process here when the reader starts.
  while (kill(meaningless, 0) == 0 || errno != ESRCH) ++meaningless;
  PipeSignal pinned, unused, check;
  ChildProcess reader = InPidNamespace(meaningless, unused, [&] {
    auto t = Tree::Open(path);
    ReadTxn txn = t->BeginRead();
    const std::string before(*txn.Get("key7"));
    pinned.Send(txn.Version());
    check.Receive();
    return *txn.Get("key7") == before && before == std::string(500, 'b') ? 0 : 2;
  });
  const uint64_t version = pinned.Receive();
  if (version == 0) FAIL() << NotStarted(reader.Wait());
  for (uint64_t id = 2; id < 40; ++id) Rewrite(*tree, id);
  EXPECT_EQ(tree->Stats().oldest_pinned_version, version);
  check.Send(1);
  const int status = reader.Wait();
  EXPECT_TRUE(ChildProcess::Succeeded(status))
      << "the reader's view changed under it: " << ChildProcess::Describe(status);
  tree->Verify();
}

// A reader killed in another PID namespace, whose pid there (1) names a live process here, has
// its pin reaped.
TEST(ReaderTableTest, KilledReaderInAnotherPidNamespaceIsReaped) {
  testing::TempDir dir;
  const std::string path = dir.File("state");
  auto tree = Tree::Open(path, NoDefragmentation());
  Rewrite(*tree, 1);
  PipeSignal pinned, outer_pid;
  ChildProcess reader = InPidNamespace(1, outer_pid, [&] {
    auto t = Tree::Open(path);
    ReadTxn txn = t->BeginRead();
    pinned.Send(txn.Version());
    pause();
    return 0;
  });
  const pid_t pid = static_cast<pid_t>(outer_pid.Receive());
  const uint64_t version = pinned.Receive();
  if (pid == 0 || version == 0) FAIL() << NotStarted(reader.Wait());
  ASSERT_EQ(kill(pid, SIGKILL), 0);
  reader.Wait();
  Rewrite(*tree, 2);
  const TreeStats s = tree->Stats();
  EXPECT_EQ(s.oldest_pinned_version, s.version) << "the killed reader still pins " << version;
  EXPECT_EQ(s.reader_slots_in_use, 1u);  // Stats' own.
  tree->Verify();
}

// A forked child that ends a read transaction it inherited leaves the parent's pin alone.
TEST(ReaderTableTest, ChildEndingAnInheritedTransactionKeepsTheParentsPin) {
  testing::TempDir dir;
  const std::string path = dir.File("state");
  auto tree = Tree::Open(path, NoDefragmentation());
  Rewrite(*tree, 1);
  std::optional<ReadTxn> txn(tree->BeginRead());
  const uint64_t pinned = txn->Version();
  const std::string before(*txn->Get("key7"));
  ChildProcess child([&] {
    txn.reset();
    return 0;
  });
  ASSERT_TRUE(ChildProcess::Succeeded(child.Wait()));
  for (uint64_t id = 2; id < 40; ++id) Rewrite(*tree, id);
  EXPECT_EQ(tree->Stats().oldest_pinned_version, pinned);
  EXPECT_EQ(*txn->Get("key7"), before);
}

// More reader threads than slots, every one of them keeping its slot while idle: the ones that
// find none free still read, and their pins hold like the others'.
TEST(ReaderTableTest, MoreReaderThreadsThanSlotsAllRead) {
  testing::TempDir dir;
  const std::string path = dir.File("state");
  TreeOptions options = NoDefragmentation();
  options.reader_slots = 8;
  auto tree = Tree::Open(path, options);
  Rewrite(*tree, 1);
  constexpr int kThreads = 40;
  std::barrier sync(kThreads + 1);
  std::atomic<int> failures{0};
  std::mutex mu;
  std::string first_failure;
  auto fail = [&](const std::string& what) {
    std::lock_guard lock(mu);
    if (failures++ == 0) first_failure = what;
  };
  {
    std::vector<std::unique_ptr<SmallStackThread>> threads;
    for (int i = 0; i < kThreads; ++i) {
      threads.push_back(std::make_unique<SmallStackThread>([&] {
        try {
          if (tree->BeginRead().Get("key7") != std::string(500, 'b')) fail("first read");
        } catch (const std::exception& e) {
          fail(e.what());
        }
        sync.arrive_and_wait();  // Every thread has read once and is idle.
        sync.arrive_and_wait();
        try {
          ReadTxn txn = tree->BeginRead();
          const std::string before(txn.Get("key7").value_or(""));
          sync.arrive_and_wait();  // Every thread holds a transaction.
          sync.arrive_and_wait();  // The writer has rewritten every key many times.
          if (txn.Get("key7") != before || before != std::string(500, 'b')) {
            fail("a view changed under its transaction");
          }
        } catch (const std::exception& e) {
          fail(e.what());
          sync.arrive_and_wait();
          sync.arrive_and_wait();
        }
      }));
    }
    sync.arrive_and_wait();
    const TreeStats idle = tree->Stats();
    EXPECT_EQ(idle.reader_slots_in_use, 8u + 1u);  // The idle owners, and Stats.
    sync.arrive_and_wait();
    sync.arrive_and_wait();
    for (uint64_t id = 2; id < 30; ++id) Rewrite(*tree, id);
    EXPECT_EQ(tree->Stats().oldest_pinned_version, idle.version);
    sync.arrive_and_wait();
  }
  EXPECT_EQ(failures.load(), 0) << first_failure;
  tree->Verify();
}

// A reader that found every slot taken pins its version through a shared slot: the writer keeps
// what that version reaches until the reader ends, then reuses it.
TEST(ReaderTableTest, PinInASharedSlotHolds) {
  testing::TempDir dir;
  const std::string path = dir.File("state");
  TreeOptions options = NoDefragmentation();
  options.reader_slots = 1;
  auto tree = Tree::Open(path, options);
  Rewrite(*tree, 1);
  tree->BeginRead();  // This thread takes the only slot.
  std::barrier sync(2);
  std::string problem;
  SmallStackThread reader([&] {
    std::optional<ReadTxn> txn(tree->BeginRead());
    const std::string before(*txn->Get("key7"));
    sync.arrive_and_wait();
    sync.arrive_and_wait();
    if (txn->Get("key7") != before) problem = "the view changed under its transaction";
    txn.reset();
    sync.arrive_and_wait();
  });
  sync.arrive_and_wait();
  const uint64_t pinned = tree->Stats().version;
  for (uint64_t id = 2; id < 30; ++id) Rewrite(*tree, id);
  EXPECT_EQ(tree->Stats().oldest_pinned_version, pinned);
  sync.arrive_and_wait();
  sync.arrive_and_wait();
  Rewrite(*tree, 30);
  const TreeStats s = tree->Stats();
  EXPECT_EQ(s.oldest_pinned_version, s.version);
  EXPECT_EQ(problem, "");
}

}  // namespace
}  // namespace whycache::tree
