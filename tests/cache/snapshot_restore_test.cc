// Bootstrapping machines from snapshots: a snapshot of machine A restores on machine B, which
// then catches up from the log; damaged or foreign snapshots change nothing.
#include <filesystem>
#include <fstream>
#include <future>
#include <random>
#include <thread>

#include "gtest/gtest.h"
#include "tests/cache/cache_test_util.h"
#include "tests/log/log_backends.h"
#include "tests/support/temp_dir.h"
#include "whycache/cache.h"
#include "whycache/error.h"

namespace whycache::testing {
namespace {

class SnapshotRestoreTest : public ::testing::Test {
 protected:
  void SetUp() override { fresh_ = FileLogBackend().create(); }

  CacheOptions Machine(const std::string& name) {
    CacheOptions options;
    options.state_path = dir_.File(name + ".state");
    options.log_uri = fresh_->uri();
    return options;
  }

  // Appends `keys` sets of distinct keys in batches of 10,000.
  void Load(uint64_t keys, uint64_t seed) {
    auto log = fresh_->Open({});
    std::mt19937_64 rng(seed);
    std::vector<Mutation> batch;
    for (uint64_t i = 0; i < keys; ++i) {
      batch.push_back(Mutation::Set("key:" + std::to_string(rng()), std::to_string(i)));
      if (batch.size() == 10'000 || i + 1 == keys) {
        log->Append(batch);
        batch.clear();
      }
    }
  }

  TempDir dir_;
  std::unique_ptr<FreshLog> fresh_;
};

TEST_F(SnapshotRestoreTest, MachineBootstrapsFromAMillionKeySnapshotAndCatchesUp) {
  Load(1'000'000, 1);
  auto a = Cache::Open(Machine("a"));
  a->UpdateNow();
  const SnapshotInfo made = a->CreateSnapshot(dir_.File("a.snapshot"));
  EXPECT_EQ(made.key_count, 1'000'000u);
  EXPECT_EQ(made.applied_id, a->AppliedId());
  EXPECT_LT(made.file_bytes, made.raw_bytes);

  std::mt19937_64 rng(2);
  for (int i = 0; i < 500; ++i) a->Write(RandomBatch(rng));

  auto b = Cache::Open(Machine("b"));
  const SnapshotInfo restored = b->RestoreSnapshot(dir_.File("a.snapshot"));
  EXPECT_EQ(restored.applied_id, made.applied_id);
  EXPECT_EQ(b->AppliedId(), made.applied_id);
  // Nothing is left where the restore built its file.
  EXPECT_FALSE(std::filesystem::exists(Machine("b").state_path + ".rebuild-state"));
  const uint64_t head = b->UpdateNow();
  EXPECT_EQ(a->UpdateNow(), head);
  EXPECT_EQ(b->CheckAgainstLog(), "");
  EXPECT_EQ(a->CheckAgainstLog(), "");
  EXPECT_EQ(FirstDifference(ScanAll(*a), ScanAll(*b)), "");
  b->Verify();
}

TEST_F(SnapshotRestoreTest, DamagedSnapshotsChangeNothing) {
  Load(5'000, 3);
  auto a = Cache::Open(Machine("a"));
  a->UpdateNow();
  const std::string good = dir_.File("good.snapshot");
  const SnapshotInfo info = a->CreateSnapshot(good);
  a->Set("after", "snapshot");
  auto b = Cache::Open(Machine("b"));
  b->UpdateNow();
  const Model before = ScanAll(*b);

  auto damaged = [&](const std::string& name, auto damage) {
    const std::string path = dir_.File(name);
    std::filesystem::copy_file(good, path);
    damage(path);
    return path;
  };
  auto flip = [](uint64_t offset) {
    return [offset](const std::string& path) {
      std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
      f.seekg(static_cast<std::streamoff>(offset));
      char c = static_cast<char>(f.get());
      f.seekp(static_cast<std::streamoff>(offset));
      f.put(static_cast<char>(c ^ 0x10));
    };
  };
  const std::string bad_files[] = {
      damaged("truncated",
              [&](const std::string& p) { std::filesystem::resize_file(p, info.file_bytes / 2); }),
      damaged("header", flip(40)),
      damaged("body", flip(info.file_bytes - 10)),
      damaged("version", flip(9)),
  };
  for (const std::string& bad : bad_files) {
    try {
      b->RestoreSnapshot(bad);
      ADD_FAILURE() << "restored " << bad;
    } catch (const Error& e) {
      EXPECT_TRUE(e.code() == Error::Code::kCorruption) << bad << ": " << e.what();
    }
    EXPECT_EQ(FirstDifference(before, ScanAll(*b)), "") << bad;
    EXPECT_FALSE(std::filesystem::exists(Machine("b").state_path + ".rebuild-state"));
  }
  b->Verify();
}

TEST_F(SnapshotRestoreTest, SnapshotOfAnotherDatasetIsRefused) {
  std::unique_ptr<FreshLog> other_log = FileLogBackend().create();
  CacheOptions other = Machine("other");
  other.log_uri = other_log->uri();
  auto foreign = Cache::Open(other);
  foreign->Set("k", "v");
  foreign->UpdateNow();
  foreign->CreateSnapshot(dir_.File("foreign.snapshot"));

  auto b = Cache::Open(Machine("b"));
  try {
    b->RestoreSnapshot(dir_.File("foreign.snapshot"));
    FAIL() << "restored another dataset's snapshot";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), Error::Code::kIncompatible) << e.what();
  }
  EXPECT_EQ(b->Get("k"), std::nullopt);
}

TEST_F(SnapshotRestoreTest, ReadersKeepTheirViewAcrossARestore) {
  auto a = Cache::Open(Machine("a"));
  a->Set("k", "old");
  a->UpdateNow();
  a->CreateSnapshot(dir_.File("old.snapshot"));
  a->Set("k", "new");
  a->UpdateNow();

  ReadTransaction before = a->BeginRead();
  const std::string_view view = *before.Get("k");
  EXPECT_EQ(view, "new");
  a->RestoreSnapshot(dir_.File("old.snapshot"));
  EXPECT_EQ(view, "new");  // Still valid and unchanged: the old file stays mapped.
  // The older snapshot was brought up to the state readers had before it was installed.
  EXPECT_EQ(a->Get("k"), "new");
  EXPECT_EQ(a->AppliedId(), 2u);
}

TEST_F(SnapshotRestoreTest, CreatingASnapshotBlocksNeitherReadersNorTheApplier) {
  Load(300'000, 4);
  auto a = Cache::Open(Machine("a"));
  a->UpdateNow();
  std::atomic<bool> done{false};
  auto snapshot = std::async(std::launch::async, [&] {
    auto own = Cache::Open(Machine("a"));
    SnapshotInfo info = own->CreateSnapshot(dir_.File("a.snapshot"));
    done = true;
    return info;
  });
  // Meanwhile this machine keeps applying and reading.
  int applied_during = 0;
  while (!done && applied_during < 1000) {
    const uint64_t id = a->Set("during", std::to_string(applied_during));
    ASSERT_TRUE(a->WaitFor(id, std::chrono::seconds(10)));
    ASSERT_EQ(a->Get("during"), std::to_string(applied_during));
    ++applied_during;
  }
  const SnapshotInfo info = snapshot.get();
  EXPECT_GT(applied_during, 0);
  EXPECT_EQ(info.key_count, 300'000u + (info.applied_id > 30 ? 1 : 0));
  EXPECT_EQ(VerifySnapshot(dir_.File("a.snapshot")).key_count, info.key_count);
}

}  // namespace
}  // namespace whycache::testing
