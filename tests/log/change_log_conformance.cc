#include "tests/log/change_log_conformance.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <map>
#include <random>
#include <sstream>
#include <thread>
#include <tuple>
#include <vector>

#include "lib/io/clock.h"
#include "tests/support/child_process.h"
#include "tests/support/temp_dir.h"
#include "whycache/error.h"
#include "whycache/limits.h"

namespace whycache::testing {

void ChangeLogConformanceTest::SetUp() { fresh_ = GetParam().create(); }

namespace {

using Clock = std::chrono::steady_clock;

// Reads every update after `after_id` in pages of `page`. Fails the test if a page is larger
// than asked or ids do not increase.
std::vector<Update> ReadAll(ChangeLog& log, uint64_t after_id = 0, size_t page = 1000) {
  std::vector<Update> all;
  uint64_t last = after_id;
  // Far more pages than any test appends updates.
  for (int i = 0; i < 100'000; ++i) {
    std::vector<Update> got = log.ReadAfter(last, page);
    EXPECT_LE(got.size(), page);
    if (got.empty()) break;
    for (Update& u : got) {
      EXPECT_GT(u.id, last);
      last = u.id;
      all.push_back(std::move(u));
    }
  }
  return all;
}

std::vector<uint64_t> Ids(const std::vector<Update>& updates) {
  std::vector<uint64_t> ids;
  for (const Update& u : updates) ids.push_back(u.id);
  return ids;
}

// Runs `f` and returns the code of the whycache::Error it throws (nullopt if none).
template <typename F>
std::optional<Error::Code> ErrorCodeOf(F f) {
  try {
    f();
  } catch (const Error& e) {
    return e.code();
  }
  return std::nullopt;
}

std::string RandomBytes(size_t n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::string s(n, '\0');
  for (char& c : s) c = static_cast<char>(rng());
  return s;
}

// The batch writer `w` appends as its `seq`-th in the concurrency test: recognisable, of
// varying size, with a delete in odd ones.
std::vector<Mutation> WriterBatch(int w, int seq) {
  std::vector<Mutation> batch;
  const std::string tag = "w" + std::to_string(w) + "/s" + std::to_string(seq);
  for (int j = 0; j <= seq % 3; ++j) {
    batch.push_back(Mutation::Set(tag + "/m" + std::to_string(j), "v" + tag + std::string(j, 'x')));
  }
  if (seq % 2 == 1) batch.push_back(Mutation::Delete(tag + "/gone"));
  return batch;
}

// Parses the writer and sequence number out of a WriterBatch; false if it is not one.
bool ParseWriterBatch(const Update& u, int* w, int* seq) {
  if (u.mutations.empty()) return false;
  const std::string& key = u.mutations[0].key;
  if (std::sscanf(key.c_str(), "w%d/s%d/", w, seq) != 2) return false;
  return u.mutations == WriterBatch(*w, *seq);
}

void WriteFile(const std::string& path, const std::string& contents) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << contents;
  if (!out.flush()) throw std::runtime_error("cannot write " + path);
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

TEST_P(ChangeLogConformanceTest, EmptyLog) {
  auto log = OpenLog();
  EXPECT_EQ(log->HeadId(), 0u);
  EXPECT_EQ(log->Horizon(), 0u);
  EXPECT_TRUE(log->ReadAfter(0, 10).empty());
  EXPECT_TRUE(log->ReadAfter(12345, 10).empty());
  EXPECT_TRUE(log->ReadAfter(0, 0).empty());
  EXPECT_FALSE(log->Describe().empty());
}

TEST_P(ChangeLogConformanceTest, BatchesReadBackWholeAndInIdOrder) {
  auto log = OpenLog();
  std::vector<std::vector<Mutation>> batches;
  std::vector<uint64_t> ids;
  const int64_t before = io::NowMicros();
  for (int i = 0; i < 20; ++i) {
    std::vector<Mutation> batch;
    for (int j = 0; j <= i % 5; ++j) {
      batch.push_back(Mutation::Set("k" + std::to_string(i) + "." + std::to_string(j),
                                    "value " + std::to_string(i * 100 + j)));
    }
    if (i % 3 == 0) batch.push_back(Mutation::Delete("k" + std::to_string(i) + ".0"));
    ids.push_back(log->Append(batch));
    batches.push_back(batch);
    if (i > 0) {
      EXPECT_GT(ids[i], ids[i - 1]);
    }
  }
  const int64_t after = io::NowMicros();
  EXPECT_EQ(log->HeadId(), ids.back());

  const std::vector<Update> all = ReadAll(*log);
  ASSERT_EQ(Ids(all), ids);
  for (size_t i = 0; i < all.size(); ++i) {
    EXPECT_EQ(all[i].mutations, batches[i]) << "update " << all[i].id;
    // The write time comes from the writer's (or the server's) clock: allow some skew.
    EXPECT_GE(all[i].write_time_us, before - 60'000'000);
    EXPECT_LE(all[i].write_time_us, after + 60'000'000);
  }

  // A second object, as another process would open, sees the same history.
  auto other = OpenLog();
  EXPECT_EQ(other->HeadId(), ids.back());
  EXPECT_EQ(ReadAll(*other), all);
}

TEST_P(ChangeLogConformanceTest, BinaryKeysAndValuesRoundTrip) {
  auto log = OpenLog();
  std::string all_bytes;
  for (int c = 0; c < 256; ++c) all_bytes.push_back(static_cast<char>(c));
  const std::vector<Mutation> small = {
      Mutation::Set(std::string("a\0b", 3), std::string("\0\0\0", 3)),
      Mutation::Set("empty value", ""),
      Mutation::Set(all_bytes, all_bytes),
      Mutation::Set(std::string(kMaxKeyBytes, '\xff'), "longest key"),
      Mutation::Delete(std::string("\0", 1)),
      Mutation::ErasePrefix(std::string("a\0", 2)),
      Mutation::Set(std::string("a\0c", 3), "set after the prefix delete"),
      Mutation::ErasePrefix(std::string(kMaxKeyBytes, '\xff')),
  };
  const std::vector<Mutation> one_mib = {Mutation::Set("1MiB", RandomBytes(1 << 20, 1))};
  const std::vector<Mutation> sixteen_mib = {
      Mutation::Set("16MiB", RandomBytes(16 << 20, 2)),
      Mutation::Set("16MiB compressible", std::string(16 << 20, 'z'))};
  const uint64_t a = log->Append(small);
  const uint64_t b = log->Append(one_mib);
  const uint64_t c = log->Append(sixteen_mib);

  const std::vector<Update> all = ReadAll(*OpenLog(), 0, 10);
  ASSERT_EQ(Ids(all), (std::vector<uint64_t>{a, b, c}));
  EXPECT_EQ(all[0].mutations, small);
  // Compare without printing megabytes on failure.
  EXPECT_TRUE(all[1].mutations == one_mib);
  EXPECT_TRUE(all[2].mutations == sixteen_mib);
}

TEST_P(ChangeLogConformanceTest, OverLimitBatchesAreRejectedAndAppendNothing) {
  auto log = OpenLog();
  const uint64_t first = log->Append(std::vector<Mutation>{Mutation::Set("before", "1")});

  const std::vector<std::vector<Mutation>> bad = {
      {},
      {Mutation::Set("ok", "1"), Mutation::Set(std::string(kMaxKeyBytes + 1, 'k'), "v")},
      {Mutation::Set("ok", "1"), Mutation::Delete(std::string(kMaxKeyBytes + 1, 'k'))},
      {Mutation::Set("big", std::string(kMaxValueBytes + 1, 'v'))},
      {Mutation::Set("ok", "1"), Mutation::ErasePrefix("")},
      {Mutation::ErasePrefix(std::string(kMaxKeyBytes + 1, 'p'))},
      {Mutation{Mutation::Op::kErasePrefix, "p", "a prefix delete with a value"}},
  };
  for (size_t i = 0; i < bad.size(); ++i) {
    EXPECT_EQ(ErrorCodeOf([&] { log->Append(bad[i]); }), Error::Code::kInvalidArgument)
        << "bad batch " << i;
  }
  {
    // Three values, each within the value limit, that together exceed the batch limit.
    const size_t each = kMaxBatchBytes / 3 + 1;
    std::vector<Mutation> batch;
    for (int i = 0; i < 3; ++i) {
      batch.push_back(Mutation::Set("part" + std::to_string(i), std::string(each, 'p')));
    }
    EXPECT_EQ(ErrorCodeOf([&] { log->Append(batch); }), Error::Code::kInvalidArgument);
  }
  {
    std::vector<Mutation> batch(kMaxBatchMutations + 1, Mutation::Delete("k"));
    EXPECT_EQ(ErrorCodeOf([&] { log->Append(batch); }), Error::Code::kInvalidArgument);
  }
  EXPECT_EQ(log->HeadId(), first);
  const uint64_t next = log->Append(std::vector<Mutation>{Mutation::Set("after", "2")});
  const std::vector<Update> all = ReadAll(*OpenLog());
  ASSERT_EQ(Ids(all), (std::vector<uint64_t>{first, next}));
  EXPECT_EQ(all[1].mutations[0].key, "after");
}

TEST_P(ChangeLogConformanceTest, PagingNeverSkipsOrRepeats) {
  auto log = OpenLog();
  std::vector<uint64_t> ids;
  for (int i = 0; i < 30; ++i) {
    ids.push_back(log->Append(std::vector<Mutation>{Mutation::Set("k", std::to_string(i))}));
  }
  for (size_t page : {size_t{1}, size_t{2}, size_t{7}, size_t{30}, size_t{1000}}) {
    auto reader = OpenLog();
    EXPECT_EQ(Ids(ReadAll(*reader, 0, page)), ids) << "page " << page;
  }
  // Starting anywhere gives exactly the updates after that id, also after the same object has
  // read further (the cursor moves back).
  auto reader = OpenLog();
  ReadAll(*reader);
  for (size_t k : {size_t{0}, size_t{5}, size_t{29}}) {
    const std::vector<uint64_t> expected(ids.begin() + static_cast<std::ptrdiff_t>(k) + 1,
                                         ids.end());
    EXPECT_EQ(Ids(ReadAll(*reader, ids[k], 4)), expected) << "after " << ids[k];
  }
  const std::vector<Update> first_five = reader->ReadAfter(0, 5);
  EXPECT_EQ(Ids(first_five), std::vector<uint64_t>(ids.begin(), ids.begin() + 5));
  EXPECT_TRUE(reader->ReadAfter(ids.back(), 10).empty());
  EXPECT_TRUE(reader->ReadAfter(ids.back() + 1000, 10).empty());
}

// ReadTail pages like ReadAfter and reports the horizon, for an empty poll too.
TEST_P(ChangeLogConformanceTest, ReadTailReadsWhatReadAfterReadsWithTheHorizon) {
  auto log = OpenLog();
  ChangeLog::Tail empty = log->ReadTail(0, 10);
  EXPECT_TRUE(empty.updates.empty());
  EXPECT_EQ(empty.horizon, 0u);
  std::vector<uint64_t> ids;
  for (int i = 0; i < 12; ++i) {
    ids.push_back(log->Append(std::vector<Mutation>{Mutation::Set("k" + std::to_string(i), "v")}));
  }
  auto reader = OpenLog();
  uint64_t after = 0;
  for (int page = 0; page < 10 && after != ids.back(); ++page) {
    const ChangeLog::Tail tail = reader->ReadTail(after, 5);
    ASSERT_FALSE(tail.updates.empty()) << "after " << after;
    EXPECT_EQ(tail.updates, log->ReadAfter(after, 5));
    EXPECT_EQ(tail.horizon, log->Horizon());
    after = tail.updates.back().id;
  }
  EXPECT_EQ(after, ids.back());
  EXPECT_TRUE(reader->ReadTail(after, 5).updates.empty());
  EXPECT_TRUE(reader->ReadTail(after, 0).updates.empty());
}

TEST_P(ChangeLogConformanceTest, ReaderSeesBatchesAppendedByAnotherProcess) {
  auto reader = OpenLog();
  EXPECT_TRUE(reader->ReadAfter(0, 10).empty());
  TempDir dir;
  const std::string report = dir.File("ids");
  ChildProcess writer([&] {
    auto log = fresh_->Open({});
    std::string ids;
    for (int i = 0; i < 3; ++i) {
      ids += std::to_string(log->Append(std::vector<Mutation>{Mutation::Set("x", "y")})) + "\n";
    }
    WriteFile(report, ids);
    return 0;
  });
  const int status = writer.Wait();
  ASSERT_TRUE(ChildProcess::Succeeded(status)) << ChildProcess::Describe(status);
  std::vector<uint64_t> expected;
  std::istringstream in(ReadFile(report));
  for (uint64_t id; in >> id;) expected.push_back(id);
  ASSERT_EQ(expected.size(), 3u);
  EXPECT_EQ(Ids(ReadAll(*reader)), expected);
  EXPECT_EQ(reader->HeadId(), expected.back());
  EXPECT_EQ(reader->Horizon(), 0u);
}

// Four writer processes append 5,000 batches, each sleeping at random inside its append
// transaction so that transactions overlap and commit out of start order, while a tailer in
// another process follows with small pages. The tailer must receive every batch the writers
// committed exactly once, whole, in increasing id order.
TEST_P(ChangeLogConformanceTest, ConcurrentWriterProcessesAndTailerAgree) {
  constexpr int kWriters = 4;
  constexpr int kBatchesPerWriter = 1250;
  constexpr int kTotal = kWriters * kBatchesPerWriter;
  constexpr auto kDeadline = std::chrono::seconds(100);
  TempDir dir;

  ChildProcess tailer([&]() -> int {
    auto log = fresh_->Open({});
    std::mt19937 rng(static_cast<unsigned>(getpid()));
    std::string report;
    uint64_t last = 0;
    int received = 0;
    const auto deadline = Clock::now() + kDeadline;
    while (received < kTotal && Clock::now() < deadline) {
      const std::vector<Update> page = log->ReadAfter(last, 1 + rng() % 40);
      if (page.empty()) {
        std::this_thread::sleep_for(std::chrono::microseconds(200));
        continue;
      }
      for (const Update& u : page) {
        int w = 0;
        int seq = 0;
        if (u.id <= last) {
          std::fprintf(stderr, "tailer: update %llu after %llu\n",
                       static_cast<unsigned long long>(u.id),
                       static_cast<unsigned long long>(last));
          return 2;
        }
        if (!ParseWriterBatch(u, &w, &seq)) {
          std::fprintf(stderr, "tailer: update %llu is not a whole writer batch\n",
                       static_cast<unsigned long long>(u.id));
          return 3;
        }
        report += std::to_string(u.id) + " " + std::to_string(w) + " " + std::to_string(seq) + "\n";
        last = u.id;
        ++received;
      }
    }
    // Nothing may follow the last committed batch.
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    if (!log->ReadAfter(last, 100).empty()) return 4;
    WriteFile(dir.File("tailer"), report);
    return received == kTotal ? 0 : 5;
  });

  std::vector<ChildProcess> writers;
  for (int w = 0; w < kWriters; ++w) {
    writers.emplace_back([&, w]() -> int {
      auto rng = std::make_shared<std::mt19937>(static_cast<unsigned>(getpid()));
      AppendHooks hooks;
      hooks.before_commit = [rng] {
        if ((*rng)() % 4 == 0)
          std::this_thread::sleep_for(std::chrono::microseconds((*rng)() % 500));
      };
      auto log = fresh_->Open(hooks);
      std::string report;
      for (int seq = 0; seq < kBatchesPerWriter; ++seq) {
        const uint64_t id = log->Append(WriterBatch(w, seq));
        report += std::to_string(id) + " " + std::to_string(w) + " " + std::to_string(seq) + "\n";
      }
      WriteFile(dir.File("writer" + std::to_string(w)), report);
      return 0;
    });
  }

  // What the writers say they committed, by id.
  std::map<uint64_t, std::pair<int, int>> committed;
  for (int w = 0; w < kWriters; ++w) {
    const std::optional<int> status = writers[w].WaitFor(kDeadline);
    ASSERT_TRUE(status.has_value()) << "writer " << w << " did not finish";
    ASSERT_TRUE(ChildProcess::Succeeded(*status))
        << "writer " << w << ": " << ChildProcess::Describe(*status);
    std::istringstream in(ReadFile(dir.File("writer" + std::to_string(w))));
    uint64_t id = 0;
    int ww = 0;
    int seq = 0;
    int count = 0;
    uint64_t previous = 0;
    while (in >> id >> ww >> seq) {
      EXPECT_GT(id, previous) << "writer " << w << " got a smaller id than before";
      previous = id;
      EXPECT_TRUE(committed.emplace(id, std::make_pair(ww, seq)).second) << "id " << id << " twice";
      ++count;
    }
    EXPECT_EQ(count, kBatchesPerWriter);
  }
  const std::optional<int> status = tailer.WaitFor(kDeadline);
  ASSERT_TRUE(status.has_value()) << "tailer did not finish";
  ASSERT_TRUE(ChildProcess::Succeeded(*status)) << "tailer: " << ChildProcess::Describe(*status);

  std::vector<std::tuple<uint64_t, int, int>> expected;
  for (const auto& [id, ws] : committed) expected.emplace_back(id, ws.first, ws.second);
  std::vector<std::tuple<uint64_t, int, int>> received;
  std::istringstream in(ReadFile(dir.File("tailer")));
  uint64_t id = 0;
  int w = 0;
  int seq = 0;
  while (in >> id >> w >> seq) received.emplace_back(id, w, seq);
  ASSERT_EQ(received.size(), expected.size());
  EXPECT_TRUE(received == expected) << "the tailer's updates differ from what writers committed";
  EXPECT_EQ(OpenLog()->HeadId(), std::get<0>(expected.back()));
}

TEST_P(ChangeLogConformanceTest, CorruptRecordStopsReadersWithoutSkipping) {
  auto log = OpenLog();
  const uint64_t a = log->Append(std::vector<Mutation>{Mutation::Set("a", "1")});
  const uint64_t b = log->Append(std::vector<Mutation>{Mutation::Set("b", std::string(5000, 'b'))});
  const uint64_t c = log->Append(std::vector<Mutation>{Mutation::Set("c", "3")});
  ASSERT_LT(a, b);
  ASSERT_LT(b, c);
  if (!fresh_->CorruptRecord(b)) GTEST_SKIP() << "this backend cannot corrupt a record";

  auto reader = OpenLog();
  std::vector<uint64_t> got;
  std::string message;
  uint64_t last = 0;
  for (int i = 0; i < 10 && message.empty(); ++i) {
    try {
      const std::vector<Update> page = reader->ReadAfter(last, 10);
      if (page.empty()) break;
      for (const Update& u : page) got.push_back(last = u.id);
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), Error::Code::kCorruption) << e.what();
      message = e.what();
    }
  }
  EXPECT_EQ(got, std::vector<uint64_t>{a});
  EXPECT_FALSE(message.empty()) << "the damaged record was not reported";
  // Asking again reports it again: the reader never moves past it.
  EXPECT_EQ(ErrorCodeOf([&] { reader->ReadAfter(a, 10); }), Error::Code::kCorruption);
  EXPECT_EQ(ErrorCodeOf([&] { OpenLog()->ReadAfter(a, 10); }), Error::Code::kCorruption);
}

}  // namespace
}  // namespace whycache::testing
