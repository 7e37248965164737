// A soak run: eight reader processes serve simulated requests (Update(), then gets and a small
// scan in one read transaction) while two writers overwrite a fixed dataset, a compactor
// rewrites the log's history and a snapshotter creates snapshots of the machine and restores
// them onto a second state file. Every interval it records the readers' latency (p50/p99 from a
// shared histogram of steady-clock samples), their resident memory, the state file's and the
// log's size and the errors, prints them as a table, and asserts that nothing failed and that
// memory, file sizes and latency stayed flat.
//
// SOAK_SECONDS sets the duration (default 60), SOAK_INTERVAL_SECONDS the interval (default 10).
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <bit>
#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <new>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "tests/cache/cache_test_util.h"
#include "tests/log/log_backends.h"
#include "tests/support/child_process.h"
#include "tests/support/temp_dir.h"
#include "whycache/cache.h"
#include "whycache/error.h"

namespace whycache::testing {
namespace {

// Under AddressSanitizer freed blocks wait in a quarantine (256 MiB by default) before reuse, so
// the readers' resident memory grows with what they free (the applying reader frees every
// batch's buffers) until the quarantine is full. The memory bound that catches a leak is the
// plain build's; the sanitizer build allows for the quarantine on top of it.
#if defined(__SANITIZE_ADDRESS__)
constexpr uint64_t kAllocatorHoldBytes = uint64_t{256} << 20;
#else
constexpr uint64_t kAllocatorHoldBytes = 0;
#endif

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

constexpr int kReaders = 8;
constexpr int kWriters = 2;
constexpr int kUsers = 2000;         // Keys "user:NNNN:perm", always present.
constexpr size_t kValueBytes = 100;  // So the dataset is about 2000 x 117 bytes.
constexpr int kMaxIntervals = 1024;
constexpr int kSubBuckets = 4;  // Histogram buckets per power of two: +-19%.
constexpr int kBuckets = 64 * kSubBuckets;

int Bucket(uint64_t ns) {
  if (ns < 2) return 0;
  const int log2 = 63 - std::countl_zero(ns);
  const int sub = static_cast<int>((ns >> std::max(0, log2 - 2)) & (kSubBuckets - 1));
  return std::min(kBuckets - 1, log2 * kSubBuckets + sub);
}

// The upper end of a bucket's range, so quantiles err on the slow side.
uint64_t BucketLimit(int bucket) {
  const int log2 = bucket / kSubBuckets;
  const int sub = bucket % kSubBuckets;
  if (log2 < 2) return uint64_t{1} << (log2 + 1);
  return (uint64_t{1} << log2) + (uint64_t(sub) + 1) * (uint64_t{1} << (log2 - 2));
}

// What the readers saw in one interval, summed over all of them.
struct IntervalFigures {
  std::atomic<uint64_t> read_ns[kBuckets];     // The read transaction: gets and a scan.
  std::atomic<uint64_t> request_ns[kBuckets];  // Update() and the read transaction.
  std::atomic<uint64_t> requests;
  std::atomic<uint64_t> errors;
  std::atomic<uint64_t> max_reader_rss;
};

// Shared by the parent and its children (an anonymous shared mapping made before forking).
struct Board {
  std::atomic<uint32_t> stop;
  std::atomic<uint64_t> other_errors;  // Writers, compactor and snapshotter.
  std::atomic<uint64_t> writes;
  std::atomic<uint64_t> compactions;
  std::atomic<uint64_t> snapshots_restored;
  IntervalFigures intervals[kMaxIntervals];
};

struct BoardDeleter {
  void operator()(Board* board) const {
    board->~Board();
    munmap(board, sizeof(Board));
  }
};

double EnvSeconds(const char* name, double fallback) {
  const char* value = std::getenv(name);
  return value == nullptr || *value == '\0' ? fallback : std::stod(value);
}

std::string UserKey(int user) {
  char key[32];
  std::snprintf(key, sizeof key, "user:%04d:perm", user);
  return key;
}

std::string Value(std::mt19937_64& rng) {
  std::string value(kValueBytes, '\0');
  for (char& c : value) c = static_cast<char>('a' + rng() % 26);
  return value;
}

uint64_t ResidentBytes() {
  std::ifstream statm("/proc/self/statm");
  uint64_t size = 0, resident = 0;
  statm >> size >> resident;
  return resident * static_cast<uint64_t>(sysconf(_SC_PAGESIZE));
}

uint64_t DirectoryBytes(const std::string& dir) {
  uint64_t bytes = 0;
  for (const fs::directory_entry& entry : fs::directory_iterator(dir)) {
    if (entry.is_regular_file()) bytes += entry.file_size();
  }
  return bytes;
}

// The file's allocated bytes: a sparse state file is as large as the disk space it takes.
uint64_t AllocatedBytes(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0 ? static_cast<uint64_t>(st.st_blocks) * 512 : 0;
}

struct SoakRun {
  Board* board;
  CacheOptions machine;
  CacheOptions restored;  // The second state file snapshots are restored onto.
  std::string snapshot_path;
  Clock::time_point start;
  std::chrono::nanoseconds interval;
  Clock::time_point give_up;

  bool Running() const { return board->stop.load() == 0 && Clock::now() < give_up; }
  IntervalFigures& Figures(Clock::time_point t) const {
    const int64_t i = (t - start) / interval;
    return board->intervals[std::clamp<int64_t>(i, 0, kMaxIntervals - 1)];
  }
};

int RunReader(const SoakRun& run, int reader) {
  auto cache = Cache::Open(run.machine);
  std::mt19937_64 rng(reader);
  for (uint64_t n = 0; run.Running(); ++n) {
    const Clock::time_point begin = Clock::now();
    IntervalFigures& figures = run.Figures(begin);
    cache->Update();
    const Clock::time_point read_begin = Clock::now();
    uint64_t errors = 0;
    {
      ReadTransaction txn = cache->BeginRead();
      for (int i = 0; i < 5; ++i) {
        const std::optional<std::string_view> v = txn.Get(UserKey(rng() % kUsers));
        errors += !v || v->size() != kValueBytes;
      }
      // A small scan: the ten users of one block.
      const std::string prefix = UserKey(rng() % kUsers).substr(0, 8);
      int scanned = 0;
      txn.Scan(prefix, [&](std::string_view, std::string_view) { return ++scanned < 10; });
      errors += scanned != 10;
    }
    const Clock::time_point end = Clock::now();
    figures.read_ns[Bucket((end - read_begin).count())].fetch_add(1, std::memory_order_relaxed);
    figures.request_ns[Bucket((end - begin).count())].fetch_add(1, std::memory_order_relaxed);
    figures.requests.fetch_add(1, std::memory_order_relaxed);
    if (errors > 0) figures.errors.fetch_add(errors);
    if (n % 256 == 0) {
      const uint64_t rss = ResidentBytes();
      uint64_t seen = figures.max_reader_rss.load();
      while (seen < rss && !figures.max_reader_rss.compare_exchange_weak(seen, rss)) {
      }
    }
    // About a thousand requests per second per reader: a busy service, not a CPU hog.
    std::this_thread::sleep_for(std::chrono::microseconds(800));
  }
  return 0;
}

// Runs `step` every `period` until the run ends, counting the errors it throws. The first step
// runs however late the process started, so every kind of step is in every run.
template <typename Step>
int Every(const SoakRun& run, milliseconds period, Step step) {
  do {
    try {
      step();
    } catch (const std::exception& e) {
      std::fprintf(stderr, "soak: %s\n", e.what());
      run.board->other_errors.fetch_add(1);
    }
    for (auto until = Clock::now() + period; run.Running() && Clock::now() < until;) {
      std::this_thread::sleep_for(milliseconds(20));
    }
  } while (run.Running());
  return 0;
}

int RunWriter(const SoakRun& run, int writer) {
  auto cache = Cache::Open(run.machine);
  std::mt19937_64 rng(1000 + writer);
  return Every(run, milliseconds(20), [&] {
    std::vector<Mutation> batch;
    for (int i = 1 + rng() % 8; i > 0; --i) {
      batch.push_back(Mutation::Set(UserKey(rng() % kUsers), Value(rng)));
    }
    // Keys that come and go, so that compaction has tombstones to drop.
    const std::string temporary = "tmp:" + std::to_string(rng() % 200);
    batch.push_back(rng() % 2 == 0 ? Mutation::Delete(temporary)
                                   : Mutation::Set(temporary, Value(rng)));
    cache->Write(batch);
    run.board->writes.fetch_add(1);
  });
}

int RunCompactor(const SoakRun& run) {
  auto cache = Cache::Open(run.machine);
  return Every(run, milliseconds(5000), [&] {
    CompactionOptions compaction;
    compaction.tombstone_retention = std::chrono::seconds(2);
    cache->Compact(compaction);
    run.board->compactions.fetch_add(1);
  });
}

int RunSnapshotter(const SoakRun& run) {
  auto machine = Cache::Open(run.machine);
  auto restored = Cache::Open(run.restored);
  return Every(run, milliseconds(10'000), [&] {
    machine->CreateSnapshot(run.snapshot_path);
    restored->RestoreSnapshot(run.snapshot_path);
    restored->UpdateNow();
    run.board->snapshots_restored.fetch_add(1);
  });
}

struct Quantiles {
  uint64_t p50 = 0;
  uint64_t p99 = 0;
  uint64_t count = 0;
};

Quantiles QuantilesOf(const std::atomic<uint64_t> (&buckets)[kBuckets]) {
  Quantiles q;
  for (const auto& b : buckets) q.count += b.load();
  uint64_t seen = 0;
  for (int i = 0; i < kBuckets; ++i) {
    seen += buckets[i].load();
    if (q.p50 == 0 && seen * 2 >= q.count) q.p50 = BucketLimit(i);
    if (q.p99 == 0 && seen * 100 >= q.count * 99) q.p99 = BucketLimit(i);
  }
  return q;
}

struct Row {
  Quantiles read;
  Quantiles request;
  uint64_t requests = 0;
  uint64_t errors = 0;
  uint64_t rss = 0;
  uint64_t state_bytes = 0;
  uint64_t state_allocated = 0;
  uint64_t log_bytes = 0;
};

TEST(SoakTest, MemoryFilesAndLatencyStayFlat) {
  const double seconds = EnvSeconds("SOAK_SECONDS", 60);
  const double interval_seconds = EnvSeconds("SOAK_INTERVAL_SECONDS", 10);
  const int intervals = std::max(3, static_cast<int>(seconds / interval_seconds));
  ASSERT_LE(intervals, kMaxIntervals);

  TempDir dir;
  std::unique_ptr<FreshLog> fresh = FileLogBackend().create();
  const std::string log_dir = fresh->uri().substr(std::string("file:").size());
  SoakRun run;
  run.machine.state_path = dir.File("machine.state");
  run.machine.log_uri = fresh->uri();
  run.restored = run.machine;
  run.restored.state_path = dir.File("restored.state");
  run.snapshot_path = dir.File("machine.snapshot");
  {
    // The dataset, written in batches of 500, then applied on both state files.
    auto cache = Cache::Open(run.machine);
    std::mt19937_64 rng(7);
    std::vector<std::pair<std::string, std::string>> entries;
    for (int user = 0; user < kUsers; ++user) {
      entries.emplace_back(UserKey(user), Value(rng));
      if (entries.size() == 500) {
        cache->SetMulti(entries);
        entries.clear();
      }
    }
    cache->UpdateNow();
    Cache::Open(run.restored)->UpdateNow();
  }

  void* memory =
      mmap(nullptr, sizeof(Board), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  ASSERT_NE(memory, MAP_FAILED);
  std::unique_ptr<Board, BoardDeleter> board(new (memory) Board());
  run.board = board.get();
  run.interval = std::chrono::duration_cast<std::chrono::nanoseconds>(
      std::chrono::duration<double>(interval_seconds));
  run.start = Clock::now();
  run.give_up = run.start + run.interval * intervals + std::chrono::seconds(60);

  std::vector<ChildProcess> children;
  auto start_child = [&](const std::function<int()>& body) { children.emplace_back(body); };
  for (int r = 0; r < kReaders; ++r) start_child([&] { return RunReader(run, r); });
  for (int w = 0; w < kWriters; ++w) start_child([&] { return RunWriter(run, w); });
  start_child([&] { return RunCompactor(run); });
  start_child([&] { return RunSnapshotter(run); });

  std::vector<Row> rows(intervals);
  for (int i = 0; i < intervals; ++i) {
    std::this_thread::sleep_until(run.start + run.interval * (i + 1));
    rows[i].state_bytes = fs::file_size(run.machine.state_path);
    rows[i].state_allocated = AllocatedBytes(run.machine.state_path);
    rows[i].log_bytes = DirectoryBytes(log_dir);
  }
  board->stop.store(1);
  for (ChildProcess& child : children) {
    const std::optional<int> status = child.WaitFor(milliseconds(30'000));
    ASSERT_TRUE(status.has_value()) << "a child did not stop within 30 s";
    EXPECT_TRUE(ChildProcess::Succeeded(*status)) << ChildProcess::Describe(*status);
  }

  uint64_t errors = board->other_errors.load();
  std::printf("%d readers, %d writers; %" PRIu64 " writes, %" PRIu64 " compactions, %" PRIu64
              " snapshots restored\n",
              kReaders, kWriters, board->writes.load(), board->compactions.load(),
              board->snapshots_restored.load());
  std::printf(
      "interval  requests  read p50 us  read p99 us  request p99 us  reader RSS MiB  "
      "state MiB (allocated)  log KiB  errors\n");
  for (int i = 0; i < intervals; ++i) {
    Row& row = rows[i];
    const IntervalFigures& f = board->intervals[i];
    row.read = QuantilesOf(f.read_ns);
    row.request = QuantilesOf(f.request_ns);
    row.requests = f.requests.load();
    row.errors = f.errors.load();
    row.rss = f.max_reader_rss.load();
    errors += row.errors;
    std::printf("%5.0f s  %8" PRIu64 "  %11.1f  %11.1f  %14.1f  %14.1f  %9.1f (%9.1f)  %7" PRIu64
                "  %6" PRIu64 "\n",
                (i + 1) * interval_seconds, row.requests, row.read.p50 / 1e3, row.read.p99 / 1e3,
                row.request.p99 / 1e3, row.rss / 1048576.0, row.state_bytes / 1048576.0,
                row.state_allocated / 1048576.0, row.log_bytes / 1024, row.errors);
  }

  EXPECT_EQ(errors, 0u);
  EXPECT_GT(board->compactions.load(), 0u);
  EXPECT_GT(board->snapshots_restored.load(), 0u);
  // The first interval is the warm-up: mappings fault in, the log grows to its steady size.
  const Row& first = rows[1];
  const Row& last = rows.back();
  for (const Row& row : rows) EXPECT_GT(row.requests, 1000u);
  EXPECT_LE(last.rss, first.rss + first.rss / 4 + (8 << 20) + kAllocatorHoldBytes)
      << "reader memory grew";
  EXPECT_LE(last.state_bytes, first.state_bytes + first.state_bytes / 2) << "state file grew";
  EXPECT_LE(last.state_allocated, first.state_allocated + first.state_allocated / 2 + (4 << 20));
  // About 0.25 MB of keys and values: a state file beyond 64 MiB is not bounded by the data.
  EXPECT_LE(last.state_bytes, uint64_t{64} << 20);
  EXPECT_LE(last.log_bytes, 2 * first.log_bytes + (1 << 20)) << "compaction does not keep up";
  std::vector<uint64_t> p99s;
  for (const Row& row : rows) p99s.push_back(row.read.p99);
  std::nth_element(p99s.begin(), p99s.begin() + p99s.size() / 2, p99s.end());
  const uint64_t median_p99 = p99s[p99s.size() / 2];
  for (int i = 1; i < intervals; ++i) {
    // Generous: the machine is shared, and one descheduled reader moves a p99.
    EXPECT_LE(rows[i].read.p99, 20 * median_p99 + 200'000) << "interval " << i + 1;
  }

  // Both state files end equal to the log replayed.
  auto log = fresh->Open({});
  const Model model = ReplayLog(*log);
  for (const CacheOptions* options : {&run.machine, &run.restored}) {
    auto cache = Cache::Open(*options);
    cache->UpdateNow();
    EXPECT_EQ(FirstDifference(model, ScanAll(*cache)), "") << options->state_path;
  }
}

}  // namespace
}  // namespace whycache::testing
