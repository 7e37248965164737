// History compaction of the MySQL log against the fixture's MariaDB: the compacted log means
// what the full history means for every machine at or above the horizon, while writers append,
// readers tail, compactors are killed and the server restarts.
#include <cppconn/prepared_statement.h>
#include <cppconn/statement.h>
#include <mysql_driver.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <latch>
#include <map>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "lib/log/mysql/mysql_change_log.h"
#include "tests/log/mysql_test_util.h"
#include "tests/support/child_process.h"
#include "tests/support/model_state.h"
#include "tests/support/temp_dir.h"
#include "tests/support/test_mariadb.h"

namespace whycache::mysql_log {
namespace {

using testing::DropLog;
using testing::FreshTablePrefix;
using testing::LogUri;
using testing::QueryOne;
using testing::RawConnection;
using testing::Server;
using whycache::testing::ChildProcess;
using whycache::testing::TempDir;
using whycache::testing::TestMariaDb;

using State = whycache::testing::ModelState;

void Apply(const Update& update, State* state) {
  whycache::testing::ApplyMutations(update.mutations, state);
}

// The mutation with op number `op` (as the log stores it), for histories written to files.
Mutation MutationOf(int op, std::string key, std::string value) {
  switch (op) {
    case 1:
      return Mutation::Set(std::move(key), std::move(value));
    case 2:
      return Mutation::Delete(std::move(key));
    default:
      EXPECT_EQ(op, 3) << "unknown op for " << key;
      return Mutation::ErasePrefix(std::move(key));
  }
}

// The updates of `log` after `after_id`, all of them.
std::vector<Update> ReadAll(ChangeLog& log, uint64_t after_id) {
  std::vector<Update> all;
  for (int page = 0; page < 1'000'000; ++page) {
    std::vector<Update> updates = log.ReadAfter(after_id, 5000);
    if (updates.empty()) break;
    after_id = updates.back().id;
    for (Update& u : updates) all.push_back(std::move(u));
  }
  return all;
}

// A log under a fresh prefix, dropped at the end of the test. Compaction in these tests removes
// fully superseded batches at once (no token retention): nothing here retries old appends.
class Log {
 public:
  Log() : prefix_(FreshTablePrefix()) {
    LogOptions create;
    create.create_if_missing = true;
    log_ = OpenMysqlChangeLog(uri(), create, Settings());
    MysqlLogOptions quick = Settings();
    // Checks read what is committed; no need to wait for it.
    quick.durable_reads = MysqlLogOptions::DurableReads::kNever;
    reader_ = Open(quick);
  }
  ~Log() { DropLog(prefix_); }

  static MysqlLogOptions Settings() {
    MysqlLogOptions settings;
    settings.token_retention = std::chrono::seconds(0);
    settings.compaction_chunk_rows = 1000;
    return settings;
  }
  std::string uri() const { return LogUri(prefix_); }
  const std::string& prefix() const { return prefix_; }
  ChangeLog& operator*() { return *log_; }
  ChangeLog* operator->() { return log_.get(); }
  ChangeLog& reader() { return *reader_; }
  std::unique_ptr<ChangeLog> Open(MysqlLogOptions settings = Settings()) {
    return OpenMysqlChangeLog(uri(), {}, settings);
  }
  uint64_t Rows() {
    auto raw = RawConnection();
    return std::stoull(QueryOne(*raw, "SELECT COUNT(*) FROM " + prefix_ + "_log"));
  }
  // Rows beyond one per distinct k: rows that a newer row of their key supersedes (and prefix
  // deletes whose bytes a key shares, which none supersedes).
  uint64_t SupersededRows() {
    auto raw = RawConnection();
    return std::stoull(
        QueryOne(*raw, "SELECT COUNT(*) - COUNT(DISTINCT k) FROM " + prefix_ + "_log"));
  }
  // Pretends batch i was written `(head - i) * seconds_per_id` seconds ago.
  void Backdate(uint64_t head, int64_t seconds_per_id) {
    SetAges("(" + std::to_string(head) + " - update_id) * " + std::to_string(seconds_per_id));
  }
  // Gives every batch an age of 0 to 9 times kAgeStep seconds, drawn from its id and `seed`:
  // ages in no order of ids, as writers with skewed clocks give them. Ages and retentions in
  // these tests are whole multiples of kAgeStep apart from half a step, so that no decision
  // depends on how long the compaction takes to start.
  static constexpr int64_t kAgeStep = 1000;
  void BackdateRandomly(uint64_t seed) {
    SetAges("CRC32(CONCAT(update_id, '/', " + std::to_string(seed) + ")) % 10 * " +
            std::to_string(kAgeStep));
  }

 private:
  // Sets the write time of every row to now minus `seconds`, an SQL expression of its row.
  void SetAges(const std::string& seconds) {
    auto raw = RawConnection();
    std::unique_ptr<sql::PreparedStatement> update(raw->prepareStatement(
        "UPDATE " + prefix_ + "_log SET write_time_us = ? - (" + seconds + ") * 1000000"));
    update->setInt64(1, std::chrono::duration_cast<std::chrono::microseconds>(
                            std::chrono::system_clock::now().time_since_epoch())
                            .count());
    update->executeUpdate();
  }

  const std::string prefix_;
  std::unique_ptr<ChangeLog> log_;
  std::unique_ptr<ChangeLog> reader_;
};

// Random histories: sets, deletes and re-sets of a key space "key:0" .. "key:N-1", in batches of
// 1 to max_batch mutations (a key may appear twice in one batch). Some batches hold a prefix
// delete somewhere among their mutations: a prefix that covers many keys ("key:1" covers key:1,
// key:10.., key:100..), all of them ("key:"), only the key equal to it, or none ("none:"); the
// batch's other mutations then mostly go to keys under the prefix, before and after it.
class HistoryMaker {
 public:
  HistoryMaker(uint64_t seed, int keys, int erase_prefix_percent)
      : rng_(seed), keys_(keys), erase_prefix_percent_(erase_prefix_percent) {}

  std::vector<Mutation> Batch(int max_batch, int delete_percent) {
    std::vector<Mutation> batch(1 + rng_() % max_batch);
    const bool erasing = static_cast<int>(rng_() % 100) < erase_prefix_percent_;
    const size_t erase_at = erasing ? rng_() % batch.size() : batch.size();
    const std::string prefix = erasing ? Prefix() : "";
    for (size_t i = 0; i < batch.size(); ++i) {
      if (i == erase_at) {
        batch[i] = Mutation::ErasePrefix(prefix);
        continue;
      }
      std::string key = erasing && rng_() % 4 != 0 ? KeyUnder(prefix) : Key();
      if (static_cast<int>(rng_() % 100) < delete_percent) {
        batch[i] = Mutation::Delete(std::move(key));
      } else {
        batch[i] = Mutation::Set(std::move(key), "v" + std::to_string(serial_++));
      }
    }
    return batch;
  }

  // Appends `mutations` mutations (about) and records them in `history`.
  void Append(ChangeLog& log, size_t mutations, int max_batch, int delete_percent,
              std::vector<Update>* history) {
    size_t appended = 0;
    while (appended < mutations) {
      Update u;
      u.mutations = Batch(max_batch, delete_percent);
      u.id = log.Append(u.mutations);
      appended += u.mutations.size();
      history->push_back(std::move(u));
    }
  }

  std::mt19937_64& rng() { return rng_; }

 private:
  std::string Key() { return "key:" + std::to_string(rng_() % keys_); }

  // A key cut after "key:" and 1 or more of its digits (all of them: the key itself), rarely
  // after none, or a prefix of no key.
  std::string Prefix() {
    const uint64_t kind = rng_() % 20;
    if (kind == 0) return "key:";
    if (kind == 1) return "none:" + std::to_string(rng_() % 10);
    const std::string key = Key();
    const size_t digits = key.size() - 4;
    return key.substr(0, 4 + 1 + rng_() % digits);
  }

  // A key under `prefix`: the prefix itself or one with a digit or two more, which may lie
  // outside key:0 .. key:N-1.
  std::string KeyUnder(const std::string& prefix) {
    switch (rng_() % 3) {
      case 0:
        return prefix;
      case 1:
        return prefix + std::to_string(rng_() % 10);
      default:
        return prefix + std::to_string(rng_() % 100);
    }
  }

  std::mt19937_64 rng_;
  const int keys_;
  const int erase_prefix_percent_;
  uint64_t serial_ = 0;
};

// Checks invariant 4 for the compacted `log` and the full `history` (in id order): every
// machine at an id x at or above the horizon (every such x when there are at most `machines`,
// else `machines` random ones) that applies the compacted log after x, and a machine below it
// that resyncs by replaying the compacted log from the start, reach the state of the full
// replay. On its way, the resyncing machine shows the history's state at every id past the range
// that compaction rewrote (ChangeLog::CompactedBelow), where a machine may publish its state.
void ExpectSameMeaning(ChangeLog& log, const std::vector<Update>& history, std::mt19937_64& rng,
                       int machines) {
  const uint64_t horizon = log.Horizon();
  const uint64_t compacted_below = log.CompactedBelow();
  State full;
  for (const Update& u : history) Apply(u, &full);
  State resynced;
  State model;
  size_t modelled = 0;
  for (const Update& u : ReadAll(log, 0)) {
    Apply(u, &resynced);
    if (u.id + 1 < compacted_below) continue;
    for (; modelled < history.size() && history[modelled].id <= u.id; ++modelled) {
      Apply(history[modelled], &model);
    }
    if (resynced != model) {
      ADD_FAILURE() << "a replay of the compacted log from 0 shows at id " << u.id
                    << " (compacted below " << compacted_below
                    << ") another state than the history";
      return;
    }
  }
  EXPECT_EQ(resynced, full) << "a full replay of the compacted log differs from the history";

  const uint64_t head = history.empty() ? 0 : history.back().id;
  std::vector<uint64_t> xs = {horizon, head};
  if (head - horizon <= static_cast<uint64_t>(machines)) {
    for (uint64_t x = horizon; x <= head; ++x) xs.push_back(x);
  } else {
    for (int i = 0; i < machines; ++i) xs.push_back(horizon + rng() % (head - horizon + 1));
  }
  std::sort(xs.begin(), xs.end());
  State machine;
  size_t next = 0;
  for (uint64_t x : xs) {
    for (; next < history.size() && history[next].id <= x; ++next) Apply(history[next], &machine);
    State caught_up = machine;
    for (const Update& u : ReadAll(log, x)) Apply(u, &caught_up);
    if (caught_up != full) {
      ADD_FAILURE() << "a machine at id " << x << " (horizon " << horizon
                    << ") catches up to another state than the full replay";
      return;
    }
  }
}

// Below before_id, the compacted log holds no row that a newer row there supersedes: at most
// one set or delete per key, none under a newer prefix delete, and no prefix delete under a
// newer one (its own prefix included).
void ExpectNothingSupersededBelow(ChangeLog& log, uint64_t before_id) {
  std::vector<Update> below = ReadAll(log, 0);
  std::erase_if(below, [&](const Update& u) { return u.id >= before_id; });
  std::set<std::string> keys;
  std::vector<std::string> prefixes;
  auto covered = [&](const std::string& key) {
    return std::any_of(prefixes.begin(), prefixes.end(),
                       [&](const std::string& p) { return key.starts_with(p); });
  };
  for (auto u = below.rbegin(); u != below.rend(); ++u) {
    for (auto m = u->mutations.rbegin(); m != u->mutations.rend(); ++m) {
      EXPECT_FALSE(covered(m->key))
          << "id " << u->id << ": " << m->key << " under a newer prefix delete below " << before_id;
      if (m->op == Mutation::Op::kErasePrefix) {
        prefixes.push_back(m->key);
      } else {
        EXPECT_TRUE(keys.insert(m->key).second) << m->key << " twice below " << before_id;
      }
    }
  }
}

TEST(MysqlCompactionTest, RandomHistoriesKeepTheirMeaningAtEveryMachineAboveTheHorizon) {
  Log log;
  HistoryMaker maker(42, 3000, 10);
  std::vector<Update> history;
  maker.Append(*log, 50'000, 200, 25, &history);
  uint64_t last_head = log->HeadId();
  uint64_t last_horizon = 0;
  uint64_t removed = 0;
  for (int round = 0; round < 6; ++round) {
    const uint64_t head = log->HeadId();
    // Batch i was written (head - i) seconds ago; retentions cut the history anywhere.
    log.Backdate(head, 1);
    CompactionOptions options;
    options.before_id = round == 5 ? 0 : 1 + maker.rng()() % (head + 1);
    const uint64_t retention = maker.rng()() % (head + 1);
    options.tombstone_retention =
        round % 3 == 2 ? std::chrono::seconds(0) : std::chrono::seconds(retention);
    uint64_t last_done = 0;
    options.progress = [&](uint64_t done, uint64_t total) {
      EXPECT_LE(done, total);
      EXPECT_GE(done, last_done);
      last_done = done;
    };
    CompactionResult result = log->Compact(options);
    removed += result.removed;
    EXPECT_GE(result.horizon, last_horizon);
    EXPECT_EQ(result.horizon, log->Horizon());
    EXPECT_GE(log->HeadId(), last_head);
    EXPECT_LE(result.bytes_after, result.bytes_before);
    last_head = log->HeadId();
    last_horizon = result.horizon;
    if (options.tombstone_retention.count() == 0 && options.before_id == 0) {
      EXPECT_GT(result.horizon, 0u) << "no tombstone dropped with retention 0";
    }
    ExpectNothingSupersededBelow(log.reader(),
                                 options.before_id == 0 ? head + 1 : options.before_id);
    ExpectSameMeaning(log.reader(), history, maker.rng(), 60);
    // Histories go on after a compaction: re-sets and deletes of compacted keys.
    maker.Append(*log, 10'000, 200, 25, &history);
  }
  size_t mutations = 0;
  for (const Update& u : history) mutations += u.mutations.size();
  EXPECT_GE(mutations, 100'000u);
  EXPECT_GT(removed, mutations / 2);
  ExpectSameMeaning(log.reader(), history, maker.rng(), 200);
}

// A compactor process killed at random moments leaves a log that means what its history
// means, and the next compaction finishes the work.
TEST(MysqlCompactionTest, CompactorKilledAtRandomMomentsLeavesAConsistentLog) {
  Log log;
  HistoryMaker maker(11, 2000, 10);
  std::vector<Update> history;
  std::mt19937_64 rng(5);
  uint64_t last_horizon = 0;
  int midway = 0;  // Kills that left the compaction begun but not done.
  for (int kill = 0; kill < 30; ++kill) {
    maker.Append(*log, 2000, 100, 20, &history);
    const uint64_t rows_before = log.Rows();
    ChildProcess compactor([&] {
      MysqlLogOptions settings = Log::Settings();
      settings.compaction_chunk_rows = 100;
      CompactionOptions options;
      options.tombstone_retention = std::chrono::seconds(0);
      log.Open(settings)->Compact(options);
      return 0;
    });
    std::this_thread::sleep_for(std::chrono::milliseconds(rng() % 400));
    compactor.Signal(SIGKILL);
    compactor.Wait();
    if (log.Rows() < rows_before && log.SupersededRows() > 0) ++midway;
    const uint64_t horizon = log->Horizon();
    EXPECT_GE(horizon, last_horizon);
    last_horizon = horizon;
    ExpectSameMeaning(log.reader(), history, rng, 10);
    if (::testing::Test::HasFailure()) return;
  }
  std::printf("%d of 30 kills interrupted a compaction midway\n", midway);
  EXPECT_GE(midway, 3) << "the kills missed the compactions";
  CompactionOptions options;
  options.tombstone_retention = std::chrono::seconds(0);
  CompactionResult result = log->Compact(options);
  ExpectNothingSupersededBelow(log.reader(), log->HeadId() + 1);
  ExpectSameMeaning(log.reader(), history, rng, 50);
  State full;
  for (const Update& u : history) Apply(u, &full);
  EXPECT_EQ(result.kept, full.size()) << "expired tombstones or superseded rows remain";
}

// A log of 1M mutations over 10k keys compacts to about 10k rows.
TEST(MysqlCompactionTest, ShrinksAMillionMutationsOverTenThousandKeys) {
  Log log;
  std::mt19937_64 rng(7);
  constexpr int kKeys = 10'000;
  constexpr int kBatch = 1000;
  for (int b = 0; b < 1000; ++b) {
    std::vector<Mutation> batch;
    for (int i = 0; i < kBatch; ++i) {
      batch.push_back(Mutation::Set("key:" + std::to_string(rng() % kKeys),
                                    std::string(20, static_cast<char>('a' + rng() % 26))));
    }
    log->Append(batch);
  }
  std::set<std::string> keys;
  const auto start = std::chrono::steady_clock::now();
  CompactionResult result = log->Compact({});
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf(
      "1M mutations over 10k keys: %llu rows kept, %llu removed, bytes %llu -> %llu, "
      "%.1f s (%.0f mutations/s)\n",
      static_cast<unsigned long long>(result.kept), static_cast<unsigned long long>(result.removed),
      static_cast<unsigned long long>(result.bytes_before),
      static_cast<unsigned long long>(result.bytes_after), seconds, 1e6 / seconds);
  EXPECT_EQ(result.kept + result.removed, 1'000'000u);
  EXPECT_GE(result.kept, 9'900u);
  EXPECT_LE(result.kept, kKeys);
  EXPECT_EQ(log.Rows(), result.kept);
  EXPECT_LT(result.bytes_after * 50, result.bytes_before);
}

// The server crashes and restarts in the middle of a compaction: the compactor reconnects,
// takes its lock again and finishes.
TEST(MysqlCompactionTest, CompactionSurvivesAServerRestart) {
  TestMariaDb& server = Server();
  if (!server.owned()) GTEST_SKIP() << "the server named by MDB_* is not ours to restart";
  Log log;
  HistoryMaker maker(13, 1000, 10);
  std::vector<Update> history;
  maker.Append(*log, 60'000, 100, 20, &history);
  TempDir dir;
  ChildProcess compactor([&] {
    MysqlLogOptions settings = Log::Settings();
    settings.compaction_chunk_rows = 200;
    settings.reconnect_budget = std::chrono::seconds(60);
    CompactionOptions options;
    options.tombstone_retention = std::chrono::seconds(0);
    CompactionResult result = log.Open(settings)->Compact(options);
    std::ofstream(dir.File("kept")) << result.kept << '\n';
    return 0;
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  const int port = server.settings().port;
  server.Kill();
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  server.Start();
  ASSERT_EQ(server.settings().port, port) << "the restarted server moved to another port";
  int status = compactor.Wait();
  ASSERT_TRUE(ChildProcess::Succeeded(status)) << ChildProcess::Describe(status);
  State full;
  for (const Update& u : history) Apply(u, &full);
  uint64_t kept = 0;
  std::ifstream(dir.File("kept")) >> kept;
  EXPECT_EQ(kept, full.size());
  std::mt19937_64 rng(1);
  ExpectSameMeaning(log.reader(), history, rng, 50);
}

// Set at a, delete at d > a, a machine at x in [a, d), compaction after d.
TEST(MysqlCompactionTest, TheClassicTrapDeleteOfACompactedSet) {
  for (bool expire : {true, false}) {
    SCOPED_TRACE(expire ? "retention 0" : "long retention");
    Log log;
    std::vector<Mutation> set = {Mutation::Set("k", "v"), Mutation::Set("other", "1")};
    const uint64_t a = log->Append(set);
    Mutation filler = Mutation::Set("other", "2");
    const uint64_t x = log->Append({&filler, 1});
    Mutation del = Mutation::Delete("k");
    const uint64_t d = log->Append({&del, 1});
    filler = Mutation::Set("other", "3");
    log->Append({&filler, 1});
    ASSERT_LT(a, x);
    ASSERT_LT(x, d);

    CompactionOptions options;
    options.tombstone_retention =
        expire ? std::chrono::seconds(0) : std::chrono::seconds(std::chrono::hours(1));
    CompactionResult result = log->Compact(options);
    State machine = {{"k", "v"}, {"other", "2"}};  // Applied up to x.
    if (expire) {
      EXPECT_GE(result.horizon, d)
          << "the delete is gone: a machine at " << x << " must learn that it has to resync";
      EXPECT_GT(log->Horizon(), x);
      State resynced;
      for (const Update& u : ReadAll(*log, 0)) Apply(u, &resynced);
      EXPECT_EQ(resynced, (State{{"other", "3"}}));
    } else {
      EXPECT_EQ(result.horizon, 0u);
      for (const Update& u : ReadAll(*log, x)) Apply(u, &machine);
      EXPECT_EQ(machine, (State{{"other", "3"}})) << "the machine at x missed the delete";
    }
  }
}

TEST(MysqlCompactionTest, ADeleteWhoseSetWasCompactedAwayCompactsAgain) {
  Log log;
  Mutation m = Mutation::Set("k", "1");
  log->Append({&m, 1});
  m = Mutation::Set("k", "2");
  log->Append({&m, 1});
  CompactionOptions keep;  // Long retention.
  EXPECT_EQ(log->Compact(keep).removed, 1u);
  m = Mutation::Delete("k");
  const uint64_t d = log->Append({&m, 1});
  EXPECT_EQ(log->Compact(keep).removed, 1u);
  CompactionOptions expire;
  expire.tombstone_retention = std::chrono::seconds(0);
  CompactionResult result = log->Compact(expire);
  EXPECT_EQ(result.removed, 1u);
  EXPECT_EQ(result.kept, 0u);
  EXPECT_EQ(result.horizon, d);
  EXPECT_EQ(log->HeadId(), d) << "the head id never decreases";
  EXPECT_TRUE(ReadAll(*log, 0).empty());
  m = Mutation::Set("k", "3");
  EXPECT_EQ(log->Append({&m, 1}), d + 1);
}

TEST(MysqlCompactionTest, PartlySupersededBatchesKeepTheirSurvivorsInOrder) {
  Log log;
  std::vector<Mutation> first = {Mutation::Set("a", "1"), Mutation::Set("b", "1"),
                                 Mutation::Set("a", "2"), Mutation::Set("c", "1"),
                                 Mutation::Delete("d")};
  const uint64_t id = log->Append(first);
  std::vector<Mutation> second = {Mutation::Set("b", "2")};
  log->Append(second);
  CompactionResult result = log->Compact({});
  EXPECT_EQ(result.removed, 2u);
  EXPECT_EQ(result.kept, 4u);
  std::vector<Update> read = ReadAll(*log, 0);
  ASSERT_EQ(read.size(), 2u);
  EXPECT_EQ(read[0].id, id);
  EXPECT_EQ(read[0].mutations,
            (std::vector<Mutation>{Mutation::Set("a", "2"), Mutation::Set("c", "1"),
                                   Mutation::Delete("d")}));
  EXPECT_EQ(read[1].mutations, second);
}

// A read whose page ends inside a batch, and a compaction that rewrites that batch before the
// read fetches the rest: the read returns the batch as it is now, whole, never the rows of two
// versions of it.
TEST(MysqlCompactionTest, AReadCutInsideABatchNeverJoinsTwoVersionsOfIt) {
  Log log;
  std::vector<Mutation> first = {Mutation::Set("a", "1"), Mutation::Set("b", "1"),
                                 Mutation::Set("c", "1"), Mutation::Set("d", "1"),
                                 Mutation::Set("e", "1")};
  const uint64_t first_id = log->Append(first);
  std::vector<Mutation> second = {Mutation::Set("b", "2"), Mutation::Set("d", "2")};
  log->Append(second);
  MysqlLogOptions settings = Log::Settings();
  settings.read_page_rows = 2;
  int compactions = 0;
  settings.between_read_queries = [&] {
    if (compactions++ == 0) {
      EXPECT_EQ(log->Compact({}).removed, 2u);
    }
  };
  std::vector<Update> read = log.Open(settings)->ReadAfter(0, 10);
  EXPECT_GE(compactions, 1);
  ASSERT_EQ(read.size(), 2u);
  EXPECT_EQ(read[0].id, first_id);
  EXPECT_EQ(read[0].mutations,
            (std::vector<Mutation>{Mutation::Set("a", "1"), Mutation::Set("c", "1"),
                                   Mutation::Set("e", "1")}));
  EXPECT_EQ(read[1].mutations, second);
}

// The same, when the compaction removes the half read batch entirely: the read goes on after it.
TEST(MysqlCompactionTest, AReadCutInsideABatchSkipsItWhenCompactedAway) {
  Log log;
  std::vector<Mutation> first = {Mutation::Set("a", "1"), Mutation::Set("b", "1"),
                                 Mutation::Set("c", "1")};
  log->Append(first);
  std::vector<Mutation> second = {Mutation::Set("a", "2"), Mutation::Set("b", "2"),
                                  Mutation::Set("c", "2")};
  const uint64_t second_id = log->Append(second);
  MysqlLogOptions settings = Log::Settings();
  settings.read_page_rows = 2;
  int compactions = 0;
  settings.between_read_queries = [&] {
    if (compactions++ == 0) {
      EXPECT_EQ(log->Compact({}).removed, 3u);
    }
  };
  std::vector<Update> read = log.Open(settings)->ReadAfter(0, 10);
  EXPECT_GE(compactions, 1);
  ASSERT_EQ(read.size(), 1u);
  EXPECT_EQ(read[0].id, second_id);
  EXPECT_EQ(read[0].mutations, second);
}

// A batch younger than the token retention never disappears: a writer retrying an append may
// still look its token up. The row it keeps for that, superseded, becomes a delete of its key.
TEST(MysqlCompactionTest, RecentSupersededBatchesKeepOneRowAndTheirToken) {
  Log log;
  MysqlLogOptions settings = Log::Settings();
  settings.token_retention = std::chrono::hours(1);
  auto compactor = log.Open(settings);
  std::vector<Mutation> batch = {Mutation::Set("a", "1"), Mutation::Set("b", "1")};
  const uint64_t old_id = log->Append(batch);
  batch = {Mutation::Set("a", "2"), Mutation::Set("b", "2")};
  log->Append(batch);
  CompactionResult result = compactor->Compact({});
  EXPECT_EQ(result.removed, 1u);
  std::vector<Update> read = ReadAll(*log, 0);
  ASSERT_EQ(read.size(), 2u);
  EXPECT_EQ(read[0].id, old_id);
  EXPECT_EQ(read[0].mutations, (std::vector<Mutation>{Mutation::Delete("b")}));
  auto raw = RawConnection();
  EXPECT_EQ(QueryOne(*raw, "SELECT COUNT(*) FROM " + log.prefix() + "_batch"), "2");
  // Once the retention has passed, the batch goes with its token.
  log.Backdate(log->HeadId(), 3600);
  EXPECT_EQ(log->Compact({}).removed, 1u);
  EXPECT_EQ(QueryOne(*raw, "SELECT COUNT(*) FROM " + log.prefix() + "_batch"), "1");
}

// Writer processes append while a tailer process reads with small pages (so that pages cut
// batches) and the parent compacts again and again. Every batch carries a marker key that is
// never superseded and hot keys that are, set, deleted and erased by prefix ("hot1" erases hot1
// and hot10 .. hot19); the tailer sees every batch exactly once, in id order, each a non-empty
// part of what was appended, and ends in the full replay's state.
TEST(MysqlCompactionTest, WritersAndATailerRunThroughRepeatedCompactions) {
  Log log;
  TempDir dir;
  constexpr int kWriters = 2;
  constexpr int kBatches = 400;
  std::vector<ChildProcess> writers;
  for (int w = 0; w < kWriters; ++w) {
    writers.emplace_back([&, w] {
      auto writer = log.Open();
      std::mt19937_64 rng(w);
      std::ofstream out(dir.File("writer" + std::to_string(w)));
      for (int seq = 0; seq < kBatches; ++seq) {
        const std::string marker = "m" + std::to_string(w) + "/" + std::to_string(seq);
        std::vector<Mutation> batch = {Mutation::Set(marker, "")};
        for (int i = 0, n = 1 + rng() % 6; i < n; ++i) {
          std::string hot = "hot" + std::to_string(rng() % 20);
          switch (rng() % 8) {
            case 0:
            case 1:
              batch.push_back(Mutation::Delete(hot));
              break;
            case 2:
              batch.push_back(Mutation::ErasePrefix(hot.substr(0, 4)));
              break;
            default:
              batch.push_back(Mutation::Set(hot, marker));
          }
        }
        uint64_t id = writer->Append(batch);
        out << id << ' ' << marker << ' ' << batch.size() - 1;
        for (size_t i = 1; i < batch.size(); ++i) {
          out << ' ' << static_cast<int>(batch[i].op) << ' ' << batch[i].key;
        }
        out << '\n';
      }
      return 0;
    });
  }
  const std::string done_file = dir.File("done");
  ChildProcess tailer([&] {
    MysqlLogOptions settings = Log::Settings();
    settings.read_page_rows = 7;
    auto reader = log.Open(settings);
    std::ofstream out(dir.File("tailed"));
    uint64_t cursor = 0;
    State state;
    const auto give_up = std::chrono::steady_clock::now() + std::chrono::minutes(2);
    while (std::chrono::steady_clock::now() < give_up) {
      std::vector<Update> updates = reader->ReadAfter(cursor, 50);
      for (const Update& u : updates) {
        out << u.id << ' ' << u.mutations.at(0).key << ' ' << u.mutations.size() - 1;
        for (size_t i = 1; i < u.mutations.size(); ++i) {
          out << ' ' << static_cast<int>(u.mutations[i].op) << ' ' << u.mutations[i].key << ' '
              << (u.mutations[i].op == Mutation::Op::kSet ? u.mutations[i].value : "-");
        }
        out << '\n';
        cursor = u.id;
      }
      std::ifstream done(done_file);
      uint64_t head = 0;
      if (updates.empty() && done >> head && cursor >= head) return 0;
    }
    return 3;
  });
  int compactions = 0;
  for (; compactions < 1000; ++compactions) {
    bool running = false;
    for (auto& w : writers) running |= !w.WaitFor(std::chrono::milliseconds(0)).has_value();
    if (!running) break;
    CompactionResult result = log->Compact({});
    EXPECT_EQ(result.horizon, 0u);
  }
  for (auto& w : writers) {
    int status = w.Wait();
    ASSERT_TRUE(ChildProcess::Succeeded(status)) << ChildProcess::Describe(status);
  }
  log->Compact({});
  const uint64_t head = log->HeadId();
  std::ofstream(done_file + ".tmp") << head << '\n';
  std::filesystem::rename(done_file + ".tmp", done_file);
  int status = tailer.Wait();
  ASSERT_TRUE(ChildProcess::Succeeded(status)) << ChildProcess::Describe(status);
  EXPECT_GT(compactions, 2) << "the writers finished before compaction could overlap them";

  // What was appended, by id: marker and (op, key) of every hot mutation.
  std::map<uint64_t, std::pair<std::string, std::vector<std::pair<int, std::string>>>> appended;
  std::vector<Update> history;
  for (int w = 0; w < kWriters; ++w) {
    std::ifstream in(dir.File("writer" + std::to_string(w)));
    uint64_t id;
    std::string marker;
    size_t n;
    while (in >> id >> marker >> n) {
      auto& [m, hot] = appended[id];
      m = marker;
      Update u;
      u.id = id;
      u.mutations.push_back(Mutation::Set(marker, ""));
      for (size_t i = 0; i < n; ++i) {
        int op;
        std::string key;
        in >> op >> key;
        hot.emplace_back(op, key);
        u.mutations.push_back(MutationOf(op, key, marker));
      }
      history.push_back(std::move(u));
    }
  }
  ASSERT_EQ(appended.size(), size_t{kWriters * kBatches});
  std::sort(history.begin(), history.end(),
            [](const Update& a, const Update& b) { return a.id < b.id; });
  State full;
  for (const Update& u : history) Apply(u, &full);

  std::ifstream in(dir.File("tailed"));
  uint64_t id, last = 0;
  std::string marker;
  size_t n;
  std::set<std::string> markers;
  State tailed;
  while (in >> id >> marker >> n) {
    EXPECT_GT(id, last) << "out of order or repeated";
    last = id;
    auto it = appended.find(id);
    ASSERT_NE(it, appended.end()) << "read id " << id << " that nobody appended";
    EXPECT_EQ(it->second.first, marker) << "id " << id;
    EXPECT_TRUE(markers.insert(marker).second) << marker << " read twice";
    Update u;
    u.mutations.push_back(Mutation::Set(marker, ""));
    // The hot mutations read are a subsequence of those appended, in order.
    size_t at = 0;
    for (size_t i = 0; i < n; ++i) {
      int op;
      std::string key, value;
      in >> op >> key >> value;
      const auto& hot = it->second.second;
      while (at < hot.size() && hot[at] != std::make_pair(op, key)) ++at;
      EXPECT_LT(at, hot.size()) << "id " << id << " holds " << key << " out of order";
      ++at;
      if (op == 1) {
        EXPECT_EQ(value, marker) << "id " << id << " holds another batch's row";
      }
      u.mutations.push_back(MutationOf(op, key, value));
    }
    Apply(u, &tailed);
  }
  EXPECT_EQ(markers.size(), appended.size()) << "batches the tailer never saw";
  EXPECT_EQ(tailed, full);
}

// Two compactors at once: one waits for the other (their progress calls never interleave).
TEST(MysqlCompactionTest, TwoCompactorsTakeTurns) {
  Log log;
  HistoryMaker maker(3, 500, 10);
  std::vector<Update> history;
  maker.Append(*log, 60'000, 200, 10, &history);
  TempDir dir;
  std::vector<ChildProcess> compactors;
  for (int c = 0; c < 2; ++c) {
    compactors.emplace_back([&, c] {
      auto compactor = log.Open();
      std::ofstream out(dir.File("compactor" + std::to_string(c)));
      CompactionOptions options;
      options.progress = [&](uint64_t, uint64_t) {
        out << std::chrono::steady_clock::now().time_since_epoch().count() << '\n';
      };
      compactor->Compact(options);
      return 0;
    });
  }
  std::vector<std::pair<int64_t, int64_t>> spans;
  for (int c = 0; c < 2; ++c) {
    int status = compactors[c].Wait();
    ASSERT_TRUE(ChildProcess::Succeeded(status)) << ChildProcess::Describe(status);
    std::ifstream in(dir.File("compactor" + std::to_string(c)));
    int64_t t, first = -1, last = -1;
    while (in >> t) {
      if (first < 0) first = t;
      last = t;
    }
    ASSERT_GE(first, 0);
    spans.emplace_back(first, last);
  }
  std::sort(spans.begin(), spans.end());
  EXPECT_LT(spans[0].second, spans[1].first) << "two compactions ran at once";
  ExpectSameMeaning(log.reader(), history, maker.rng(), 50);
}

// The tests below come after the older ones so that sharding keeps the heaviest tests apart.

// The reported resurrection: `set k v`, then `del k z` in another batch, compacted with
// tombstone retention 0 and the default token retention. The first batch, younger than the
// token retention, keeps its row for its token although the delete supersedes it; the delete
// must then stay too. The same with a prefix delete in place of the delete, and with a first
// batch that also holds a prefix delete, which a newer one supersedes. Every combination of the
// two retentions, batches written just now.
TEST(MysqlCompactionTest, ABatchKeptForItsTokenNeverBringsADeletedKeyBack) {
  const std::vector<std::vector<std::vector<Mutation>>> histories = {
      {{Mutation::Set("k", "v")}, {Mutation::Delete("k"), Mutation::Delete("z")}},
      {{Mutation::Set("s:1", "v")}, {Mutation::ErasePrefix("s:"), Mutation::Delete("z")}},
      {{Mutation::Set("s:1", "v"), Mutation::ErasePrefix("t:")},
       {Mutation::ErasePrefix("s:"), Mutation::ErasePrefix("t:")}},
  };
  for (size_t h = 0; h < histories.size(); ++h) {
    for (const int64_t token_s : {0, 3600}) {
      for (const int64_t tombstone_s : {0, 1800, 7200}) {
        SCOPED_TRACE("history " + std::to_string(h) + ", token retention " +
                     std::to_string(token_s) + " s, tombstone retention " +
                     std::to_string(tombstone_s) + " s");
        Log log;
        MysqlLogOptions settings = Log::Settings();
        settings.token_retention = std::chrono::seconds(token_s);
        auto compactor = log.Open(settings);
        std::vector<Update> history(2);
        for (size_t i = 0; i < history.size(); ++i) {
          history[i].mutations = histories[h][i];
          history[i].id = log->Append(history[i].mutations);
        }
        CompactionOptions options;
        options.tombstone_retention = std::chrono::seconds(tombstone_s);
        const CompactionResult result = compactor->Compact(options);
        State replayed;
        for (const Update& u : ReadAll(log.reader(), 0)) Apply(u, &replayed);
        EXPECT_EQ(replayed, State{}) << "a replay of the compacted log brings a deleted key back";
        if (token_s > 0) {
          auto raw = RawConnection();
          EXPECT_EQ(QueryOne(*raw, "SELECT COUNT(*) FROM " + log.prefix() + "_batch"), "2")
              << "a token younger than its retention is gone";
        }
        EXPECT_EQ(result.horizon, log->Horizon());
        std::mt19937_64 rng(1);
        ExpectSameMeaning(log.reader(), history, rng, 4);
      }
    }
  }
}

// Follows the applier's horizon protocol: a replay from 0 reads the horizon first and checks none
// after its first read; every later read from a position below a horizon that changed since
// then resyncs by replaying from 0 again.
class HorizonCheckingMachine {
 public:
  explicit HorizonCheckingMachine(std::unique_ptr<ChangeLog> log) : log_(std::move(log)) {}

  // Reads pages of at most `page` updates until there is nothing new.
  void CatchUp(size_t page) {
    for (int read = 0; read < 100'000; ++read) {
      if (!Step(page)) return;
    }
    ADD_FAILURE() << "the machine never caught up";
  }

  // Reads one page of at most `page` updates, or resyncs; false if there was nothing new.
  bool Step(size_t page) {
    if (applied_ == 0) replay_horizon_ = log_->Horizon();
    ChangeLog::Tail tail = log_->ReadTail(applied_, page);
    const std::vector<Update>& updates = tail.updates;
    const uint64_t horizon = tail.horizon;
    if (applied_ > 0 && applied_ < horizon && horizon != replay_horizon_) {
      state_.clear();
      applied_ = 0;
      ++resyncs_;
      return true;
    }
    for (const Update& u : updates) {
      Apply(u, &state_);
      applied_ = u.id;
    }
    return !updates.empty();
  }

  const State& state() const { return state_; }
  int resyncs() const { return resyncs_; }

 private:
  std::unique_ptr<ChangeLog> log_;
  State state_;
  uint64_t applied_ = 0;
  uint64_t replay_horizon_ = 0;
  int resyncs_ = 0;
};

// A replay from 0 whose first read takes several statements (pages of one row), with a
// compaction between the first two that drops the set of k the first one returned and then k's
// delete, as an expired tombstone. The machine follows the applier's protocol: it reads the
// horizon before replaying, checks no horizon after its first read, and resyncs when a later
// read starts below a horizon that changed. Ending above the raised horizon, it would never
// learn that the read joined the set to a log without its delete.
TEST(MysqlCompactionTest, AFirstReplayReadStraddlingACompactionNeverKeepsADeletedKey) {
  Log log;
  std::vector<Update> history(4);
  history[0].mutations = {Mutation::Set("k", "v")};
  history[1].mutations = {Mutation::Set("a", "1")};
  history[2].mutations = {Mutation::Delete("k")};
  history[3].mutations = {Mutation::Set("b", "1")};
  State full;
  for (Update& u : history) {
    u.id = log->Append(u.mutations);
    Apply(u, &full);
  }
  MysqlLogOptions settings = Log::Settings();
  settings.read_page_rows = 1;
  int calls = 0;
  settings.between_read_queries = [&] {
    if (calls++ == 0) {
      CompactionOptions expire;
      expire.tombstone_retention = std::chrono::seconds(0);
      EXPECT_EQ(log->Compact(expire).horizon, history[2].id);
    }
  };
  HorizonCheckingMachine machine(log.Open(settings));
  machine.CatchUp(100);
  EXPECT_GE(calls, 1) << "the read took one statement: the compaction never ran inside it";
  EXPECT_EQ(machine.state(), full)
      << "the machine kept a deleted key without learning it must resync";
}

// A poll that finds a new head, and then no rows above its applied id because a compaction in
// between dropped them (a set and its expired delete): the horizon it reports is the one that
// compaction raised, not the one read with the head, so the machine learns it must resync.
TEST(MysqlCompactionTest, APollWhoseNewRowsWereCompactedAwayReportsTheRaisedHorizon) {
  Log log;
  Mutation m = Mutation::Set("k", "v");
  const uint64_t set = log->Append({&m, 1});
  m = Mutation::Delete("k");
  const uint64_t del = log->Append({&m, 1});
  MysqlLogOptions settings = Log::Settings();
  int calls = 0;
  settings.between_read_queries = [&] {
    if (calls++ == 0) {
      CompactionOptions expire;
      expire.tombstone_retention = std::chrono::seconds(0);
      EXPECT_EQ(log->Compact(expire).horizon, del);
    }
  };
  const ChangeLog::Tail tail = log.Open(settings)->ReadTail(set, 10);
  EXPECT_EQ(calls, 1) << "the poll read no new head, or read it twice";
  EXPECT_TRUE(tail.updates.empty());
  EXPECT_EQ(tail.horizon, del) << "a machine at " << set << " would keep the deleted key";
}

// Reads paging one to three rows at a time, with compactions that drop tombstones run at random
// points between their statements: a machine replaying from 0 each round and one tailing
// throughout, both following the applier's horizon protocol, end in the state of the test's own
// history.
TEST(MysqlCompactionTest, ReadsStraddlingRandomCompactionsNeverLoseADelete) {
  Log log;
  HistoryMaker maker(77, 6, 15);
  std::vector<Update> history;
  std::mt19937_64& rng = maker.rng();
  auto reader_settings = [&] {
    MysqlLogOptions settings = Log::Settings();
    settings.read_page_rows = 1 + rng() % 3;
    settings.between_read_queries = [&] {
      if (rng() % 4 != 0) return;
      MysqlLogOptions compactor = Log::Settings();
      compactor.token_retention = std::chrono::seconds(rng() % 2 == 0 ? 0 : 3600);
      CompactionOptions options;
      options.tombstone_retention = std::chrono::seconds(0);
      const uint64_t head = log->HeadId();
      options.before_id = rng() % 2 == 0 ? 0 : 1 + rng() % (head + 1);
      log.Open(compactor)->Compact(options);
    };
    return settings;
  };
  HorizonCheckingMachine tailer(log.Open(reader_settings()));
  int resyncs = 0;
  for (int round = 0; round < 30; ++round) {
    SCOPED_TRACE("round " + std::to_string(round));
    maker.Append(*log, 30, 3, 35, &history);
    State full;
    for (const Update& u : history) Apply(u, &full);
    HorizonCheckingMachine replay(log.Open(reader_settings()));
    replay.CatchUp(1 + rng() % 10);
    EXPECT_EQ(replay.state(), full) << "a machine replaying from 0";
    tailer.CatchUp(1 + rng() % 10);
    EXPECT_EQ(tailer.state(), full) << "a machine tailing throughout";
    resyncs += replay.resyncs();
    if (::testing::Test::HasFailure()) return;
  }
  EXPECT_GT(log->Horizon(), 0u) << "no compaction dropped a tombstone";
  std::printf("%d resyncs of the replaying machines, %d of the tailer\n", resyncs,
              tailer.resyncs());
}

// Random histories over six keys (sets, deletes, batches of several keys superseding each
// other all the time), compacted at random limits under every combination of tombstone and
// token retention: zero, below each other, above every batch's age. Batches get random ages
// out of id order. After every compaction, machines replaying from 0 and catching up from
// random applied ids at or above the horizon reach the state the test's own history gives.
TEST(MysqlCompactionTest, RandomHistoriesKeepTheirMeaningUnderEveryRetentionCombination) {
  Log log;
  HistoryMaker maker(2027, 6, 15);
  std::vector<Update> history;
  constexpr int64_t kStep = Log::kAgeStep;
  const std::vector<int64_t> tombstone_retentions = {0, kStep * 5 / 2, kStep * 11 / 2,
                                                     7 * 24 * 3600};
  const std::vector<int64_t> token_retentions = {0, kStep * 5 / 2, kStep * 11 / 2, 3600};
  const size_t combinations = tombstone_retentions.size() * token_retentions.size();
  uint64_t removed = 0;
  for (size_t round = 0; round < 6 * combinations; ++round) {
    maker.Append(*log, 40, 4, 35, &history);
    log.BackdateRandomly(round);
    const int64_t tombstone_s = tombstone_retentions[round % tombstone_retentions.size()];
    const int64_t token_s =
        token_retentions[round / tombstone_retentions.size() % token_retentions.size()];
    const uint64_t head = log->HeadId();
    CompactionOptions options;
    options.before_id = maker.rng()() % 4 == 0 ? 0 : 1 + maker.rng()() % (head + 1);
    options.tombstone_retention = std::chrono::seconds(tombstone_s);
    MysqlLogOptions settings = Log::Settings();
    settings.token_retention = std::chrono::seconds(token_s);
    settings.compaction_chunk_rows = 1 + maker.rng()() % 50;
    SCOPED_TRACE("round " + std::to_string(round) + ": before id " +
                 std::to_string(options.before_id) + " of head " + std::to_string(head) +
                 ", tombstone retention " + std::to_string(tombstone_s) + " s, token retention " +
                 std::to_string(token_s) + " s");
    removed += log.Open(settings)->Compact(options).removed;
    ExpectSameMeaning(log.reader(), history, maker.rng(), 20);
    if (::testing::Test::HasFailure()) return;
  }
  EXPECT_GT(removed, 0u);
  EXPECT_GT(log->Horizon(), 0u) << "no compaction dropped a tombstone";
}

// A set kept for its young batch's token must not wait for its delete to stay: a later
// compaction drops both, and when the delete's id lies below the horizon an earlier one raised,
// the horizon does not change, so a machine that started replaying after that raise and had
// read the set when the later compaction ran is never told to resync.
TEST(MysqlCompactionTest, ASetKeptForItsTokenNeverOutlivesItsDeleteBelowTheHorizon) {
  Log log;
  std::vector<Update> history(3);
  history[0].mutations = {Mutation::Set("k", "v")};
  history[1].mutations = {Mutation::Delete("k")};
  history[2].mutations = {Mutation::Set("z", "1"), Mutation::Delete("w")};
  State full;
  for (Update& u : history) {
    u.id = log->Append(u.mutations);
    Apply(u, &full);
  }
  MysqlLogOptions keep_tokens = Log::Settings();
  keep_tokens.token_retention = std::chrono::hours(1);
  CompactionOptions expire;
  expire.tombstone_retention = std::chrono::seconds(0);
  ASSERT_EQ(log.Open(keep_tokens)->Compact(expire).horizon, history[2].id);

  HorizonCheckingMachine machine(log.Open());
  ASSERT_TRUE(machine.Step(1));
  log->Compact(expire);  // With the token retention passed.
  machine.CatchUp(1);
  EXPECT_EQ(machine.state(), full)
      << "the machine kept a deleted key without learning it must resync";
}

// --- Prefix deletes ------------------------------------------------------------------------

// Appends each of `batches` as one update and returns them, ids filled in.
std::vector<Update> AppendBatches(ChangeLog& log,
                                  const std::vector<std::vector<Mutation>>& batches) {
  std::vector<Update> history;
  for (const std::vector<Mutation>& batch : batches) {
    Update u;
    u.mutations = batch;
    u.id = log.Append(u.mutations);
    history.push_back(std::move(u));
  }
  return history;
}

// What `log` holds, as "I: M, M | I: M" with I the index in `history` of an update's id and M
// "set KEY=VALUE", "del KEY" or "del-prefix PREFIX".
std::string Held(ChangeLog& log, const std::vector<Update>& history) {
  std::string out;
  for (const Update& u : ReadAll(log, 0)) {
    const auto at =
        std::find_if(history.begin(), history.end(), [&](const Update& h) { return h.id == u.id; });
    out += (out.empty() ? "" : " | ") + std::to_string(at - history.begin()) + ":";
    for (size_t i = 0; i < u.mutations.size(); ++i) {
      const Mutation& m = u.mutations[i];
      out += i == 0 ? " " : ", ";
      switch (m.op) {
        case Mutation::Op::kSet:
          out += "set " + m.key + "=" + m.value;
          break;
        case Mutation::Op::kDelete:
          out += "del " + m.key;
          break;
        case Mutation::Op::kErasePrefix:
          out += "del-prefix " + m.key;
          break;
      }
    }
  }
  return out;
}

// A set or delete of a key goes when a newer prefix delete covers it, the key equal to the
// prefix included; what lies outside the prefix ("s" is not under "s:") and what comes after
// the prefix delete stays. With retention 0 the prefix delete and the deletes are tombstones
// that expire; the horizon rises to the newest of them.
TEST(MysqlCompactionTest, APrefixDeleteSupersedesOlderSetsAndDeletesUnderIt) {
  for (const bool expire : {false, true}) {
    SCOPED_TRACE(expire ? "retention 0" : "long retention");
    Log log;
    const std::vector<Update> history = AppendBatches(
        *log,
        {
            {Mutation::Set("s:1", "a"), Mutation::Set("s:", "b"), Mutation::Delete("s:2"),
             Mutation::Set("t:1", "c")},
            {Mutation::Set("s:3", "d"), Mutation::Delete("s")},
            {Mutation::Set("s:4", "x"), Mutation::ErasePrefix("s:"), Mutation::Set("s:5", "e")},
            {Mutation::Set("s:1", "f"), Mutation::Delete("s:3")},
        });
    CompactionOptions options;
    if (expire) options.tombstone_retention = std::chrono::seconds(0);
    const CompactionResult result = log->Compact(options);
    if (expire) {
      EXPECT_EQ(Held(*log, history), "0: set t:1=c | 2: set s:5=e | 3: set s:1=f");
      EXPECT_EQ(result.horizon, history[3].id);
      EXPECT_EQ(result.removed, 8u);
    } else {
      EXPECT_EQ(Held(*log, history),
                "0: set t:1=c | 1: del s | 2: del-prefix s:, set s:5=e | 3: set s:1=f, del s:3");
      EXPECT_EQ(result.horizon, 0u);
      EXPECT_EQ(result.removed, 5u);
    }
    std::mt19937_64 rng(1);
    ExpectSameMeaning(log.reader(), history, rng, 10);
  }
}

// A prefix delete goes only when a newer prefix delete of a prefix of its own (itself included)
// covers it. A newer, narrower prefix delete does not supersede it, nor do newer sets and
// deletes under it: it still deletes the other keys under it. A prefix delete and a set or
// delete of the key equal to its prefix are different things, in either order and in one batch.
TEST(MysqlCompactionTest, OnlyANewerPrefixDeleteOfItsPrefixSupersedesAPrefixDelete) {
  Log log;
  const std::vector<Update> history = AppendBatches(
      *log, {
                {Mutation::Set("a:15", "0"), Mutation::Set("c:9", "0"), Mutation::Set("e", "0"),
                 Mutation::Set("ex", "0"), Mutation::Set("p:1", "0")},
                {Mutation::ErasePrefix("a:1")},
                {Mutation::ErasePrefix("b:")},
                {Mutation::ErasePrefix("b:")},
                {Mutation::ErasePrefix("a:")},
                {Mutation::ErasePrefix("a:12")},
                {Mutation::ErasePrefix("c:")},
                {Mutation::Set("c:", "1"), Mutation::Set("c:1", "2"), Mutation::Delete("c:2")},
                {Mutation::ErasePrefix("e")},
                {Mutation::Delete("e")},
                {Mutation::Set("p", "0"), Mutation::ErasePrefix("p"), Mutation::Set("p", "1")},
            });
  const CompactionResult result = log->Compact({});
  EXPECT_EQ(Held(*log, history),
            "3: del-prefix b: | 4: del-prefix a: | 5: del-prefix a:12 | 6: del-prefix c: | "
            "7: set c:=1, set c:1=2, del c:2 | 8: del-prefix e | 9: del e | "
            "10: del-prefix p, set p=1");
  EXPECT_EQ(result.removed, 8u);
  EXPECT_EQ(result.horizon, 0u);
  std::mt19937_64 rng(1);
  ExpectSameMeaning(log.reader(), history, rng, 20);
}

// A prefix delete that nothing supersedes is a tombstone: dropped once it was written longer ago
// than the retention, after the horizon has been raised to its id. A delete that a newer prefix
// delete supersedes goes whatever its age, and raises no horizon. Batch i is i steps younger
// than batch 0; retentions of 0, half a step, 2.5 steps (older than the delete, younger than
// the prefix deletes) and a week.
TEST(MysqlCompactionTest, APrefixDeleteIsATombstoneWithTheRetentionOfADelete) {
  constexpr int64_t kStep = Log::kAgeStep;
  struct Case {
    int64_t retention_s;
    std::string held;
    int horizon_index;  // -1 for none.
  };
  const std::vector<Case> cases = {
      {0, "4: set w=e", 4},
      {kStep / 2, "4: del-prefix s:, set w=e", 3},
      {kStep * 5 / 2, "3: del-prefix t: | 4: del-prefix s:, set w=e", -1},
      {7 * 24 * 3600, "3: del-prefix t: | 4: del-prefix s:, set w=e", -1},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE("retention " + std::to_string(c.retention_s) + " s");
    Log log;
    const std::vector<Update> history =
        AppendBatches(*log, {
                                {Mutation::Set("t:1", "c"), Mutation::Set("w", "d")},
                                {Mutation::Delete("t:1")},
                                {Mutation::Set("s:1", "a"), Mutation::Set("s:2", "b")},
                                {Mutation::ErasePrefix("t:")},
                                {Mutation::ErasePrefix("s:"), Mutation::Set("w", "e")},
                            });
    log.Backdate(log->HeadId(), kStep);
    CompactionOptions options;
    options.tombstone_retention = std::chrono::seconds(c.retention_s);
    const CompactionResult result = log->Compact(options);
    EXPECT_EQ(Held(*log, history), c.held);
    EXPECT_EQ(result.horizon, c.horizon_index < 0 ? 0 : history[c.horizon_index].id);
    std::mt19937_64 rng(1);
    ExpectSameMeaning(log.reader(), history, rng, 10);
  }
}

// An expired prefix delete and a delete of the same bytes in one batch: the delete, superseded
// by a newer set, is the row the young batch keeps for its token, so pass 2 must drop the prefix
// delete and leave the delete. Without a token to keep, the batch goes.
TEST(MysqlCompactionTest, DroppingAnExpiredPrefixDeleteLeavesTheDeleteOfTheSameBytes) {
  for (const int64_t token_s : {3600, 0}) {
    SCOPED_TRACE("token retention " + std::to_string(token_s) + " s");
    Log log;
    MysqlLogOptions settings = Log::Settings();
    settings.token_retention = std::chrono::seconds(token_s);
    const std::vector<Update> history =
        AppendBatches(*log, {
                                {Mutation::Set("kx", "0")},
                                {Mutation::ErasePrefix("k"), Mutation::Delete("k")},
                                {Mutation::Set("k", "v")},
                            });
    CompactionOptions options;
    options.tombstone_retention = std::chrono::seconds(0);
    const CompactionResult result = log.Open(settings)->Compact(options);
    EXPECT_EQ(Held(*log, history),
              token_s > 0 ? "0: del kx | 1: del k | 2: set k=v" : "2: set k=v");
    EXPECT_EQ(result.horizon, history[1].id);
    std::mt19937_64 rng(1);
    ExpectSameMeaning(log.reader(), history, rng, 10);
  }
}

// A young batch whose rows newer ones all supersede keeps one row for its token: a prefix delete
// as it is, before a set made a delete of its key.
TEST(MysqlCompactionTest, ABatchKeptForItsTokenKeepsAPrefixDeleteAsItIs) {
  Log log;
  MysqlLogOptions settings = Log::Settings();
  settings.token_retention = std::chrono::hours(1);
  const std::vector<Update> history = AppendBatches(
      *log, {
                {Mutation::Set("s:1", "a"), Mutation::ErasePrefix("t:"), Mutation::Set("s:2", "b")},
                {Mutation::Set("s:3", "c")},
                {Mutation::ErasePrefix("s:"), Mutation::ErasePrefix("t:")},
            });
  const CompactionResult result = log.Open(settings)->Compact({});
  EXPECT_EQ(Held(*log, history), "0: del-prefix t: | 1: del s:3 | 2: del-prefix s:, del-prefix t:");
  EXPECT_EQ(result.removed, 2u);
  auto raw = RawConnection();
  EXPECT_EQ(QueryOne(*raw, "SELECT COUNT(*) FROM " + log.prefix() + "_batch"), "3");
  std::mt19937_64 rng(1);
  ExpectSameMeaning(log.reader(), history, rng, 10);
}

// Two writer threads race, each with its own log object: one sets keys under "race:", the other
// erases "race:" (or "race:1", which covers race:1 and race:10 .. race:19) in batches that also
// set keys under it before and after the prefix delete. The compacted log, after every
// compaction (a limit below the head, a small retention over random ages, retention 0), means
// what the writers' history in id order means.
TEST(MysqlCompactionTest, RacingSetsAndPrefixDeletesCompactToTheirHistory) {
  Log log;
  constexpr int kBatches = 300;
  std::vector<Update> written[2];
  std::string failures[2];
  std::latch start(2);
  auto write = [&](int writer) {
    sql::mysql::get_mysql_driver_instance()->threadInit();
    std::unique_ptr<ChangeLog> own_log;
    try {
      own_log = log.Open();
    } catch (const std::exception& e) {
      failures[writer] = e.what();
    }
    std::mt19937_64 rng(writer);
    auto key = [&] { return "race:" + std::to_string(rng() % 20); };
    start.arrive_and_wait();
    for (int i = 0; own_log != nullptr && i < kBatches; ++i) {
      Update u;
      const std::string value = std::to_string(writer) + "/" + std::to_string(i);
      if (writer == 0) {
        for (int n = 0, count = 1 + rng() % 3; n < count; ++n) {
          u.mutations.push_back(Mutation::Set(key(), value));
        }
      } else {
        u.mutations = {Mutation::Set(key(), value),
                       Mutation::ErasePrefix(rng() % 4 == 0 ? "race:1" : "race:"),
                       Mutation::Set(key(), value)};
      }
      try {
        u.id = own_log->Append(u.mutations);
      } catch (const std::exception& e) {
        failures[writer] = e.what();
        break;
      }
      written[writer].push_back(std::move(u));
    }
    own_log.reset();
    sql::mysql::get_mysql_driver_instance()->threadEnd();
  };
  std::thread setter(write, 0);
  std::thread eraser(write, 1);
  setter.join();
  eraser.join();
  ASSERT_EQ(failures[0] + failures[1], "");
  std::vector<Update> history = written[0];
  history.insert(history.end(), written[1].begin(), written[1].end());
  std::sort(history.begin(), history.end(),
            [](const Update& a, const Update& b) { return a.id < b.id; });
  ASSERT_EQ(history.size(), size_t{2 * kBatches});
  std::set<uint64_t> eraser_ids;
  for (const Update& u : written[1]) eraser_ids.insert(u.id);
  int turns = 0;  // Places in id order where the other writer's batch follows.
  for (size_t i = 1; i < history.size(); ++i) {
    ASSERT_LT(history[i - 1].id, history[i].id) << "two appends returned one id";
    turns += eraser_ids.contains(history[i - 1].id) != eraser_ids.contains(history[i].id);
  }
  std::printf("the writers took turns %d times in %d batches\n", turns, 2 * kBatches);
  State full;
  for (const Update& u : history) Apply(u, &full);
  std::mt19937_64 rng(3);
  const uint64_t head = log->HeadId();
  for (int round = 0; round < 3; ++round) {
    SCOPED_TRACE("round " + std::to_string(round));
    CompactionOptions options;
    switch (round) {
      case 0:
        options.before_id = head / 2;
        break;
      case 1:
        log.BackdateRandomly(round);
        options.tombstone_retention = std::chrono::seconds(Log::kAgeStep * 9 / 2);
        break;
      default:
        options.tombstone_retention = std::chrono::seconds(0);
    }
    log->Compact(options);
    ExpectNothingSupersededBelow(log.reader(),
                                 options.before_id == 0 ? head + 1 : options.before_id);
    ExpectSameMeaning(log.reader(), history, rng, 100);
    State fresh;
    for (const Update& u : ReadAll(*log.Open(), 0)) Apply(u, &fresh);
    EXPECT_EQ(fresh, full) << "a fresh machine differs from the history in id order";
  }
  EXPECT_GT(log->Horizon(), 0u) << "no prefix delete expired";
}

}  // namespace
}  // namespace whycache::mysql_log
