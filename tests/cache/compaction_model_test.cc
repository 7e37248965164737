// Compaction preserves meaning (invariant 4), for every log backend: machines left at many
// applied ids, compactions at random points (one while a writer appends), and afterwards every
// machine reaches exactly the state that replaying the full, uncompacted history gives: those
// at or above the horizon by applying the compacted log, those below it by resyncing.
#include <chrono>
#include <fstream>
#include <map>
#include <random>
#include <string>
#include <thread>

#include "gtest/gtest.h"
#include "tests/cache/cache_test_util.h"
#include "tests/log/log_backends.h"
#include "tests/support/child_process.h"
#include "tests/support/temp_dir.h"
#include "whycache/cache.h"

namespace whycache::testing {
namespace {

using std::chrono::seconds;

constexpr int kPhases = 24;
constexpr int kBatchesPerPhase = 100;
constexpr int kKeys = 3000;
constexpr int kGroups = 30;
constexpr int kConcurrentBatches = 300;

// A batch over a small key space, so that most entries get superseded: sets, re-sets and
// deletes, 1-80 mutations. One in eight also sets a few keys of a group ("g:N/0".."g:N/9", rarer
// than the others, so that many are set once between two deletes of their group), or deletes the
// group by its prefix, half of the time followed by a set of the key equal to the prefix, which
// must not undo the prefix delete.
std::vector<Mutation> HistoryBatch(std::mt19937_64& rng) {
  std::vector<Mutation> batch(1 + rng() % 80);
  for (Mutation& m : batch) {
    std::string key = "k:" + std::to_string(rng() % kKeys);
    if (rng() % 3 == 0) {
      m = Mutation::Delete(std::move(key));
    } else {
      m = Mutation::Set(std::move(key),
                        std::string(1 + rng() % 40, static_cast<char>('a' + rng() % 26)));
    }
  }
  if (rng() % 8 == 0) {
    const std::string group = "g:" + std::to_string(rng() % kGroups) + "/";
    if (rng() % 2 == 0) {
      for (uint64_t i = 0, n = 1 + rng() % 5; i < n; ++i) {
        batch.push_back(Mutation::Set(group + std::to_string(rng() % 10), "in group"));
      }
    } else {
      batch.push_back(Mutation::ErasePrefix(group));
      if (rng() % 2 == 0) batch.push_back(Mutation::Set(group, "after"));
    }
  }
  return batch;
}

class CompactionModelTest : public ::testing::TestWithParam<ChangeLogBackend> {
 protected:
  void SetUp() override { fresh_ = GetParam().create(); }

  CacheOptions Machine(int n) {
    CacheOptions options;
    options.state_path = dir_.File("machine-" + std::to_string(n) + ".state");
    options.log_uri = fresh_->uri();
    return options;
  }

  uint64_t Append(ChangeLog& log, std::vector<Mutation> batch) {
    const uint64_t id = log.Append(batch);
    history_.emplace(id, std::move(batch));
    return id;
  }

  Model FullReplay() const {
    Model model;
    for (const auto& [id, batch] : history_) ApplyToModel({id, 0, batch}, &model);
    return model;
  }

  TempDir dir_;
  std::unique_ptr<FreshLog> fresh_;
  std::map<uint64_t, std::vector<Mutation>> history_;  // Everything appended, by id.
};

TEST_P(CompactionModelTest, EveryMachineReachesTheFullReplay) {
  auto log = fresh_->Open({});
  std::mt19937_64 rng(11);
  uint64_t mutations = 0;
  CompactionOptions drop_tombstones;
  drop_tombstones.tombstone_retention = seconds(0);
  std::vector<uint64_t> phase_heads;
  uint64_t removed = 0;

  for (int phase = 0; phase < kPhases; ++phase) {
    for (int b = 0; b < kBatchesPerPhase; ++b) {
      std::vector<Mutation> batch = HistoryBatch(rng);
      mutations += batch.size();
      Append(*log, std::move(batch));
    }
    // Machine `phase` stops here, at the head of this phase.
    auto machine = Cache::Open(Machine(phase));
    phase_heads.push_back(machine->UpdateNow());
    // Now and then a compaction at a random point, keeping or dropping tombstones.
    if (rng() % 3 == 0) {
      CompactionOptions options = rng() % 2 ? drop_tombstones : CompactionOptions{};
      options.before_id = 1 + rng() % (log->HeadId() + 1);
      removed += log->Compact(options).removed;
    }
  }
  ASSERT_GE(mutations, 90'000u);

  // The last compactions drop tombstones up to the middle machine's id: the machines before it
  // fall below the horizon, those after it stay above.
  drop_tombstones.before_id = phase_heads[kPhases / 2] + 1;

  // One compaction while another process appends.
  ChildProcess writer([&] {
    auto own = fresh_->Open({});
    std::mt19937_64 child_rng(12);
    std::ofstream ids(dir_.File("concurrent-ids"));
    for (int i = 0; i < kConcurrentBatches; ++i)
      ids << own->Append(HistoryBatch(child_rng)) << "\n";
    return ids.good() ? 0 : 1;
  });
  const CompactionResult during = log->Compact(drop_tombstones);
  const int status = writer.Wait();
  ASSERT_TRUE(ChildProcess::Succeeded(status)) << ChildProcess::Describe(status);
  std::mt19937_64 replay_rng(12);
  std::ifstream ids(dir_.File("concurrent-ids"));
  for (uint64_t id; ids >> id;) history_.emplace(id, HistoryBatch(replay_rng));
  ASSERT_EQ(history_.size(), uint64_t{kPhases * kBatchesPerPhase + kConcurrentBatches});

  const CompactionResult last = log->Compact(drop_tombstones);
  EXPECT_GE(last.horizon, during.horizon);
  removed += during.removed + last.removed;
  EXPECT_GT(removed, mutations / 2) << "compaction should drop most of this history";
  const uint64_t horizon = log->Horizon();
  const Model expected = FullReplay();

  int below = 0, at_or_above = 0;
  for (int n = 0; n < kPhases; ++n) {
    auto machine = Cache::Open(Machine(n));
    const uint64_t was = machine->AppliedId();
    (was < horizon ? below : at_or_above)++;
    machine->UpdateNow();
    EXPECT_EQ(machine->AppliedId(), log->HeadId()) << "machine " << n;
    EXPECT_EQ(FirstDifference(expected, ScanAll(*machine)), "")
        << "machine " << n << " was at update " << was << ", horizon " << horizon;
    EXPECT_EQ(machine->Stats().resyncs, was < horizon ? 1u : 0u) << "machine " << n;
  }
  // A new machine replays the compacted log from its start.
  auto fresh_machine = Cache::Open(Machine(kPhases));
  fresh_machine->UpdateNow();
  EXPECT_EQ(FirstDifference(expected, ScanAll(*fresh_machine)), "");
  EXPECT_GT(below, 0);
  EXPECT_GT(at_or_above, 0);
  std::printf("%s: %llu mutations, horizon %llu, %d machines below it resynced, %d applied\n",
              GetParam().name.c_str(), static_cast<unsigned long long>(mutations),
              static_cast<unsigned long long>(horizon), below, at_or_above);
}

// A machine that catches up a poll at a time through history that a compaction rewrote after
// it had applied part of it: the compacted log lacks entries superseded later in the range, so
// a state at an id inside it may never have existed. Every state it publishes is the full
// history at its applied id.
TEST_P(CompactionModelTest, AMachineCatchingUpInStepsPublishesOnlyStatesThatExisted) {
  auto log = fresh_->Open({});
  // Values larger than the test file log's segments, so that every batch but the newest is in a
  // sealed segment, which compaction rewrites.
  auto value = [](char c) { return std::string(70 << 10, c); };
  Append(*log, {Mutation::Set("k", value('1'))});
  CacheOptions options = Machine(0);
  options.poll_interval = std::chrono::milliseconds(0);
  options.max_updates_per_poll = 1;
  auto machine = Cache::Open(options);
  ASSERT_EQ(machine->UpdateNow(), 1u);
  Append(*log, {Mutation::Set("k", value('2'))});
  Append(*log, {Mutation::Set("other", value('1'))});
  Append(*log, {Mutation::Set("k", value('3'))});
  Append(*log, {Mutation::Set("other", value('2'))});
  const uint64_t head = Append(*log, {Mutation::Set("last", value('1'))});
  CompactionOptions compact;
  compact.before_id = head;
  ASSERT_EQ(log->Compact(compact).removed, 3u);  // k 1 and 2, other 1.
  // Reopened, as after a restart: a file log reader that was positioned in a segment before the
  // compaction would go on reading the old file.
  machine = Cache::Open(options);

  for (int poll = 0; poll < 10 && machine->Stats().applied_id < head; ++poll) {
    machine->Update();
    const uint64_t applied = machine->Stats().applied_id;
    Model expected;
    for (const auto& [id, batch] : history_) {
      if (id <= applied) ApplyToModel({id, 0, batch}, &expected);
    }
    EXPECT_EQ(FirstDifference(expected, ScanAll(*machine)), "")
        << "after poll " << poll << ", at applied id " << applied;
  }
  EXPECT_EQ(machine->Stats().applied_id, head);
}

// The classic trap: a key set at a, deleted at d > a, a machine at an id between them, and a
// compaction after d.
TEST_P(CompactionModelTest, MachineBetweenASetAndItsDeleteNeverKeepsTheKey) {
  for (bool drop : {false, true}) {
    SCOPED_TRACE(drop ? "tombstone dropped" : "tombstone kept");
    std::unique_ptr<FreshLog> fresh = GetParam().create();
    CacheOptions options;
    options.state_path = dir_.File(std::string("trap-") + (drop ? "drop" : "keep") + ".state");
    options.log_uri = fresh->uri();
    auto log = fresh->Open({});
    log->Append(std::vector{Mutation::Set("other", "1")});
    log->Append(std::vector{Mutation::Set("k", "v")});  // a
    auto machine = Cache::Open(options);
    machine->UpdateNow();  // The machine is at a.
    EXPECT_EQ(machine->Get("k"), "v");
    const uint64_t d = log->Append(std::vector{Mutation::Delete("k")});
    log->Append(std::vector{Mutation::Set("other", "2")});
    CompactionOptions compact;
    if (drop) compact.tombstone_retention = seconds(0);
    const CompactionResult r = log->Compact(compact);
    EXPECT_EQ(r.horizon >= d, drop);
    machine->UpdateNow();
    EXPECT_EQ(machine->Get("k"), std::nullopt);
    EXPECT_EQ(machine->Get("other"), "2");
    EXPECT_EQ(machine->Stats().resyncs, drop ? 1u : 0u);
  }
}

TEST_P(CompactionModelTest, ResyncSeedsFromASnapshotWhenOneIsGiven) {
  auto log = fresh_->Open({});
  for (int i = 0; i < 100; ++i)
    log->Append(std::vector{Mutation::Set("k" + std::to_string(i), "1")});
  CacheOptions behind = Machine(0);
  auto stale = Cache::Open(behind);
  stale->UpdateNow();
  log->Append(std::vector{Mutation::Delete("k0")});
  CacheOptions current = Machine(1);
  auto up_to_date = Cache::Open(current);
  up_to_date->UpdateNow();
  up_to_date->CreateSnapshot(dir_.File("recent.snapshot"));
  log->Append(std::vector{Mutation::Set("after", "snapshot")});
  CompactionOptions compact;
  compact.tombstone_retention = seconds(0);
  log->Compact(compact);

  behind.resync_snapshot = dir_.File("recent.snapshot");
  auto resynced = Cache::Open(behind);
  resynced->UpdateNow();
  EXPECT_EQ(resynced->Get("k0"), std::nullopt);
  EXPECT_EQ(resynced->Get("after"), "snapshot");
  EXPECT_EQ(resynced->Stats().resyncs, 1u);
  EXPECT_EQ(resynced->CheckAgainstLog(), "");
}

// A compaction that drops the newest batches (superseded entries and expired tombstones) leaves
// the log's last batch below its head: machines that replay it, new or resynced, still reach the
// head, and so does one that had applied everything before the compaction.
TEST_P(CompactionModelTest, MachinesReachTheHeadWhenTheNewestBatchesWereDropped) {
  auto log = fresh_->Open({});
  log->Append(std::vector{Mutation::Set("k", "1"), Mutation::Set("x", "1")});
  const uint64_t behind_id = log->Append(std::vector{Mutation::Set("k", "2")});
  auto behind = Cache::Open(Machine(0));
  ASSERT_EQ(behind->UpdateNow(), behind_id);
  const uint64_t last_kept = log->Append(std::vector{Mutation::Set("k", "3")});
  log->Append(std::vector{Mutation::Delete("x")});
  log->Append(std::vector{Mutation::Set("y", "1")});
  log->Append(std::vector{Mutation::Set("y", "2")});
  const uint64_t head = log->Append(std::vector{Mutation::Delete("y")});
  auto current = Cache::Open(Machine(1));
  ASSERT_EQ(current->UpdateNow(), head);
  CompactionOptions compact;
  compact.tombstone_retention = seconds(0);
  const CompactionResult r = log->Compact(compact);
  ASSERT_EQ(r.horizon, head);
  ASSERT_EQ(r.kept, 1u);
  ASSERT_EQ(log->HeadId(), head);
  const std::vector<Update> left = log->ReadAfter(0, 10);
  ASSERT_EQ(left.size(), 1u);
  ASSERT_EQ(left[0].id, last_kept);

  auto fresh_machine = Cache::Open(Machine(2));
  for (Cache* machine : {fresh_machine.get(), behind.get(), current.get()}) {
    EXPECT_EQ(machine->UpdateNow(), head);
    EXPECT_TRUE(machine->WaitFor(head, std::chrono::milliseconds(0)));
    const CacheStats stats = machine->Stats();
    EXPECT_EQ(stats.applied_id, head);
    EXPECT_EQ(stats.log_head_id, head);
    EXPECT_EQ(stats.ids_behind, 0u);
    EXPECT_EQ(machine->Get("k"), "3");
    EXPECT_EQ(machine->Get("x"), std::nullopt);
    EXPECT_EQ(machine->Get("y"), std::nullopt);
    EXPECT_EQ(machine->CheckAgainstLog(), "");
  }
  EXPECT_EQ(behind->Stats().resyncs, 1u);
  EXPECT_EQ(current->Stats().resyncs, 0u);

  // The next batch gets the id after the head, and every machine applies it.
  const uint64_t next = log->Append(std::vector{Mutation::Set("z", "1")});
  EXPECT_EQ(next, head + 1);
  for (Cache* machine : {fresh_machine.get(), behind.get(), current.get()}) {
    EXPECT_EQ(machine->UpdateNow(), next);
    EXPECT_EQ(machine->Get("z"), "1");
  }
}

INSTANTIATE_TEST_SUITE_P(Logs, CompactionModelTest,
                         ::testing::Values(FileLogBackend(), MysqlLogBackend()), BackendName);

}  // namespace
}  // namespace whycache::testing
