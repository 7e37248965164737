// Snapshots never take a machine back: a restore of a snapshot older than the state readers have
// catches up from the log before it is installed (or is refused unless forced), and a damaged
// resync snapshot makes the resync replay the log instead of failing every poll, saying why.
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>

#include "gtest/gtest.h"
#include "tests/log/log_backends.h"
#include "tests/support/temp_dir.h"
#include "whycache/cache.h"
#include "whycache/error.h"

namespace whycache::testing {
namespace {

class SnapshotSafetyTest : public ::testing::Test {
 protected:
  CacheOptions Machine(const std::string& name) {
    CacheOptions options;
    options.state_path = dir_.File(name + ".state");
    options.log_uri = fresh_->uri();
    return options;
  }

  TempDir dir_;
  std::unique_ptr<FreshLog> fresh_ = FileLogBackend().create();
};

TEST_F(SnapshotSafetyTest, RestoringAnOlderSnapshotNeverTakesReadersBack) {
  auto a = Cache::Open(Machine("a"));
  a->Set("k", "old");
  a->UpdateNow();
  a->CreateSnapshot(dir_.File("old.snapshot"));
  a->Set("k", "new");
  a->Set("other", "x");
  ASSERT_EQ(a->UpdateNow(), 3u);
  auto reader = Cache::Open(Machine("a"));  // Another user of the same state file.

  const SnapshotInfo restored = a->RestoreSnapshot(dir_.File("old.snapshot"));
  EXPECT_EQ(restored.applied_id, 1u);
  EXPECT_EQ(reader->AppliedId(), 3u) << "the restore took the applied id back";
  EXPECT_EQ(reader->Get("k"), "new");
  EXPECT_EQ(a->Get("other"), "x");
  EXPECT_EQ(a->CheckAgainstLog(), "");
}

TEST_F(SnapshotSafetyTest, GoingBackWhereTheLogCannotCatchUpNeedsForce) {
  auto a = Cache::Open(Machine("a"));
  a->Set("k", "old");
  a->UpdateNow();
  a->CreateSnapshot(dir_.File("old.snapshot"));
  // The log as it was then, as an operator would bring back a backup of it.
  const std::string log_dir = fresh_->uri().substr(std::string("file:").size());
  std::filesystem::copy(log_dir, dir_.File("backup.log"), std::filesystem::copy_options::recursive);
  a->Set("k", "new");
  ASSERT_EQ(a->UpdateNow(), 2u);
  a.reset();

  CacheOptions on_backup = Machine("a");
  on_backup.log_uri = "file:" + dir_.File("backup.log");
  auto machine = Cache::Open(on_backup);
  try {
    machine->RestoreSnapshot(dir_.File("old.snapshot"));
    ADD_FAILURE() << "restored a snapshot that takes the applied id back without force";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), Error::Code::kInvalidArgument) << e.what();
    EXPECT_NE(std::string(e.what()).find("force"), std::string::npos) << e.what();
  }
  EXPECT_EQ(machine->AppliedId(), 2u);
  EXPECT_EQ(machine->Get("k"), "new");

  machine->RestoreSnapshot(dir_.File("old.snapshot"), nullptr, {.force = true});
  EXPECT_EQ(machine->AppliedId(), 1u);
  EXPECT_EQ(machine->Get("k"), "old");
  EXPECT_EQ(machine->CheckAgainstLog(), "");
}

TEST_F(SnapshotSafetyTest, ADamagedResyncSnapshotFallsBackToTheLogAndSaysSo) {
  auto writer = Cache::Open(Machine("writer"));
  for (int i = 0; i < 200; ++i) writer->Set("k" + std::to_string(i), std::string(100, 'v'));
  CacheOptions behind = Machine("behind");
  Cache::Open(behind)->UpdateNow();
  writer->Delete("k0");
  writer->UpdateNow();
  const SnapshotInfo info = writer->CreateSnapshot(dir_.File("recent.snapshot"));
  {
    // A flipped byte near the end of the body: the header still checks out.
    std::fstream f(dir_.File("recent.snapshot"), std::ios::in | std::ios::out | std::ios::binary);
    const auto at = static_cast<std::streamoff>(info.file_bytes - 10);
    f.seekg(at);
    const char c = static_cast<char>(f.get());
    f.seekp(at);
    f.put(static_cast<char>(c ^ 0x10));
  }
  writer->Set("after", "snapshot");
  CompactionOptions compact;
  compact.tombstone_retention = std::chrono::seconds(0);
  ASSERT_GE(writer->Compact(compact).horizon, 201u);

  behind.resync_snapshot = dir_.File("recent.snapshot");
  auto resynced = Cache::Open(behind);
  resynced->Update();
  EXPECT_EQ(resynced->Get("k0"), std::nullopt);
  EXPECT_EQ(resynced->Get("after"), "snapshot");
  const CacheStats stats = resynced->Stats();
  EXPECT_EQ(stats.resyncs, 1u);
  EXPECT_EQ(stats.last_error, "");
  EXPECT_NE(stats.resync_snapshot_unused.find(dir_.File("recent.snapshot")), std::string::npos)
      << stats.resync_snapshot_unused;
  EXPECT_NE(stats.resync_snapshot_unused.find("checksum"), std::string::npos)
      << stats.resync_snapshot_unused;
  EXPECT_EQ(resynced->CheckAgainstLog(), "");
}

}  // namespace
}  // namespace whycache::testing
