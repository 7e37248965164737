// End to end, for every log backend: writer processes append a random workload through Cache,
// two "machines" (two state files) apply it with several processes each, and both reach exactly
// the log replayed.
#include <chrono>
#include <filesystem>
#include <fstream>
#include <random>
#include <thread>

#include "gtest/gtest.h"
#include "tests/cache/cache_test_util.h"
#include "tests/log/log_backends.h"
#include "tests/support/boot_stamp.h"
#include "tests/support/child_process.h"
#include "tests/support/temp_dir.h"
#include "whycache/cache.h"
#include "whycache/error.h"

namespace whycache::testing {
namespace {

using std::chrono::milliseconds;

class CacheEndToEndTest : public ::testing::TestWithParam<ChangeLogBackend> {
 protected:
  void SetUp() override { fresh_ = GetParam().create(); }

  CacheOptions Machine(const std::string& name) {
    CacheOptions options;
    options.state_path = dir_.File(name + ".state");
    options.log_uri = fresh_->uri();
    options.poll_interval = milliseconds(10);
    return options;
  }

  TempDir dir_;
  std::unique_ptr<FreshLog> fresh_;
};

TEST_P(CacheEndToEndTest, TwoMachinesConvergeOnTheReplayedLog) {
  constexpr int kWriters = 3;
  constexpr int kBatchesPerWriter = 150;
  constexpr int kUpdatersPerMachine = 2;
  const std::string stop_file = dir_.File("stop");

  std::vector<ChildProcess> writers;
  for (int w = 0; w < kWriters; ++w) {
    writers.emplace_back([&, w] {
      auto cache = Cache::Open(Machine(w % 2 == 0 ? "a" : "b"));
      std::mt19937_64 rng(1000 + w);
      for (int i = 0; i < kBatchesPerWriter; ++i) cache->Write(RandomBatch(rng));
      return 0;
    });
  }
  std::vector<ChildProcess> updaters;
  for (int u = 0; u < 2 * kUpdatersPerMachine; ++u) {
    updaters.emplace_back([&, u] {
      auto cache = Cache::Open(Machine(u % 2 == 0 ? "a" : "b"));
      const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
      std::mt19937_64 rng(u);
      while (!std::filesystem::exists(stop_file) && std::chrono::steady_clock::now() < deadline) {
        cache->Update();
        ReadTransaction txn = cache->BeginRead();
        for (int i = 0; i < 100; ++i) txn.Get("user:" + std::to_string(rng() % 300) + ":perm");
      }
      return cache->Stats().last_error.empty() ? 0 : 1;
    });
  }
  for (ChildProcess& w : writers) {
    int status = w.Wait();
    ASSERT_TRUE(ChildProcess::Succeeded(status)) << "writer " << ChildProcess::Describe(status);
  }
  std::ofstream(stop_file).put('x');
  for (ChildProcess& u : updaters) {
    int status = u.Wait();
    EXPECT_TRUE(ChildProcess::Succeeded(status)) << "updater " << ChildProcess::Describe(status);
  }

  auto log = fresh_->Open({});
  const Model model = ReplayLog(*log);
  const uint64_t head = log->HeadId();
  ASSERT_GE(head, uint64_t{kWriters * kBatchesPerWriter});
  ASSERT_FALSE(model.empty());
  for (const char* machine : {"a", "b"}) {
    auto cache = Cache::Open(Machine(machine));
    ASSERT_TRUE(cache->WaitFor(head, milliseconds(30'000))) << machine;
    EXPECT_EQ(cache->AppliedId(), head);
    EXPECT_EQ(FirstDifference(model, ScanAll(*cache)), "") << "machine " << machine;
    cache->Verify();
  }
}

TEST_P(CacheEndToEndTest, ReadYourWritesWithWaitFor) {
  auto cache = Cache::Open(Machine("a"));
  const std::string value("v\0\xff", 3);
  const uint64_t id = cache->Set(std::string("k\0", 2), value);
  ASSERT_TRUE(cache->WaitFor(id, milliseconds(10'000)));
  EXPECT_EQ(cache->Get(std::string("k\0", 2)), value);
  const uint64_t deleted = cache->Delete(std::string("k\0", 2));
  EXPECT_GT(deleted, id);
  ASSERT_TRUE(cache->WaitFor(deleted, milliseconds(10'000)));
  EXPECT_EQ(cache->Get(std::string("k\0", 2)), std::nullopt);
  const CacheStats s = cache->Stats();
  EXPECT_EQ(s.applied_id, deleted);
  EXPECT_EQ(s.keys, 0u);
  EXPECT_GE(s.mutations_applied, 2u);
}

TEST_P(CacheEndToEndTest, WritesAreInvisibleUntilApplied) {
  auto cache = Cache::Open(Machine("a"));
  cache->Set("k", "v");
  // Writes go to the log only: the local state changes when the log is applied.
  EXPECT_EQ(cache->Get("k"), std::nullopt);
  cache->UpdateNow();
  EXPECT_EQ(cache->Get("k"), "v");
}

TEST_P(CacheEndToEndTest, MultiKeyBatchesApplyAtomically) {
  auto cache = Cache::Open(Machine("a"));
  std::vector<std::pair<std::string, std::string>> entries;
  for (int i = 0; i < 500; ++i) entries.emplace_back("group:" + std::to_string(i), "1");
  cache->SetMulti(entries);
  std::vector<std::string> keys;
  for (int i = 0; i < 250; ++i) keys.push_back("group:" + std::to_string(i));
  const uint64_t id = cache->DeleteMulti(keys);
  cache->UpdateNow();
  EXPECT_EQ(cache->AppliedId(), id);
  EXPECT_EQ(cache->BeginRead().key_count(), 250u);
}

TEST_P(CacheEndToEndTest, StateFileOfAnotherDatasetIsRefused) {
  auto cache = Cache::Open(Machine("a"));
  cache->Set("k", "v");
  cache->UpdateNow();
  std::unique_ptr<FreshLog> other = GetParam().create();
  CacheOptions options = Machine("a");
  options.log_uri = other->uri();
  try {
    Cache::Open(options);
    FAIL() << "opened a state file with another dataset's log";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), Error::Code::kIncompatible);
    EXPECT_NE(std::string(e.what()).find("another dataset"), std::string::npos) << e.what();
  }
}

TEST_P(CacheEndToEndTest, DamagedStateFileIsRebuiltFromTheLog) {
  {
    auto cache = Cache::Open(Machine("a"));
    for (int i = 0; i < 50; ++i) cache->Set("k" + std::to_string(i), std::to_string(i));
    cache->UpdateNow();
  }
  const std::string path = Machine("a").state_path;
  {
    std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(0);
    f.write("garbage!", 8);
  }
  auto cache = Cache::Open(Machine("a"));
  EXPECT_TRUE(std::filesystem::exists(path + ".bad"));
  cache->UpdateNow();
  auto log = fresh_->Open({});
  EXPECT_EQ(FirstDifference(ReplayLog(*log), ScanAll(*cache)), "");
}

// A power failure can leave a state file with pages that never reached the disk (commits do not
// sync): one stamped with an earlier boot is verified on open, and rebuilt when it is torn.
TEST_P(CacheEndToEndTest, StateFileTornBeforeARestartIsRebuiltFromTheLog) {
  {
    auto cache = Cache::Open(Machine("a"));
    for (int i = 0; i < 50; ++i) cache->Set("k" + std::to_string(i), "value-" + std::to_string(i));
    cache->UpdateNow();
  }
  const std::string path = Machine("a").state_path;
  {
    std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
    std::string bytes((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    const size_t at = bytes.find("value-17");
    ASSERT_NE(at, std::string::npos);
    f.seekp(static_cast<std::streamoff>(at));
    f.write("\0\0\0\0\0\0\0\0", 8);
  }
  {
    // Within the boot that wrote it, the damage is not looked for on open.
    auto cache = Cache::Open(Machine("a"));
    EXPECT_FALSE(std::filesystem::exists(path + ".bad"));
  }
  testing::WriteBootStamp(path, {1, 2});
  auto cache = Cache::Open(Machine("a"));
  EXPECT_TRUE(std::filesystem::exists(path + ".bad"));
  cache->UpdateNow();
  auto log = fresh_->Open({});
  EXPECT_EQ(FirstDifference(ReplayLog(*log), ScanAll(*cache)), "");
}

TEST_P(CacheEndToEndTest, ReadsWorkFromTheStateFileAlone) {
  {
    auto cache = Cache::Open(Machine("a"));
    cache->Set("k", "v");
    cache->UpdateNow();
  }
  CacheOptions options = Machine("a");
  options.log_uri.clear();
  auto cache = Cache::Open(options);
  EXPECT_EQ(cache->Get("k"), "v");
  EXPECT_THROW(cache->UpdateNow(), Error);
}

TEST_P(CacheEndToEndTest, CorruptLogRecordStopsApplyingLoudly) {
  auto cache = Cache::Open(Machine("a"));
  cache->Set("a", "1");
  const uint64_t bad = cache->Set("b", "2");
  cache->Set("c", "3");
  if (!fresh_->CorruptRecord(bad)) GTEST_SKIP() << "this backend cannot corrupt a record";
  cache->Update();  // Never throws into the request path...
  const CacheStats s = cache->Stats();
  EXPECT_NE(s.last_error.find(std::to_string(bad)), std::string::npos) << s.last_error;
  EXPECT_GE(s.poll_errors, 1u);
  EXPECT_LT(cache->AppliedId(), bad);  // ...and never skips the bad record.
  EXPECT_THROW(cache->UpdateNow(), Error);
  EXPECT_LT(cache->AppliedId(), bad);
}

INSTANTIATE_TEST_SUITE_P(Logs, CacheEndToEndTest,
                         ::testing::Values(FileLogBackend(), MysqlLogBackend()), BackendName);

}  // namespace
}  // namespace whycache::testing
