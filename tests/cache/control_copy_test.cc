// The control block in the state file's user area goes with the state when the tree rebuilds the
// file, while other threads (and processes) keep updating it.
#include <string>

#include "gtest/gtest.h"
#include "lib/cache/shared_control.h"
#include "lib/tree/tree.h"
#include "tests/support/temp_dir.h"

namespace whycache::cache {
namespace {

using whycache::testing::TempDir;

// Every field of the block, set to a value of its own, is in the rebuilt file.
TEST(ControlCopyTest, ARebuildCarriesEveryField) {
  TempDir temp;
  std::unique_ptr<tree::Tree> tree = tree::Tree::Open(temp.File("state"), StateTreeOptions());
  SharedControl* control = ControlOf(*tree);
  InitializeControl(control, "dataset-7", 123);
  uint64_t value = 1000;
  const auto set = [&](auto& field) { field.store(++value, std::memory_order_relaxed); };
  set(control->schedule_boot[0]);
  set(control->schedule_boot[1]);
  set(control->unpolled_since_wall_us);
  set(control->next_poll_ns);
  set(control->consecutive_failures);
  set(control->log_head_seen);
  set(control->last_poll_wall_us);
  set(control->newest_applied_write_us);
  set(control->polls);
  set(control->poll_errors);
  set(control->batches_applied);
  set(control->mutations_applied);
  set(control->apply_ns);
  set(control->resyncs);
  set(control->replay_horizon);
  RecordError(control, "the log is down", 55);
  RecordResyncSnapshotUnused(control, "the snapshot is damaged", 66);
  const unsigned char* before = tree->UserArea();

  tree->Compact();
  const SharedControl* copy = ControlOf(*tree);
  ASSERT_NE(reinterpret_cast<const unsigned char*>(copy), before) << "the file was not rebuilt";
  ASSERT_TRUE(ControlIsValid(*copy));
  EXPECT_EQ(DatasetId(*copy), "dataset-7");
  EXPECT_EQ(copy->poll_interval_ns.load(), 123);
  value = 1000;
  const auto expect = [&](const auto& field, const char* name) {
    EXPECT_EQ(static_cast<uint64_t>(field.load()), ++value) << name;
  };
  expect(copy->schedule_boot[0], "schedule_boot[0]");
  expect(copy->schedule_boot[1], "schedule_boot[1]");
  expect(copy->unpolled_since_wall_us, "unpolled_since_wall_us");
  expect(copy->next_poll_ns, "next_poll_ns");
  expect(copy->consecutive_failures, "consecutive_failures");
  expect(copy->log_head_seen, "log_head_seen");
  expect(copy->last_poll_wall_us, "last_poll_wall_us");
  expect(copy->newest_applied_write_us, "newest_applied_write_us");
  expect(copy->polls, "polls");
  expect(copy->poll_errors, "poll_errors");
  expect(copy->batches_applied, "batches_applied");
  expect(copy->mutations_applied, "mutations_applied");
  expect(copy->apply_ns, "apply_ns");
  expect(copy->resyncs, "resyncs");
  expect(copy->replay_horizon, "replay_horizon");
  EXPECT_EQ(LastError(*copy).message, "the log is down");
  EXPECT_EQ(LastError(*copy).wall_us, 55);
  EXPECT_EQ(ResyncSnapshotUnused(*copy).message, "the snapshot is damaged");
  EXPECT_EQ(ResyncSnapshotUnused(*copy).wall_us, 66);
}

// A process killed while it wrote the last error leaves the text's sequence odd. The rebuilt file
// must not keep it so: its readers would find the text half-written for good, where the next
// error recorded in the old file, which they no longer read, would have ended it.
TEST(ControlCopyTest, ATextHalfWrittenWhenTheFileIsRebuiltIsNotCarried) {
  TempDir temp;
  std::unique_ptr<tree::Tree> tree = tree::Tree::Open(temp.File("state"), StateTreeOptions());
  SharedControl* control = ControlOf(*tree);
  InitializeControl(control, "dataset", 1);
  RecordError(control, "the first error", 10);
  RecordResyncSnapshotUnused(control, "the first note", 20);
  // Where RecordError stops when its process is killed after it began the text.
  control->error_sequence.fetch_add(1);
  control->resync_note_sequence.fetch_add(1);

  tree->Compact();
  const SharedControl* copy = ControlOf(*tree);
  ASSERT_TRUE(ControlIsValid(*copy));
  EXPECT_EQ(copy->error_sequence.load() % 2, 0u) << "the last error stays half-written";
  EXPECT_EQ(copy->resync_note_sequence.load() % 2, 0u) << "the resync note stays half-written";
  EXPECT_EQ(LastError(*copy).message, "");
  EXPECT_EQ(ResyncSnapshotUnused(*copy).message, "");
  RecordError(const_cast<SharedControl*>(copy), "the next error", 30);
  EXPECT_EQ(LastError(*copy).message, "the next error");
}

}  // namespace
}  // namespace whycache::cache
