// The pin protocol (reader_table.h: PublishPin and ScanPins) under stress, in real processes on
// a real state file. Reader processes pin the published version and check every block they read
// against that version and a checksum written with it, while the writer publishes versions as
// fast as it can and reuses a version's block as soon as ScanPins finds no reader pinning it.
// Two blocks alternate, so a reader whose pin the writer missed reads a block being rewritten.
// The readers take turns: with more spinning processes than cores, a reader preempted while it
// pins would stall the writer for a time slice each time.
//
// Both barriers are tested: readers that fence after each pin, and readers of a registered
// process that pin with a plain store and rely on the writer's membarrier (pin_barrier.h). The
// second is slower, by the membarrier of every scan (an interrupt to each CPU running a reader).
// With WHYCACHE_STRESS_REMOVE_BARRIER=1 in the environment, the readers pin without a fence
// (PinOrder::kUnfenced) and the writer scans after a fence of its own only
// (ScanBarrier::kFenceOnly). In an optimized build (--config=opt), where the writer's scan
// follows its publish closely enough to miss a pin still in a reader's store buffer, both tests
// then fail: the barrier is what keeps them passing.
#include <gtest/gtest.h>
#include <sys/mman.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "lib/tree/file_layout.h"
#include "lib/tree/mapped_file.h"
#include "lib/tree/pin_barrier.h"
#include "lib/tree/reader_table.h"
#include "lib/tree/tree.h"
#include "tests/support/child_process.h"
#include "tests/support/temp_dir.h"

namespace whycache::tree {
namespace {

using testing::ChildProcess;
using testing::TempDir;

constexpr int kReaders = 2;
// Each reader's turn lasts until the writer has reused blocks this many times and the reader has
// checked this many reads: counts, not time, so a loaded machine only makes the test slower.
constexpr uint64_t kReusesPerTurn = 1'000'000;
constexpr uint64_t kReadsPerTurn = 100'000;
// Only for a writer or reader that makes no progress at all.
constexpr auto kGiveUp = std::chrono::seconds(240);
constexpr int kBlockWords = 8;

// A version's block: its version, words derived from it, and a checksum of those.
uint64_t Word(uint64_t version, int i) {
  uint64_t x = version * 0x9e3779b97f4a7c15ULL + static_cast<uint64_t>(i);
  x ^= x >> 29;
  return x * 0xbf58476d1ce4e5b9ULL;
}

uint64_t Checksum(uint64_t version) {
  uint64_t sum = version;
  for (int i = 1; i < kBlockWords - 1; ++i) sum = (sum ^ Word(version, i)) * 0x100000001b3ULL;
  return sum;
}

// The blocks live in the state file's user area, so readers and writer share them through the
// same mapping as the pins and the published version.
std::atomic_ref<uint64_t> BlockWord(FileHeader* h, uint64_t version, int i) {
  uint64_t* words = reinterpret_cast<uint64_t*>(h->user_area);
  return std::atomic_ref<uint64_t>(words[(version % 2) * kBlockWords + i]);
}

void WriteBlock(FileHeader* h, uint64_t version) {
  BlockWord(h, version, 0).store(version, std::memory_order_relaxed);
  for (int i = 1; i < kBlockWords - 1; ++i) {
    BlockWord(h, version, i).store(Word(version, i), std::memory_order_relaxed);
  }
  BlockWord(h, version, kBlockWords - 1).store(Checksum(version), std::memory_order_relaxed);
}

// What the test process and its readers share, outside the file under test.
struct Board {
  std::atomic<int> ready{0};
  std::atomic<int> turn{0};  // The reader that reads now.
  std::atomic<bool> stop{false};
  struct Reader {
    std::atomic<uint64_t> reads{0};
    std::atomic<uint64_t> bad{0};
    std::atomic<uint64_t> first_bad_pinned{0};
    std::atomic<uint64_t> first_bad_found{0};
  } readers[kReaders];
};

bool BarrierRemoved() {
  const char* remove = std::getenv("WHYCACHE_STRESS_REMOVE_BARRIER");
  return remove != nullptr && std::strcmp(remove, "1") == 0;
}

template <PinOrder kOrder>
int ReadUntilStopped(const std::string& path, Board* board, int index) {
  if (kOrder == PinOrder::kProcess && ProcessReadBarrier() != ReadBarrier::kMembarrier) return 11;
  std::unique_ptr<Mapping> m = MapFile(path);
  ReaderSlot* slot = ClaimSlot(m.get());
  if (slot == nullptr) return 10;
  FileHeader* h = m->header;
  Board::Reader& me = board->readers[index];
  board->ready.fetch_add(1);
  uint64_t reads = 0;
  while (!board->stop.load(std::memory_order_relaxed)) {
    if (board->turn.load(std::memory_order_relaxed) != index) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
      continue;
    }
    const uint64_t version = h->current.load(std::memory_order_acquire);
    PublishPin<kOrder>(slot, version);
    if (h->current.load(std::memory_order_relaxed) != version) {
      slot->pinned.store(0, std::memory_order_release);
      continue;
    }
    bool intact = BlockWord(h, version, 0).load(std::memory_order_relaxed) == version;
    for (int i = 1; i < kBlockWords - 1; ++i) {
      intact &= BlockWord(h, version, i).load(std::memory_order_relaxed) == Word(version, i);
    }
    intact &=
        BlockWord(h, version, kBlockWords - 1).load(std::memory_order_relaxed) == Checksum(version);
    if (!intact && me.bad.fetch_add(1) == 0) {
      me.first_bad_pinned.store(version);
      me.first_bad_found.store(BlockWord(h, version, 0).load(std::memory_order_relaxed));
    }
    slot->pinned.store(0, std::memory_order_release);
    if ((++reads & 1023) == 0) me.reads.store(reads, std::memory_order_relaxed);
  }
  me.reads.store(reads);
  ReleaseSlot(h, slot);
  return 0;
}

// Runs readers pinning with `kOrder` against a writer scanning after `barrier`, and checks that
// no reader read a reused block. `how` names the readers' barrier in messages.
template <PinOrder kOrder>
void ReadersNeverSeeABlockTheWriterReused(ScanBarrier barrier, const std::string& how) {
  TempDir dir;
  const std::string path = dir.File("pins.state");
  Tree::Open(path);
  void* shared =
      mmap(nullptr, sizeof(Board), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  ASSERT_NE(shared, MAP_FAILED);
  Board* board = new (shared) Board;

  std::unique_ptr<Mapping> m = MapFile(path);
  FileHeader* h = m->header;
  uint64_t version = h->current.load() & ~kSupersededBit;
  WriteBlock(h, version);

  std::vector<ChildProcess> readers;
  for (int r = 0; r < kReaders; ++r) {
    readers.emplace_back([&, r] { return ReadUntilStopped<kOrder>(path, board, r); });
  }
  // The readers signal once they pin in a loop; the writer starts then, so that they race.
  while (board->ready.load() < kReaders) std::this_thread::yield();

  uint64_t reuses = 0;
  const auto give_up = std::chrono::steady_clock::now() + kGiveUp;
  for (uint64_t n = 0, turn = 0; turn < kReaders; ++n) {
    if ((n & 1023) == 0 && std::chrono::steady_clock::now() > give_up) {
      ADD_FAILURE() << "no progress: reader " << turn << " at " << board->readers[turn].reads.load()
                    << " reads, " << reuses << " reuses";
      break;
    }
    // The block of the version before `version` is reused for the next one: only once no
    // reader pins a version older than the published one.
    if (ScanPins(*m, version, barrier).oldest < version) continue;
    WriteBlock(h, version + 1);
    ++version;
    h->current.store(version, std::memory_order_seq_cst);  // As Tree publishes.
    ++reuses;
    if (reuses >= (turn + 1) * kReusesPerTurn &&
        board->readers[turn].reads.load(std::memory_order_relaxed) >= kReadsPerTurn) {
      board->turn.store(static_cast<int>(++turn));
    }
  }
  board->stop.store(true);
  for (auto& reader : readers) {
    const int status = reader.Wait();
    EXPECT_TRUE(ChildProcess::Succeeded(status)) << ChildProcess::Describe(status);
  }

  for (int r = 0; r < kReaders; ++r) {
    const Board::Reader& result = board->readers[r];
    EXPECT_EQ(result.bad.load(), 0u)
        << "reader " << r << " (" << how << ") read a block the writer had reused, in "
        << result.bad.load() << " of " << result.reads.load() << " reads; the first pinned version "
        << result.first_bad_pinned.load() << " and found a block of version "
        << result.first_bad_found.load();
  }
  std::printf("%llu versions published, %llu and %llu reads checked, %s\n",
              static_cast<unsigned long long>(reuses),
              static_cast<unsigned long long>(board->readers[0].reads.load()),
              static_cast<unsigned long long>(board->readers[1].reads.load()), how.c_str());
  munmap(shared, sizeof(Board));
}

// The writer fences only: the pairing of the fallback (ProcessReadBarrier() == kFence), where a
// writer's membarrier has no reader to reach.
TEST(PinProtocolStressTest, ReadersThatFence) {
  if (BarrierRemoved()) {
    ReadersNeverSeeABlockTheWriterReused<PinOrder::kUnfenced>(
        ScanBarrier::kFenceOnly, "pins without a fence, the writer fencing only");
  } else {
    ReadersNeverSeeABlockTheWriterReused<PinOrder::kFenced>(
        ScanBarrier::kFenceOnly, "pins with a fence, the writer fencing only");
  }
}

// The readers are forked from this process, registered, so they are registered too.
TEST(PinProtocolStressTest, ReadersThatRelyOnTheWritersMembarrier) {
  if (RegisterForReadBarrier() != ReadBarrier::kMembarrier) {
    GTEST_SKIP() << "this kernel offers no membarrier(MEMBARRIER_CMD_GLOBAL_EXPEDITED): readers "
                    "fence, as ReadersThatFence tests";
  }
  ReadersNeverSeeABlockTheWriterReused<PinOrder::kProcess>(
      BarrierRemoved() ? ScanBarrier::kFenceOnly : ScanBarrier::kFull,
      BarrierRemoved() ? "pins with a plain store, the writer's membarrier removed"
                       : "pins with a plain store, relying on the writer's membarrier");
}

}  // namespace
}  // namespace whycache::tree
