// Compaction of the file log: a machine at or above the horizon reaches the state of a full
// replay (checked against a model of random histories), readers and appenders run through
// compactions, compactors killed at random moments leave the log whole, the log shrinks, and
// the head id and horizon never decrease.
#include <signal.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <limits>
#include <map>
#include <mutex>
#include <ostream>
#include <random>
#include <set>
#include <thread>

#include "gtest/gtest.h"
#include "lib/io/clock.h"
#include "lib/log/file_log.h"
#include "lib/log/manifest.h"
#include "lib/log/segment_format.h"
#include "tests/support/child_process.h"
#include "tests/support/model_state.h"
#include "tests/support/temp_dir.h"

namespace whycache {

// How failures show a mutation (instead of its bytes).
void PrintTo(const Mutation& m, std::ostream* os) {
  switch (m.op) {
    case Mutation::Op::kSet:
      *os << "set " << m.key << "=" << m.value;
      return;
    case Mutation::Op::kDelete:
      *os << "delete " << m.key;
      return;
    case Mutation::Op::kErasePrefix:
      *os << "erase prefix " << m.key;
      return;
  }
}

namespace testing {
namespace {

using namespace std::chrono_literals;

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
// Sanitizers slow the code down several times: smaller histories keep each test in bounds.
constexpr bool kSanitized = true;
#else
constexpr bool kSanitized = false;
#endif

constexpr std::chrono::seconds kLongRetention = std::chrono::hours(24 * 7);
// A retention that tests pass by pausing appends for kShortRetentionPause: what was appended
// before the pause has expired when a compaction runs right after the appends that follow it.
constexpr std::chrono::seconds kShortRetention{1};
constexpr std::chrono::milliseconds kShortRetentionPause{1500};

using State = ModelState;

void Apply(State& state, const Update& update) { ApplyMutations(update.mutations, &state); }

State Replay(const std::vector<Update>& updates) {
  State state;
  for (const Update& u : updates) Apply(state, u);
  return state;
}

std::vector<Update> ReadAll(ChangeLog& log, uint64_t after_id = 0) {
  std::vector<Update> all;
  for (int page = 0; page < 10'000'000; ++page) {
    std::vector<Update> updates = log.ReadAfter(after_id, 1000);
    if (updates.empty()) break;
    after_id = updates.back().id;
    for (Update& u : updates) all.push_back(std::move(u));
  }
  return all;
}

// True if `part` is `whole` with some mutations left out (what compaction does to a batch).
bool IsSubsequence(const std::vector<Mutation>& part, const std::vector<Mutation>& whole) {
  size_t i = 0;
  for (const Mutation& m : whole) {
    if (i < part.size() && part[i] == m) ++i;
  }
  return i == part.size();
}

CompactionOptions Options(uint64_t before_id, std::chrono::seconds retention) {
  CompactionOptions options;
  options.before_id = before_id;
  options.tombstone_retention = retention;
  return options;
}

// A prefix to delete among keys "key/N", N below `keys`: most often a key itself (which also
// covers the keys that extend its number), or a key without its last digit or two (tens or
// hundreds of keys), now and then one that covers no key, rarely "key/" (every key).
std::string RandomPrefix(std::mt19937_64& rng, uint64_t keys) {
  const std::string key = "key/" + std::to_string(rng() % keys);
  const uint64_t shape = rng() % 100;
  if (shape < 45) return key;
  if (shape < 75) return key.substr(0, std::max<size_t>(5, key.size() - 1));
  if (shape < 85) return key.substr(0, std::max<size_t>(5, key.size() - 2));
  if (shape < 99) return key + "/none";
  return "key/";
}

// A batch of 1 to 20 mutations over `keys` keys: sets with fresh values, deletes, prefix
// deletes, and now and then a key set twice in the batch, or a prefix delete between sets of keys
// under its prefix (the set before it goes with it, the one after it stays).
std::vector<Mutation> RandomBatch(std::mt19937_64& rng, uint64_t keys, uint64_t serial) {
  const uint64_t count = 1 + rng() % (rng() % 8 == 0 ? 20 : 4);
  std::vector<Mutation> batch;
  auto value = [&] { return "v" + std::to_string(serial) + "." + std::to_string(batch.size()); };
  for (uint64_t i = 0; i < count; ++i) {
    const uint64_t op = rng() % 48;
    if (op == 0) {
      batch.push_back(Mutation::ErasePrefix(RandomPrefix(rng, keys)));
      continue;
    }
    if (op == 1) {
      const std::string prefix = RandomPrefix(rng, keys);
      batch.push_back(Mutation::Set(prefix + std::to_string(rng() % 10), value()));
      batch.push_back(Mutation::ErasePrefix(prefix));
      batch.push_back(Mutation::Set(prefix + std::to_string(rng() % 10), value()));
      continue;
    }
    std::string key = "key/" + std::to_string(rng() % keys);
    if (op % 4 == 0) {
      batch.push_back(Mutation::Delete(std::move(key)));
    } else {
      batch.push_back(Mutation::Set(std::move(key), value()));
    }
  }
  if (rng() % 10 == 0) batch.push_back(Mutation::Set(batch.front().key, "again"));
  return batch;
}

// What a compaction below `limit` must leave of `log` (every update of the log before it, in id
// order), worked out from the newest entry back: a set or delete of K falls to any newer entry of
// K and to any newer prefix delete of a prefix of K (K included); a prefix delete of P to a newer
// prefix delete of a prefix of P (P included) only. A delete or prefix delete that nothing
// supersedes is an expired tombstone if written at or before `expired_up_to_us`: dropped, and
// the horizon (`horizon` before) rises to its id.
struct Expectation {
  std::vector<Update> below;  // The updates below the limit that keep mutations, and those.
  uint64_t horizon = 0;
  uint64_t kept = 0;
  uint64_t removed = 0;
};

Expectation ExpectedCompaction(const std::vector<Update>& log, uint64_t limit, uint64_t horizon,
                               int64_t expired_up_to_us) {
  std::set<std::string> keys;
  std::set<std::string> prefixes;
  auto erased = [&](const std::string& key) {
    for (size_t n = 1; n <= key.size(); ++n) {
      if (prefixes.contains(key.substr(0, n))) return true;
    }
    return false;
  };
  Expectation e;
  e.horizon = horizon;
  for (auto u = log.rbegin(); u != log.rend(); ++u) {
    if (u->id >= limit) continue;
    const bool expired = u->write_time_us <= expired_up_to_us;
    Update survivors{u->id, u->write_time_us, {}};
    for (auto m = u->mutations.rbegin(); m != u->mutations.rend(); ++m) {
      bool superseded = erased(m->key);
      if (m->op == Mutation::Op::kErasePrefix) {
        prefixes.insert(m->key);
      } else {
        superseded = !keys.insert(m->key).second || superseded;
      }
      if (superseded) {
        ++e.removed;
      } else if (expired && m->op != Mutation::Op::kSet) {
        ++e.removed;
        e.horizon = std::max(e.horizon, u->id);
      } else {
        ++e.kept;
        survivors.mutations.insert(survivors.mutations.begin(), *m);
      }
    }
    if (!survivors.mutations.empty()) e.below.insert(e.below.begin(), std::move(survivors));
  }
  return e;
}

// The expectations for a compaction with tombstone retention `retention` whose clock read a time
// between t0_us and t1_us: one for each different set of updates that may count as expired.
std::vector<Expectation> ExpectedCompactions(const std::vector<Update>& log, uint64_t limit,
                                             uint64_t horizon, std::chrono::seconds retention,
                                             int64_t t0_us, int64_t t1_us) {
  const int64_t retention_us = std::chrono::microseconds(retention).count();
  std::set<int64_t> cutoffs = {t0_us - retention_us};
  for (const Update& u : log) {
    if (u.write_time_us > t0_us - retention_us && u.write_time_us <= t1_us - retention_us) {
      cutoffs.insert(u.write_time_us);
    }
  }
  std::vector<Expectation> expectations;
  for (const int64_t cutoff : cutoffs) {
    expectations.push_back(ExpectedCompaction(log, limit, horizon, cutoff));
  }
  return expectations;
}

class FileLogCompactionTest : public ::testing::Test {
 protected:
  std::unique_ptr<log::FileLog> OpenLog(uint64_t segment_bytes = 64 << 10) const {
    return OpenLogIn(dir_, segment_bytes);
  }

  static std::unique_ptr<log::FileLog> OpenLogIn(const std::string& dir,
                                                 uint64_t segment_bytes = 64 << 10) {
    log::FileLogOptions options;
    options.create_if_missing = true;
    options.segment_bytes = segment_bytes;
    options.fsync = FsyncPolicy::kNever;
    return log::FileLog::Open(dir, options);
  }

  // After a compaction that finished, the directory holds exactly the listed segments.
  void ExpectNoStraySegments() const {
    std::set<std::string> listed;
    for (const log::SegmentInfo& s : log::ReadManifest(dir_).segments) {
      listed.insert(log::SegmentFileName(s.number));
    }
    std::set<std::string> present;
    for (const auto& entry : std::filesystem::directory_iterator(dir_)) {
      const std::string name = entry.path().filename().string();
      if (name.ends_with(".seg")) present.insert(name);
    }
    EXPECT_EQ(present, listed);
  }

  TempDir temp_;
  const std::string dir_ = temp_.File("log");
};

// Applies what it reads as a machine does: after each read from a position p > 0, a horizon
// above p means the state may have missed deletes, so it rebuilds it from a full replay.
class Machine {
 public:
  Machine(std::unique_ptr<ChangeLog> log, std::function<std::unique_ptr<ChangeLog>()> open)
      : log_(std::move(log)), open_(std::move(open)) {}

  // Reads one page of at most `max_updates`; false if there was nothing new.
  bool Step(size_t max_updates, const std::map<uint64_t, Update>& history) {
    std::vector<Update> page = log_->ReadAfter(applied_, max_updates);
    const uint64_t horizon = log_->Horizon();
    if (applied_ != 0 && applied_ < horizon) {
      ++resyncs_;
      const std::vector<Update> all = ReadAll(*open_());
      state_ = Replay(all);
      // The replay reached the horizon even when the batches up to it are gone (the newest of
      // them expired tombstones); from an id below it the machine would resync forever.
      applied_ = std::max(all.empty() ? 0 : all.back().id, horizon);
      return true;
    }
    for (const Update& u : page) {
      EXPECT_GT(u.id, applied_);
      const auto it = history.find(u.id);
      EXPECT_TRUE(it != history.end() && IsSubsequence(u.mutations, it->second.mutations))
          << "update " << u.id << " is not (part of) the batch appended with that id";
      Apply(state_, u);
      applied_ = u.id;
    }
    return !page.empty();
  }

  void CatchUp(const std::map<uint64_t, Update>& history) {
    for (int i = 0; i < 1'000'000 && Step(1000, history); ++i) {
    }
  }

  const State& state() const { return state_; }
  uint64_t applied() const { return applied_; }
  int resyncs() const { return resyncs_; }

 private:
  std::unique_ptr<ChangeLog> log_;
  std::function<std::unique_ptr<ChangeLog>()> open_;
  State state_;
  uint64_t applied_ = 0;
  int resyncs_ = 0;
};

// Random histories, prefix deletes among them, compacted at random limits with random
// retentions. For machines at many applied ids x: the full replay up to x, then the compacted log
// after x, equals the full replay of the whole history whenever x is 0 or at or above the
// horizon. Below the limit exactly the entries that nothing newer supersedes remain, less the
// expired tombstones; at and above it, everything.
TEST_F(FileLogCompactionTest, ModelBasedRandomHistoriesAndCompactions) {
  const uint64_t kMutations = kSanitized ? 40'000 : 120'000;
  constexpr uint64_t kKeys = 3'000;
  constexpr int kRounds = 6;
  const int kMachines = kSanitized ? 30 : 100;
  auto log = OpenLog();
  auto open = [&] { return std::unique_ptr<ChangeLog>(OpenLog()); };
  std::mt19937_64 rng(20261128);
  std::map<uint64_t, Update> history;  // Everything appended, never compacted.
  uint64_t horizon = 0;
  // Tails the log through every compaction, a small page at a time.
  Machine tailer(open(), open);
  uint64_t mutations = 0;
  int prefix_deletes = 0;
  for (int round = 0; round < kRounds; ++round) {
    // Retention 0, long, or short: then the last fifth of the round is appended after a pause
    // longer than it, so that the tombstones before the pause have expired and those after it
    // have not (ExpectedCompactions allows for a slow machine).
    const std::chrono::seconds retention =
        std::array{0s, kShortRetention, kLongRetention}[round % 3];
    bool paused = retention != kShortRetention;
    for (uint64_t appended = 0; appended < kMutations / kRounds;) {
      if (!paused && appended >= kMutations / kRounds * 4 / 5) {
        std::this_thread::sleep_for(kShortRetentionPause);
        paused = true;
      }
      std::vector<Mutation> batch = RandomBatch(rng, kKeys, history.size());
      appended += batch.size();
      for (const Mutation& m : batch) prefix_deletes += m.op == Mutation::Op::kErasePrefix;
      const uint64_t id = log->Append(batch);
      history[id] = Update{id, 0, std::move(batch)};
      if (rng() % 50 == 0) tailer.Step(1 + rng() % 20, history);
    }
    mutations += kMutations / kRounds;
    const uint64_t head = history.rbegin()->first;
    const uint64_t before_id = rng() % 4 == 0 ? 0 : 1 + rng() % (head + 1);
    const uint64_t limit = before_id == 0 ? head + 1 : before_id;
    SCOPED_TRACE("round " + std::to_string(round) + ": before id " + std::to_string(before_id) +
                 ", retention " + std::to_string(retention.count()) + " s");

    // What the compaction must leave is worked out from the log as it is (an earlier compaction
    // with a higher limit may have dropped entries that the full history has), which must hold
    // the history's batches or parts of them.
    const std::vector<Update> before = ReadAll(*OpenLog());
    for (const Update& u : before) {
      ASSERT_TRUE(IsSubsequence(u.mutations, history.at(u.id).mutations)) << "update " << u.id;
    }
    const int64_t t0 = io::NowMicros();
    const CompactionResult r = OpenLog()->Compact(Options(before_id, retention));
    const int64_t t1 = io::NowMicros();
    const std::vector<Expectation> expectations =
        ExpectedCompactions(before, limit, horizon, retention, t0, t1);
    ASSERT_EQ(log->Horizon(), r.horizon);
    ASSERT_EQ(log->HeadId(), head);
    ASSERT_EQ(OpenLog()->HeadId(), head);
    ExpectNoStraySegments();

    const std::vector<Update> compacted = ReadAll(*OpenLog());
    const auto untouched = std::lower_bound(before.begin(), before.end(), limit,
                                            [](const Update& u, uint64_t id) { return u.id < id; });
    const auto compacted_untouched =
        std::lower_bound(compacted.begin(), compacted.end(), limit,
                         [](const Update& u, uint64_t id) { return u.id < id; });
    ASSERT_TRUE(std::equal(untouched, before.end(), compacted_untouched, compacted.end()))
        << "the updates at and above the limit changed";
    const std::vector<Update> below(compacted.begin(), compacted_untouched);
    const auto matches = [&](const Expectation& e) {
      return e.below == below && e.horizon == r.horizon && e.kept == r.kept &&
             e.removed == r.removed;
    };
    ASSERT_TRUE(std::any_of(expectations.begin(), expectations.end(), matches))
        << "kept " << r.kept << ", removed " << r.removed << ", horizon " << r.horizon << " in "
        << below.size() << " updates below the limit; expected kept " << expectations[0].kept
        << ", removed " << expectations[0].removed << ", horizon " << expectations[0].horizon
        << " in " << expectations[0].below.size() << " updates (of " << expectations.size()
        << " possible outcomes)";
    EXPECT_LE(r.bytes_after, r.bytes_before);
    ASSERT_GE(r.horizon, horizon);
    horizon = r.horizon;

    // Machines at random applied ids.
    std::vector<uint64_t> xs = {0, head, horizon, horizon > 0 ? horizon - 1 : 0};
    for (int i = 0; i < kMachines; ++i) xs.push_back(rng() % (head + 1));
    std::sort(xs.begin(), xs.end());
    State truth;
    for (const auto& [id, u] : history) Apply(truth, u);
    ASSERT_EQ(Replay(compacted), truth);
    auto reader = OpenLog();
    State state;
    auto next = history.begin();
    int checked = 0;
    for (uint64_t x : xs) {
      for (; next != history.end() && next->first <= x; ++next) Apply(state, next->second);
      // A machine below the horizon must resync instead (the Machine class does).
      if (x != 0 && x < horizon) continue;
      // Every few machines read through a reader positioned at x; the others take the same
      // updates from the copy read once.
      State machine = state;
      if (checked % 4 == 0) {
        for (const Update& u : ReadAll(*reader, x)) Apply(machine, u);
      } else {
        for (auto it = std::upper_bound(compacted.begin(), compacted.end(), x,
                                        [](uint64_t id, const Update&u) { return id < u.id; });
             it != compacted.end(); ++it) {
          Apply(machine, *it);
        }
      }
      ASSERT_EQ(machine, truth) << "machine at " << x << ", horizon " << horizon;
      ++checked;
    }
    EXPECT_GT(checked, 1);

    tailer.CatchUp(history);
    ASSERT_EQ(tailer.applied(), head);
    ASSERT_EQ(tailer.state(), truth);
  }
  std::printf(
      "%llu mutations, %d prefix deletes; the tailer resynced %d times; final horizon %llu\n",
      static_cast<unsigned long long>(mutations), prefix_deletes, tailer.resyncs(),
      static_cast<unsigned long long>(horizon));
  EXPECT_GT(prefix_deletes, 100);
}

// The file log's side of the MySQL log's retention-combination test (mysql_compaction_test.cc):
// random histories over six keys (prefix deletes of one, several, none or all of them among
// them), small segments, compacted at random limits with tombstone retention 0, long, or now and
// then short after a pause in the appends (the file log keeps no tokens, and its write times
// cannot be backdated). After every compaction, machines replaying from 0, machines catching up
// from random applied ids at or above the horizon, and a tailer that resyncs as the applier does
// reach the state the test's own history gives.
TEST_F(FileLogCompactionTest, FewKeysRandomHistoriesKeepTheirMeaningUnderEachRetention) {
  auto log = OpenLog(512);
  auto open = [&] { return std::unique_ptr<ChangeLog>(OpenLog(512)); };
  std::mt19937_64 rng(2027);
  std::map<uint64_t, Update> history;
  Machine tailer(open(), open);
  for (int round = 0; round < 96; ++round) {
    const std::chrono::seconds retention =
        round % 2 == 0 ? 0s : (round % 48 == 1 ? kShortRetention : kLongRetention);
    bool paused = retention != kShortRetention;
    for (uint64_t appended = 0; appended < 40;) {
      if (!paused && appended >= 30) {
        std::this_thread::sleep_for(kShortRetentionPause);
        paused = true;
      }
      std::vector<Mutation> batch = RandomBatch(rng, 6, history.size());
      appended += batch.size();
      const uint64_t id = log->Append(batch);
      history[id] = Update{id, 0, std::move(batch)};
      if (rng() % 8 == 0) tailer.Step(1 + rng() % 4, history);
    }
    const uint64_t head = history.rbegin()->first;
    const uint64_t before_id = rng() % 4 == 0 ? 0 : 1 + rng() % (head + 1);
    SCOPED_TRACE("round " + std::to_string(round) + ": before id " + std::to_string(before_id) +
                 " of head " + std::to_string(head) + ", retention " +
                 std::to_string(retention.count()) + " s");
    OpenLog(512)->Compact(Options(before_id, retention));
    const uint64_t horizon = log->Horizon();
    State truth;
    for (const auto& [id, u] : history) Apply(truth, u);
    ASSERT_EQ(Replay(ReadAll(*log)), truth) << "replay from 0";
    std::vector<uint64_t> xs = {horizon, head};
    for (int i = 0; i < 10; ++i) xs.push_back(horizon + rng() % (head - horizon + 1));
    std::sort(xs.begin(), xs.end());
    State state;
    auto next = history.begin();
    for (uint64_t x : xs) {
      for (; next != history.end() && next->first <= x; ++next) Apply(state, next->second);
      State machine = state;
      for (const Update& u : ReadAll(*log, x)) Apply(machine, u);
      ASSERT_EQ(machine, truth) << "machine at " << x << ", horizon " << horizon;
    }
    tailer.CatchUp(history);
    ASSERT_EQ(tailer.state(), truth) << "the tailer";
  }
  EXPECT_GT(log->Horizon(), 0u) << "no compaction dropped a tombstone";
}

// The classic trap: key set at a, deleted at d > a, a machine at x in [a, d), compaction after
// d. With the tombstone dropped the horizon passes x, so the machine knows to resync; with it
// kept, the machine applies the delete.
TEST_F(FileLogCompactionTest, DeleteAfterACompactedSet) {
  for (const bool drop : {true, false}) {
    SCOPED_TRACE(drop ? "retention 0" : "long retention");
    TempDir temp;
    log::FileLogOptions options;
    options.create_if_missing = true;
    options.segment_bytes = 4096;
    options.fsync = FsyncPolicy::kNever;
    auto log = log::FileLog::Open(temp.File("log"), options);
    std::vector<Update> history;
    auto append = [&](std::vector<Mutation> batch) {
      const uint64_t id = log->Append(batch);
      history.push_back({id, 0, std::move(batch)});
      return id;
    };
    append({Mutation::Set("k", "old")});
    for (int i = 0; i < 50; ++i) append({Mutation::Set("other/" + std::to_string(i), "x")});
    const uint64_t x = append({Mutation::Set("k", "new")});
    for (int i = 0; i < 50; ++i) append({Mutation::Set("other/" + std::to_string(i), "y")});
    const uint64_t d = append({Mutation::Delete("k")});
    append({Mutation::Set("last", "z")});
    State at_x;
    for (const Update& u : history) {
      if (u.id <= x) Apply(at_x, u);
    }
    ASSERT_EQ(at_x.count("k"), 1u);

    const CompactionResult r = log->Compact(Options(0, drop ? 0s : kLongRetention));
    EXPECT_EQ(r.removed, drop ? 53u : 52u);
    if (drop) {
      EXPECT_GE(r.horizon, d);
      EXPECT_LT(x, log->Horizon()) << "the machine at x would not know to resync";
    } else {
      EXPECT_EQ(r.horizon, 0u);
      for (const Update& u : ReadAll(*log, x)) Apply(at_x, u);
      EXPECT_EQ(at_x, Replay(history));
    }
    EXPECT_EQ(Replay(ReadAll(*log)), Replay(history));
  }
}

// The mutations each update of `log` holds, by id.
std::map<uint64_t, std::vector<Mutation>> Entries(ChangeLog& log) {
  std::map<uint64_t, std::vector<Mutation>> entries;
  for (Update& u : ReadAll(log)) entries[u.id] = std::move(u.mutations);
  return entries;
}

// Every machine at an applied id x of `history` (0, or at or above the log's horizon) that
// applies the log after x reaches the state of the whole history.
void ExpectMachinesReachTheFullReplay(const std::vector<Update>& history, ChangeLog& log) {
  const State truth = Replay(history);
  const uint64_t horizon = log.Horizon();
  State state;
  for (size_t i = 0; i <= history.size(); ++i) {
    const uint64_t x = i == 0 ? 0 : history[i - 1].id;
    if (i > 0) Apply(state, history[i - 1]);
    if (x != 0 && x < horizon) continue;
    State machine = state;
    for (const Update& u : ReadAll(log, x)) Apply(machine, u);
    EXPECT_EQ(machine, truth) << "machine at " << x << ", horizon " << horizon;
  }
}

// Appends batches to one log and keeps them: the test's own history. The log stamps each batch
// with a write time between the clock reads just before and just after its append.
class Recorder {
 public:
  explicit Recorder(ChangeLog& log) : log_(log) {}
  uint64_t Append(std::vector<Mutation> batch) {
    const int64_t before_us = io::NowMicros();
    const uint64_t id = log_.Append(batch);
    history_.push_back({id, before_us, std::move(batch)});
    appended_us_.push_back(io::NowMicros());
    return id;
  }
  // The history, each update's write time the clock read before its append (the earliest the
  // log's stamp can be).
  const std::vector<Update>& history() const { return history_; }
  // The history, each update's write time the clock read after its append (the latest).
  std::vector<Update> LatestStampedHistory() const {
    std::vector<Update> history = history_;
    for (size_t i = 0; i < history.size(); ++i) history[i].write_time_us = appended_us_[i];
    return history;
  }

 private:
  ChangeLog& log_;
  std::vector<Update> history_;
  std::vector<int64_t> appended_us_;
};

using M = Mutation;

// A set or delete of a key falls to a newer prefix delete of a prefix of it, the key itself
// included; a key equal to the prefix without its trailing byte is not under it. A prefix delete
// at or above before_id is outside the range and supersedes nothing in it.
TEST_F(FileLogCompactionTest, PrefixDeleteSupersedesOlderEntriesOfTheKeysUnderIt) {
  for (const bool drop : {false, true}) {
    SCOPED_TRACE(drop ? "retention 0" : "long retention");
    TempDir temp;
    auto log = OpenLogIn(temp.File("log"));
    Recorder r(*log);
    r.Append({M::Set("p/1", "old"), M::Set("p/2", "old"), M::Set("q", "old")});  // 1
    r.Append({M::Delete("p/3")});                                                // 2
    r.Append({M::Set("p", "not under p/"), M::Set("p/1", "mid")});               // 3
    r.Append({M::ErasePrefix("p/")});                                            // 4
    r.Append({M::Set("p/2", "new"), M::ErasePrefix("q")});                       // 5
    r.Append({M::Set("last", "1")});                                             // 6

    // Below 4 only the set of p/1 at 3 supersedes: the prefix delete at 4 is not in the range.
    CompactionResult result = log->Compact(Options(4, drop ? 0s : kLongRetention));
    EXPECT_EQ(result.removed, drop ? 2u : 1u);  // The old p/1, and the expired delete of p/3.
    EXPECT_EQ(result.horizon, drop ? 2u : 0u);
    ExpectMachinesReachTheFullReplay(r.history(), *log);

    result = log->Compact(Options(0, drop ? 0s : kLongRetention));
    std::map<uint64_t, std::vector<Mutation>> expected = {
        {3, {M::Set("p", "not under p/")}},
        {4, {M::ErasePrefix("p/")}},
        {5, {M::Set("p/2", "new"), M::ErasePrefix("q")}},
        {6, {M::Set("last", "1")}}};
    if (drop) {
      expected.erase(4);
      expected[5] = {M::Set("p/2", "new")};
    }
    EXPECT_EQ(Entries(*log), expected);
    EXPECT_EQ(result.kept, drop ? 3u : 5u);
    EXPECT_EQ(result.horizon, drop ? 5u : 0u);
    ExpectMachinesReachTheFullReplay(r.history(), *log);
    EXPECT_EQ(Replay(ReadAll(*log)), (State{{"last", "1"}, {"p", "not under p/"}, {"p/2", "new"}}));
  }
}

// A prefix delete falls only to a newer prefix delete of a prefix of it (itself included), never
// to newer sets and deletes under it; and a prefix delete of "u/" and a delete of the key "u/"
// are two entries, neither superseding the other.
TEST_F(FileLogCompactionTest, PrefixDeleteFallsOnlyToANewerPrefixDeleteOfAPrefixOfIt) {
  for (const bool drop : {false, true}) {
    SCOPED_TRACE(drop ? "retention 0" : "long retention");
    TempDir temp;
    auto log = OpenLogIn(temp.File("log"));
    Recorder r(*log);
    r.Append({M::Set("s/a/1", "x"), M::Set("s/a", "key")});       // 1
    r.Append({M::ErasePrefix("s/a")});                            // 2
    r.Append({M::Set("s/a/2", "y"), M::Set("s/a", "again")});     // 3
    r.Append({M::ErasePrefix("t/x/y"), M::Set("t/x/y/1", "z")});  // 4
    r.Append({M::ErasePrefix("t/x")});                            // 5
    r.Append({M::ErasePrefix("t/x"), M::Set("t/x/z", "w")});      // 6
    r.Append({M::Set("u/1", "v")});                               // 7
    r.Append({M::ErasePrefix("u/")});                             // 8
    r.Append({M::Delete("u/")});                                  // 9
    r.Append({M::ErasePrefix("nothing/"), M::Set("last", "1")});  // 10
    const CompactionResult result = log->Compact(Options(0, drop ? 0s : kLongRetention));
    std::map<uint64_t, std::vector<Mutation>> expected = {
        {2, {M::ErasePrefix("s/a")}},
        {3, {M::Set("s/a/2", "y"), M::Set("s/a", "again")}},
        {6, {M::ErasePrefix("t/x"), M::Set("t/x/z", "w")}},
        {8, {M::ErasePrefix("u/")}},
        {9, {M::Delete("u/")}},
        {10, {M::ErasePrefix("nothing/"), M::Set("last", "1")}}};
    if (drop) {
      expected = {{3, {M::Set("s/a/2", "y"), M::Set("s/a", "again")}},
                  {6, {M::Set("t/x/z", "w")}},
                  {10, {M::Set("last", "1")}}};
    }
    EXPECT_EQ(Entries(*log), expected);
    EXPECT_EQ(result.kept, drop ? 4u : 9u);
    EXPECT_EQ(result.removed, drop ? 15u - 4u : 15u - 9u);
    EXPECT_EQ(result.horizon, drop ? 10u : 0u);
    ExpectMachinesReachTheFullReplay(r.history(), *log);
    EXPECT_EQ(Replay(ReadAll(*log)),
              (State{{"last", "1"}, {"s/a", "again"}, {"s/a/2", "y"}, {"t/x/z", "w"}}));
  }
}

// What a compaction leaves below its limit, as the log's entries by id and the counts it returns.
struct Outcome {
  std::map<uint64_t, std::vector<Mutation>> entries;
  uint64_t removed = 0;
  uint64_t kept = 0;
  uint64_t horizon = 0;
  friend bool operator==(const Outcome&, const Outcome&) = default;
};

void PrintTo(const Outcome& o, std::ostream* os) {
  *os << ::testing::PrintToString(o.entries) << ", removed " << o.removed << ", kept " << o.kept
      << ", horizon " << o.horizon;
}

Outcome OutcomeOf(const Expectation& e) {
  Outcome o{{}, e.removed, e.kept, e.horizon};
  for (const Update& u : e.below) o.entries[u.id] = u.mutations;
  return o;
}

// A prefix delete that nothing supersedes is a tombstone: kept within the retention, dropped
// after it with the horizon raised to its id. A delete superseded by a prefix delete goes with no
// horizon move of its own, expired or not. Compactions with ever shorter retentions (long, short,
// 0) each drop what has expired by theirs; a second log with the same history is compacted with
// the short retention alone, so that it drops expired tombstones and superseded ones together.
TEST_F(FileLogCompactionTest, PrefixDeleteTombstonesExpireWithTheRetention) {
  constexpr uint64_t kLimit = 8;  // Above every update: the compactions rewrite all history.
  auto log = OpenLog();
  TempDir temp;
  auto direct = OpenLogIn(temp.File("log"));
  Recorder r(*log);
  Recorder direct_r(*direct);
  auto append = [&](const std::vector<Mutation>& batch) {
    r.Append(batch);
    direct_r.Append(batch);
  };
  append({M::Set("o/1", "x")});                      // 1
  append({M::ErasePrefix("o/")});                    // 2
  append({M::Set("w/1", "x"), M::Set("w/2", "x")});  // 3
  append({M::Delete("w/1")});                        // 4
  append({M::ErasePrefix("w/2")});                   // 5
  // Longer than the short retention: 1 to 5 have expired when the short retention compactions
  // run, and 6 and 7 have not, unless a compaction reads its clock more than the short retention
  // after them (it must then drop those too, and the check below allows for it).
  std::this_thread::sleep_for(kShortRetentionPause);
  append({M::ErasePrefix("w/")});  // 6
  append({M::Delete("gone")});     // 7

  // Compacts a log with the short retention and checks that it leaves one of the outcomes that a
  // compaction clock read during the call allows, worked out from the recorded history (on what
  // the long retention left of it, if `after_long_retention`). The log stamped each batch within
  // the clock reads around its append, and those brackets follow one another, so all the
  // outcomes that such write times allow come from the earliest ones or from the latest.
  auto compact_with_short_retention = [&](ChangeLog& target, const Recorder& recorder,
                                          bool after_long_retention) {
    const int64_t t0 = io::NowMicros();
    const CompactionResult result = target.Compact(Options(0, kShortRetention));
    const int64_t t1 = io::NowMicros();
    std::vector<Outcome> possible;
    for (const std::vector<Update>& stamped :
         {recorder.history(), recorder.LatestStampedHistory()}) {
      const std::vector<Update> before =
          after_long_retention
              ? ExpectedCompaction(stamped, kLimit, 0, std::numeric_limits<int64_t>::min()).below
              : stamped;
      for (const Expectation& e : ExpectedCompactions(before, kLimit, 0, kShortRetention, t0, t1)) {
        if (std::ranges::find(possible, OutcomeOf(e)) == possible.end()) {
          possible.push_back(OutcomeOf(e));
        }
      }
    }
    const Outcome outcome{Entries(target), result.removed, result.kept, result.horizon};
    EXPECT_TRUE(std::ranges::find(possible, outcome) != possible.end())
        << "the short retention left " << ::testing::PrintToString(outcome) << ", but a compaction "
        << t1 - t0 << " us long, starting "
        << t0 - recorder.LatestStampedHistory().back().write_time_us
        << " us after the last append, may leave only one of " << ::testing::PrintToString(possible)
        << " (an expired tombstone that nothing supersedes goes and raises the horizon to its id; "
           "a superseded entry goes without moving it)";
    std::printf("the short retention left %s (%zu possible outcomes)\n",
                ::testing::PrintToString(outcome).c_str(), possible.size());
    ExpectMachinesReachTheFullReplay(recorder.history(), target);
    return outcome;
  };

  compact_with_short_retention(*direct, direct_r, false);

  CompactionResult result = log->Compact(Options(0, kLongRetention));
  EXPECT_EQ(Entries(*log), (std::map<uint64_t, std::vector<Mutation>>{{2, {M::ErasePrefix("o/")}},
                                                                      {6, {M::ErasePrefix("w/")}},
                                                                      {7, {M::Delete("gone")}}}));
  EXPECT_EQ(result.removed, 5u);
  EXPECT_EQ(result.horizon, 0u);
  ExpectMachinesReachTheFullReplay(r.history(), *log);

  const Outcome outcome = compact_with_short_retention(*log, r, true);

  result = log->Compact(Options(0, 0s));
  EXPECT_TRUE(Entries(*log).empty());
  EXPECT_EQ(result.removed, outcome.kept);
  EXPECT_EQ(result.horizon, 7u);
  ExpectMachinesReachTheFullReplay(r.history(), *log);
  EXPECT_EQ(log->HeadId(), 7u);
}

// Two writers race, each with its own log: one sets keys under "race/" (a few at a time, some
// under "race/1"), the other deletes "race/" or "race/1" (alone, or followed by a set under it in
// the same batch), while a third thread compacts now and then. Afterwards, compacted once more
// with each retention, the log replayed by a new reader equals the two writers' batches replayed
// in id order.
TEST_F(FileLogCompactionTest, WritersRacingAPrefixDeleteAndCompactions) {
  const int kBatches = kSanitized ? 500 : 2000;
  OpenLog(4096);
  std::vector<Update> setter_history;
  std::vector<Update> eraser_history;
  std::atomic<int> writing{2};
  std::thread setter([&] {
    auto log = OpenLog(4096);
    std::mt19937_64 rng(1);
    for (int n = 0; n < kBatches; ++n) {
      std::vector<Mutation> batch;
      for (uint64_t i = 0, count = 1 + rng() % 3; i < count; ++i) {
        batch.push_back(M::Set("race/" + std::to_string(rng() % 30), "s" + std::to_string(n)));
      }
      const uint64_t id = log->Append(batch);
      setter_history.push_back({id, 0, std::move(batch)});
    }
    --writing;
  });
  std::thread eraser([&] {
    auto log = OpenLog(4096);
    std::mt19937_64 rng(2);
    for (int n = 0; n < kBatches / 4; ++n) {
      const std::string prefix = rng() % 2 == 0 ? "race/" : "race/1";
      std::vector<Mutation> batch = {M::ErasePrefix(prefix)};
      if (rng() % 2 == 0) batch.push_back(M::Set(prefix + "x", "e" + std::to_string(n)));
      const uint64_t id = log->Append(batch);
      eraser_history.push_back({id, 0, std::move(batch)});
    }
    --writing;
  });
  int compactions = 0;
  std::thread compactor([&] {
    std::mt19937_64 rng(3);
    for (; compactions < 1000 && writing > 0; ++compactions) {
      auto log = OpenLog(4096);
      const uint64_t head = log->HeadId();
      log->Compact(Options(rng() % 2 == 0 ? 0 : 1 + rng() % (head + 1),
                           rng() % 2 == 0 ? 0s : kLongRetention));
    }
  });
  setter.join();
  eraser.join();
  compactor.join();

  std::map<uint64_t, Update> by_id;
  for (const std::vector<Update>* h : {&setter_history, &eraser_history}) {
    for (const Update& u : *h) ASSERT_TRUE(by_id.emplace(u.id, u).second) << "id " << u.id;
  }
  std::vector<Update> history;
  for (auto& [id, u] : by_id) history.push_back(std::move(u));
  const State truth = Replay(history);
  for (const std::chrono::seconds retention : {kLongRetention, 0s}) {
    SCOPED_TRACE("retention " + std::to_string(retention.count()) + " s");
    const CompactionResult r = OpenLog(4096)->Compact(Options(0, retention));
    EXPECT_EQ(Replay(ReadAll(*OpenLog(4096))), truth);
    if (retention == 0s) {
      EXPECT_EQ(r.kept, truth.size());
    } else {
      EXPECT_LE(r.kept, truth.size() + 2) << "one prefix delete of each prefix at most remains";
    }
  }
  ExpectMachinesReachTheFullReplay(history, *OpenLog(4096));
  std::printf("%d compactions ran during the race; %zu keys remain\n", compactions, truth.size());
  EXPECT_GE(compactions, 1);
}

// A reader in the middle of a segment that compaction replaces reads on without skipping or
// repeating. When the compaction raised the horizon above its position, a read never joins what
// it read before the compaction to compacted history: it returns the former alone.
TEST_F(FileLogCompactionTest, ReaderInsideAReplacedSegment) {
  for (const bool drop : {false, true}) {
    SCOPED_TRACE(drop ? "retention 0" : "long retention");
    TempDir temp;
    log::FileLogOptions options;
    options.create_if_missing = true;
    options.segment_bytes = 16 << 10;
    options.fsync = FsyncPolicy::kNever;
    auto open = [&] { return log::FileLog::Open(temp.File("log"), options); };
    auto log = open();
    std::mt19937_64 rng(drop ? 1 : 2);
    std::map<uint64_t, Update> history;
    for (int i = 0; i < 3000; ++i) {
      std::vector<Mutation> batch = RandomBatch(rng, 60, i);
      const uint64_t id = log->Append(batch);
      history[id] = Update{id, 0, std::move(batch)};
    }
    auto reader = open();
    State state;
    uint64_t x = 0;
    for (int i = 0; i < 3; ++i) {
      for (const Update& u : reader->ReadAfter(x, 10)) {
        Apply(state, u);
        x = u.id;
      }
    }
    const CompactionResult r = open()->Compact(Options(0, drop ? 0s : kLongRetention));
    ASSERT_GT(r.removed, 0u);
    if (drop) {
      ASSERT_GT(r.horizon, x);
      const std::vector<Update> page = reader->ReadAfter(x, 100'000);
      ASSERT_FALSE(page.empty());
      uint64_t expected = x;
      for (const Update& u : page) {
        const auto it = history.upper_bound(expected);
        ASSERT_TRUE(it != history.end());
        ASSERT_EQ(u.id, it->first) << "the read skipped an update";
        ASSERT_EQ(u.mutations, it->second.mutations) << "a compacted batch joined older ones";
        expected = u.id;
      }
      EXPECT_LT(expected, reader->Horizon());
    } else {
      EXPECT_EQ(r.horizon, 0u);
      for (const Update& u : ReadAll(*reader, x)) {
        ASSERT_GT(u.id, x);
        ASSERT_TRUE(IsSubsequence(u.mutations, history.at(u.id).mutations));
        Apply(state, u);
        x = u.id;
      }
      State truth;
      for (const auto& [id, u] : history) Apply(truth, u);
      EXPECT_EQ(state, truth);
      EXPECT_EQ(x, history.rbegin()->first);
    }
  }
}

// The batches of appender p: a unique tag key, which no compaction removes, and mutations of
// shared keys that supersede each other.
std::vector<Mutation> TaggedBatch(int p, int n) {
  std::mt19937_64 rng(static_cast<uint64_t>(p) * 1'000'003 + n);
  std::vector<Mutation> batch = RandomBatch(rng, 300, n);
  batch.push_back(Mutation::Set("tag/" + std::to_string(p) + "/" + std::to_string(n), "t"));
  return batch;
}

// Two appender processes append and a tailer process reads from the start while compactions
// run: the tailer sees every batch exactly once, in id order, whole or with superseded
// mutations left out, and ends in the state of the full replay.
TEST_F(FileLogCompactionTest, AppendersAndTailerRunThroughCompactions) {
  const int kBatches = kSanitized ? 1500 : 6000;
  constexpr int kAppenders = 2;
  OpenLog();
  std::vector<ChildProcess> appenders;
  for (int p = 0; p < kAppenders; ++p) {
    appenders.emplace_back([&, p] {
      auto log = OpenLog();
      for (int n = 0; n < kBatches; ++n) {
        log->Append(TaggedBatch(p, n));
        if (n % 64 == 0) std::this_thread::sleep_for(1ms);
      }
      return 0;
    });
  }
  ChildProcess tailer([&] {
    auto log = OpenLog();
    std::map<uint64_t, std::pair<int, int>> seen;  // id -> (appender, batch)
    std::set<std::pair<int, int>> batches;
    State state;
    uint64_t last = 0;
    const auto deadline = std::chrono::steady_clock::now() + 100s;
    while (seen.size() < kAppenders * kBatches && std::chrono::steady_clock::now() < deadline) {
      const std::vector<Update> page = log->ReadAfter(last, 100);
      if (page.empty()) std::this_thread::sleep_for(1ms);
      for (const Update& u : page) {
        int p = -1;
        int n = -1;
        for (const Mutation& m : u.mutations) {
          if (m.key.starts_with("tag/")) std::sscanf(m.key.c_str(), "tag/%d/%d", &p, &n);
        }
        if (u.id <= last || p < 0 || !batches.insert({p, n}).second ||
            !IsSubsequence(u.mutations, TaggedBatch(p, n))) {
          std::fprintf(stderr,
                       "tailer: update %llu after %llu is out of order, repeated or not "
                       "a batch that was appended\n",
                       static_cast<unsigned long long>(u.id),
                       static_cast<unsigned long long>(last));
          return 1;
        }
        seen[u.id] = {p, n};
        Apply(state, u);
        last = u.id;
      }
    }
    State truth;
    for (const auto& [id, pn] : seen) Apply(truth, Update{id, 0, TaggedBatch(pn.first, pn.second)});
    if (seen.size() != kAppenders * kBatches || state != truth || log->Horizon() != 0) {
      std::fprintf(stderr, "tailer: saw %zu of %d batches; state %s the full replay\n", seen.size(),
                   kAppenders * kBatches, state == truth ? "equals" : "differs from");
      return 2;
    }
    return 0;
  });

  std::mt19937_64 rng(5);
  int compactions = 0;
  uint64_t removed = 0;
  auto running = [](ChildProcess& c) { return !c.WaitFor(0ms).has_value(); };
  const auto deadline = std::chrono::steady_clock::now() + 110s;
  while ((running(appenders[0]) || running(appenders[1]) || running(tailer)) &&
         std::chrono::steady_clock::now() < deadline) {
    auto compactor = OpenLog();
    const uint64_t head = compactor->HeadId();
    const uint64_t before_id = rng() % 3 == 0 ? 0 : 1 + rng() % (head + 1);
    removed += compactor->Compact(Options(before_id, kLongRetention)).removed;
    ++compactions;
  }
  for (ChildProcess& a : appenders) {
    const int status = a.Wait();
    EXPECT_TRUE(ChildProcess::Succeeded(status)) << "appender " << ChildProcess::Describe(status);
  }
  const int status = tailer.Wait();
  EXPECT_TRUE(ChildProcess::Succeeded(status)) << "tailer " << ChildProcess::Describe(status);
  std::printf("%d compactions ran during the appends and removed %llu mutations\n", compactions,
              static_cast<unsigned long long>(removed));
  EXPECT_GE(compactions, 3);
  EXPECT_GT(removed, 0u);
}

// A compactor killed with SIGKILL at random moments leaves a log that reads completely (its
// replay equals the full history's) and that the next compaction compacts.
TEST_F(FileLogCompactionTest, CompactorKilledAtRandomMoments) {
  constexpr int kIterations = 60;
  const int kAppends = kSanitized ? 200 : 500;
  constexpr uint64_t kSegmentBytes = 16 << 10;
  auto log = OpenLog(kSegmentBytes);
  std::mt19937_64 rng(99);
  State truth;
  uint64_t head = 0;
  uint64_t horizon = 0;
  int killed = 0;
  // How long a compaction takes, learnt as it goes: kills are spread over up to 1.5 times it.
  std::chrono::microseconds duration = 20ms;
  for (int i = 0; i < kIterations; ++i) {
    for (int n = 0; n < kAppends; ++n) {
      const std::vector<Mutation> batch = RandomBatch(rng, 500, i * kAppends + n);
      head = log->Append(batch);
      Apply(truth, Update{head, 0, batch});
    }
    const uint64_t before_id = rng() % 2 == 0 ? 0 : 1 + rng() % head;
    const auto retention = rng() % 2 == 0 ? 0s : kLongRetention;
    const auto start = std::chrono::steady_clock::now();
    ChildProcess compactor([&] {
      OpenLog(kSegmentBytes)->Compact(Options(before_id, retention));
      return 0;
    });
    std::this_thread::sleep_for(std::chrono::microseconds(rng() % (1 + 3 * duration.count() / 2)));
    const std::optional<int> done = compactor.WaitFor(0ms);
    if (done) {
      ASSERT_TRUE(ChildProcess::Succeeded(*done)) << ChildProcess::Describe(*done);
      duration = std::chrono::duration_cast<std::chrono::microseconds>(
          std::chrono::steady_clock::now() - start);
    } else {
      compactor.Signal(SIGKILL);
      compactor.Wait();
      ++killed;
      duration = duration * 11 / 10;
    }
    auto reader = OpenLog(kSegmentBytes);
    ASSERT_EQ(Replay(ReadAll(*reader)), truth) << "iteration " << i;
    ASSERT_EQ(reader->HeadId(), head);
    ASSERT_GE(reader->Horizon(), horizon);
    horizon = reader->Horizon();
  }
  OpenLog(kSegmentBytes)->Compact(Options(0, kLongRetention));
  ExpectNoStraySegments();
  EXPECT_EQ(Replay(ReadAll(*OpenLog(kSegmentBytes))), truth);
  std::printf("%d of %d compactors were killed; a compaction took about %lld us\n", killed,
              kIterations, static_cast<long long>(duration.count()));
  // The kills must land inside compactions often enough to mean something; how often depends
  // on timing (a third of the time here, once 14 of 60 under ASan on a loaded machine).
  EXPECT_GE(killed, kIterations / 8);
  EXPECT_LT(killed, kIterations);
}

// 1M mutations over 10k keys compact to 10k entries.
TEST_F(FileLogCompactionTest, MillionMutationsOverTenThousandKeysShrink) {
  const uint64_t kMutations = kSanitized ? 200'000 : 1'000'000;
  const uint64_t kKeys = kSanitized ? 2'000 : 10'000;
  constexpr uint64_t kBatch = 100;
  auto log = OpenLog(uint64_t{64} << 20);
  std::mt19937_64 rng(3);
  State truth;
  for (uint64_t i = 0; i < kMutations; i += kBatch) {
    std::vector<Mutation> batch;
    for (uint64_t j = i; j < i + kBatch; ++j) {
      // Every key once, then random ones.
      const uint64_t key = j < kKeys ? j : rng() % kKeys;
      batch.push_back(Mutation::Set("user:" + std::to_string(key) + ":perm",
                                    "value-" + std::to_string(rng() % 1'000'000'000)));
      truth[batch.back().key] = batch.back().value;
    }
    log->Append(batch);
  }
  const auto start = std::chrono::steady_clock::now();
  const CompactionResult r = OpenLog()->Compact(Options(0, kLongRetention));
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf(
      "%llu mutations over %llu keys: kept %llu, removed %llu; %llu bytes before, %llu after "
      "(%.1fx smaller); %.2f s, %.0f mutations/s\n",
      static_cast<unsigned long long>(kMutations), static_cast<unsigned long long>(kKeys),
      static_cast<unsigned long long>(r.kept), static_cast<unsigned long long>(r.removed),
      static_cast<unsigned long long>(r.bytes_before),
      static_cast<unsigned long long>(r.bytes_after),
      static_cast<double>(r.bytes_before) / static_cast<double>(r.bytes_after), seconds,
      static_cast<double>(kMutations) / seconds);
  EXPECT_EQ(r.kept, kKeys);
  EXPECT_EQ(r.removed, kMutations - kKeys);
  EXPECT_LT(r.bytes_after * 50, r.bytes_before);
  const std::vector<Update> compacted = ReadAll(*OpenLog());
  uint64_t entries = 0;
  for (const Update& u : compacted) entries += u.mutations.size();
  EXPECT_EQ(entries, kKeys);
  EXPECT_EQ(Replay(compacted), truth);
  ExpectNoStraySegments();
}

// The head id survives even when the newest batch is dropped (an expired tombstone), and the
// horizon never moves down.
TEST_F(FileLogCompactionTest, HeadIdAndHorizonNeverDecrease) {
  auto log = OpenLog();
  EXPECT_EQ(log->Compact(Options(0, 0s)).horizon, 0u);
  log->Append(std::vector<Mutation>{Mutation::Set("a", "1")});
  log->Append(std::vector<Mutation>{Mutation::Set("b", "2")});
  const uint64_t d = log->Append(std::vector<Mutation>{Mutation::Delete("a")});
  CompactionResult r = log->Compact(Options(0, 0s));
  EXPECT_EQ(r.horizon, d);
  EXPECT_EQ(r.removed, 2u);
  EXPECT_EQ(r.kept, 1u);
  EXPECT_EQ(log->HeadId(), d);
  EXPECT_EQ(OpenLog()->HeadId(), d);
  EXPECT_TRUE(OpenLog()->ReadAfter(d, 10).empty());
  EXPECT_EQ(OpenLog()->Append(std::vector<Mutation>{Mutation::Set("c", "3")}), d + 1);
  EXPECT_EQ(log->HeadId(), d + 1);

  r = OpenLog()->Compact(Options(0, kLongRetention));
  EXPECT_EQ(r.horizon, d);
  r = OpenLog()->Compact(Options(2, 0s));
  EXPECT_EQ(r.horizon, d);
  EXPECT_EQ(log->Horizon(), d);
  EXPECT_EQ(Replay(ReadAll(*log)), (State{{"b", "2"}, {"c", "3"}}));
  ExpectNoStraySegments();
}

// Two compactions started together run one after the other.
TEST_F(FileLogCompactionTest, TwoCompactorsRunOneAfterTheOther) {
  auto log = OpenLog(4096);
  for (int i = 0; i < 2000; ++i) {
    log->Append(std::vector<Mutation>{Mutation::Set("k" + std::to_string(i % 100), "v")});
  }
  std::mutex mu;
  std::vector<std::string> events;
  auto compact = [&](const std::string& name) {
    CompactionOptions options;
    options.progress = [&](uint64_t done, uint64_t total) {
      {
        std::lock_guard<std::mutex> lock(mu);
        events.push_back(name + (done == 0 ? " starts" : done == total ? " ends" : " works"));
      }
      // Keeps the first compaction running while the second one tries to start.
      if (done == 0) std::this_thread::sleep_for(200ms);
    };
    OpenLog(4096)->Compact(options);
  };
  std::thread a(compact, "a");
  std::thread b(compact, "b");
  a.join();
  b.join();
  std::vector<std::string> order;
  for (const std::string& e : events) {
    if (!e.ends_with(" works")) order.push_back(e);
  }
  ASSERT_EQ(order.size(), 4u);
  EXPECT_EQ(order[0].substr(0, 1), order[1].substr(0, 1));
  EXPECT_EQ(order[1].substr(2), "ends");
  EXPECT_EQ(order[2].substr(2), "starts");
  ExpectNoStraySegments();
}

}  // namespace
}  // namespace testing
}  // namespace whycache
