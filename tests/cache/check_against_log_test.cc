// CheckAgainstLog tells a machine that is behind a compacted log from one whose state is wrong.
// A compacted log no longer holds the history at every id, so the check of a machine behind it
// must not read the log's present as the machine's past.
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "gtest/gtest.h"
#include "lib/tree/tree.h"
#include "tests/log/log_backends.h"
#include "tests/support/temp_dir.h"
#include "whycache/cache.h"
#include "whycache/error.h"

namespace whycache::testing {
namespace {

class CheckAgainstLogTest : public ::testing::Test {
 protected:
  std::unique_ptr<Cache> OpenMachine(const std::string& name) {
    CacheOptions options;
    options.state_path = dir_.File(name);
    options.log_uri = fresh_->uri();
    return Cache::Open(options);
  }

  TempDir dir_;
  std::unique_ptr<FreshLog> fresh_ = FileLogBackend().create();
};

TEST_F(CheckAgainstLogTest, AHealthyMachineBehindACompactedLogPasses) {
  auto writer = OpenMachine("writer.state");
  auto machine = OpenMachine("machine.state");
  writer->Set("q", "v1");
  ASSERT_EQ(machine->UpdateNow(), 1u);
  writer->Set("q", "v2");
  writer->Compact({});
  EXPECT_EQ(machine->CheckAgainstLog(), "");
  EXPECT_EQ(machine->AppliedId(), 1u) << "the check must not change the state it checks";
  EXPECT_EQ(machine->Get("q"), "v1");
}

// Progress counts the updates after the machine's id and then the whole log, and ends full.
TEST_F(CheckAgainstLogTest, ProgressCountsBothPassesAndEndsFull) {
  auto writer = OpenMachine("writer.state");
  auto machine = OpenMachine("machine.state");
  for (int i = 0; i < 3; ++i) writer->Set("k" + std::to_string(i), "v");
  ASSERT_EQ(machine->UpdateNow(), 3u);
  for (int i = 0; i < 4; ++i) writer->Set("k" + std::to_string(i), "w");
  std::vector<std::pair<uint64_t, uint64_t>> calls;
  EXPECT_EQ(machine->CheckAgainstLog(
                [&](uint64_t done, uint64_t total) { calls.emplace_back(done, total); }),
            "");
  ASSERT_FALSE(calls.empty());
  for (size_t i = 0; i < calls.size(); ++i) {
    EXPECT_EQ(calls[i].second, 4u + 7u) << "call " << i;
    if (i > 0) {
      EXPECT_GE(calls[i].first, calls[i - 1].first) << "call " << i;
    }
  }
  EXPECT_EQ(calls.back().first, calls.back().second);
}

TEST_F(CheckAgainstLogTest, AWrongStateBehindACompactedLogIsStillReported) {
  auto writer = OpenMachine("writer.state");
  auto machine = OpenMachine("machine.state");
  writer->Set("q", "v1");
  writer->Set("r", "v1");
  ASSERT_EQ(machine->UpdateNow(), 2u);
  writer->Set("q", "v2");
  writer->Compact({});
  // A key no update ever wrote, committed at the machine's applied id as a faulty applier would.
  {
    std::unique_ptr<tree::Tree> tree = tree::Tree::Open(dir_.File("machine.state"));
    std::unique_ptr<tree::WriteTxn> txn = tree->BeginWrite();
    txn->Put("intruder", "x");
    txn->Commit(2);
  }
  EXPECT_EQ(machine->CheckAgainstLog(),
            "key 'intruder' is in the state but not in the log "
            "replayed (compared at update 3, with the state brought "
            "up from update 2 by the log's updates after it)");
}

TEST_F(CheckAgainstLogTest, AMachineBelowTheHorizonCannotBeChecked) {
  auto writer = OpenMachine("writer.state");
  auto machine = OpenMachine("machine.state");
  writer->Set("q", "v1");
  ASSERT_EQ(machine->UpdateNow(), 1u);
  writer->Delete("q");
  CompactionOptions compaction;
  compaction.tombstone_retention = std::chrono::seconds(0);
  ASSERT_EQ(writer->Compact(compaction).horizon, 2u);
  try {
    const std::string difference = machine->CheckAgainstLog();
    ADD_FAILURE() << "checked a machine below the horizon: [" << difference << "]";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), Error::Code::kBusy) << e.what();
    EXPECT_NE(std::string(e.what()).find("below the log's horizon 2"), std::string::npos)
        << e.what();
  }
  machine->UpdateNow();
  EXPECT_EQ(machine->CheckAgainstLog(), "");
}

}  // namespace
}  // namespace whycache::testing
