// Prefix deletes through the whole stack, for every log backend: racing with sets from other
// writer processes while machines apply, across snapshots and across compaction. The oracle is
// the history the writers kept themselves (each batch with the id its append returned),
// replayed in id order: never the log or a state the system wrote.
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <sstream>
#include <string>
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

using std::chrono::milliseconds;

// A history line: id, op and key (no spaces or newlines in this test's keys), value.
void Record(std::ofstream& out, uint64_t id, const std::vector<Mutation>& batch) {
  for (const Mutation& m : batch) {
    out << id << ' ' << static_cast<int>(m.op) << ' ' << m.key << ' ' << m.value << '\n';
  }
  out.flush();
}

// The batches of every history file, by id.
std::map<uint64_t, Update> ReadHistory(const std::vector<std::string>& paths) {
  std::map<uint64_t, Update> history;
  for (const std::string& path : paths) {
    std::ifstream in(path);
    std::string line;
    while (std::getline(in, line)) {
      std::istringstream fields(line);
      uint64_t id = 0;
      int op = 0;
      Mutation m;
      fields >> id >> op >> m.key;
      fields.get();
      std::getline(fields, m.value);
      m.op = static_cast<Mutation::Op>(op);
      Update& u = history[id];
      u.id = id;
      u.mutations.push_back(std::move(m));
    }
  }
  return history;
}

// A digest of a whole state, in key order.
uint64_t Digest(const Model& state) {
  uint64_t h = 1469598103934665603ULL;
  auto mix = [&h](std::string_view bytes) {
    for (unsigned char c : bytes) h = (h ^ c) * 1099511628211ULL;
    h = (h ^ 0xff) * 1099511628211ULL;
  };
  for (const auto& [k, v] : state) {
    mix(k);
    mix(v);
  }
  return h;
}

class PrefixDeleteTest : public ::testing::TestWithParam<ChangeLogBackend> {
 protected:
  void SetUp() override { fresh_ = GetParam().create(); }

  CacheOptions Machine(const std::string& name) {
    CacheOptions options;
    options.state_path = dir_.File(name + ".state");
    options.log_uri = fresh_->uri();
    options.poll_interval = milliseconds(1);
    return options;
  }

  TempDir dir_;
  std::unique_ptr<FreshLog> fresh_;
};

std::string SessionKey(std::mt19937_64& rng) {
  return "sess:" + std::to_string(rng() % 8) + ":" + std::to_string(rng() % 50);
}

// Two writers set keys under "sess:N:" and elsewhere, a third deletes the sessions (alone, or
// in a batch that then sets new keys under the prefix), while a machine applies and records a
// digest of every state it reads. Every recorded state must be the history replayed to its
// applied id (so each batch applied whole, prefix delete and sets together), and machines that
// apply incrementally or from scratch end on the history replayed to the head.
TEST_P(PrefixDeleteTest, RacesWithSetsFromOtherWriters) {
  constexpr int kBatchesPerWriter = 200;
  const std::string stop_file = dir_.File("stop");
  // Every session starts with keys, so that the first delete of each finds a subtree whatever
  // order the writers' batches land in.
  std::vector<std::string> histories = {dir_.File("history.seed")};
  {
    std::vector<Mutation> seed;
    for (int s = 0; s < 8; ++s) {
      for (int k = 0; k < 50; ++k) {
        seed.push_back(
            Mutation::Set("sess:" + std::to_string(s) + ":" + std::to_string(k), "seed"));
      }
    }
    std::ofstream history(histories[0]);
    Record(history, Cache::Open(Machine("seed"))->Write(seed), seed);
  }
  std::vector<ChildProcess> writers;
  for (int w = 0; w < 3; ++w) {
    histories.push_back(dir_.File("history." + std::to_string(w)));
    writers.emplace_back([&, w, path = histories.back()] {
      auto cache = Cache::Open(Machine("writer" + std::to_string(w)));
      std::ofstream history(path);
      std::mt19937_64 rng(7000 + w);
      for (int i = 0; i < kBatchesPerWriter; ++i) {
        std::vector<Mutation> batch;
        if (w == 2) {
          const std::string session = "sess:" + std::to_string(rng() % 8) + ":";
          batch.push_back(Mutation::ErasePrefix(session));
          if (rng() % 2 == 0) {
            batch.push_back(Mutation::Set(session + "login", "w2-" + std::to_string(i)));
          }
        } else {
          for (int n = 1 + rng() % 6; n > 0; --n) {
            const std::string key =
                rng() % 4 == 0 ? "keep:" + std::to_string(rng() % 30) : SessionKey(rng);
            batch.push_back(rng() % 8 == 0 ? Mutation::Delete(key)
                                           : Mutation::Set(key, "w" + std::to_string(w) + "-" +
                                                                    std::to_string(i)));
          }
        }
        Record(history, cache->Write(batch), batch);
      }
      return 0;
    });
  }
  const std::string states_path = dir_.File("states");
  ChildProcess machine([&] {
    auto cache = Cache::Open(Machine("live"));
    std::ofstream states(states_path);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
    for (bool last = false; !last && std::chrono::steady_clock::now() < deadline;) {
      last = std::filesystem::exists(stop_file);
      cache->UpdateNow();
      Model state;
      ReadTransaction txn = cache->BeginRead();
      txn.Scan("", [&](std::string_view k, std::string_view v) {
        state.emplace(k, v);
        return true;
      });
      states << txn.applied_id() << ' ' << Digest(state) << '\n';
    }
    return 0;
  });
  for (ChildProcess& w : writers) {
    const int status = w.Wait();
    ASSERT_TRUE(ChildProcess::Succeeded(status)) << "writer " << ChildProcess::Describe(status);
  }
  std::ofstream(stop_file).put('x');
  const int status = machine.Wait();
  ASSERT_TRUE(ChildProcess::Succeeded(status)) << "machine " << ChildProcess::Describe(status);

  const std::map<uint64_t, Update> history = ReadHistory(histories);
  ASSERT_EQ(history.size(), 3u * kBatchesPerWriter + 1);
  std::map<uint64_t, uint64_t> digest_at = {{0, Digest({})}};
  Model model;
  int prefix_deletes_that_removed_keys = 0;
  for (const auto& [id, update] : history) {
    const size_t before = model.size();
    ApplyToModel(update, &model);
    if (update.mutations[0].op == Mutation::Op::kErasePrefix && model.size() + 1 < before) {
      ++prefix_deletes_that_removed_keys;
    }
    digest_at[id] = Digest(model);
  }
  EXPECT_GE(prefix_deletes_that_removed_keys, 8) << "the prefix deletes found nothing to delete";

  std::ifstream states(states_path);
  int states_checked = 0;
  for (uint64_t applied, digest; states >> applied >> digest; ++states_checked) {
    ASSERT_TRUE(digest_at.contains(applied)) << "a state at update " << applied;
    ASSERT_EQ(digest, digest_at[applied])
        << "the state at update " << applied << " is not the history replayed to it";
  }
  EXPECT_GT(states_checked, 0);
  const uint64_t head = history.rbegin()->first;
  for (const char* name : {"live", "fresh"}) {
    auto cache = Cache::Open(Machine(name));
    ASSERT_TRUE(cache->WaitFor(head, milliseconds(60'000))) << name;
    EXPECT_EQ(FirstDifference(model, ScanAll(*cache)), "") << "machine " << name;
    cache->Verify();
  }
}

// A snapshot made before a prefix delete catches up across it; one made after holds the state
// without the subtree; and after compaction drops the prefix delete itself (retention 0), a
// machine left before it is below the horizon and resyncs to the same state, and the older
// snapshot is refused.
TEST_P(PrefixDeleteTest, SnapshotsAndCompactionAcrossAPrefixDelete) {
  auto a = Cache::Open(Machine("a"));
  Model model;
  std::vector<Mutation> sets;
  for (int s = 0; s < 4; ++s) {
    for (int k = 0; k < 500; ++k) {
      sets.push_back(Mutation::Set("sess:" + std::to_string(s) + ":" + std::to_string(k),
                                   std::string(1 + k % 50, static_cast<char>('a' + s))));
    }
  }
  sets.push_back(Mutation::Set("sess:", "the key equal to the prefix"));
  sets.push_back(Mutation::Set("sess", "not under the prefix"));
  uint64_t id = a->Write(sets);
  ApplyToModel(Update{.id = id, .mutations = sets}, &model);
  ASSERT_TRUE(a->WaitFor(id, milliseconds(30'000)));
  const SnapshotInfo before = a->CreateSnapshot(dir_.File("before.snapshot"));
  EXPECT_EQ(before.key_count, model.size());
  // A machine that stays at this update until after the compaction below.
  auto d = Cache::Open(Machine("d"));
  ASSERT_TRUE(d->WaitFor(id, milliseconds(30'000)));

  const std::vector<Mutation> erase = {Mutation::ErasePrefix("sess:1:")};
  id = a->Write(erase);
  ApplyToModel(Update{.id = id, .mutations = erase}, &model);
  const std::vector<Mutation> replace = {Mutation::Set("sess:2:0", "set before, undone"),
                                         Mutation::ErasePrefix("sess:2:"),
                                         Mutation::Set("sess:2:new", "set after, kept")};
  id = a->Write(replace);
  ApplyToModel(Update{.id = id, .mutations = replace}, &model);
  ASSERT_EQ(model.size(), 2u * 500 + 3);
  ASSERT_TRUE(a->WaitFor(id, milliseconds(30'000)));
  EXPECT_EQ(FirstDifference(model, ScanAll(*a)), "");
  const SnapshotInfo after = a->CreateSnapshot(dir_.File("after.snapshot"));
  EXPECT_EQ(after.key_count, model.size());

  auto b = Cache::Open(Machine("b"));
  EXPECT_EQ(b->RestoreSnapshot(dir_.File("before.snapshot")).applied_id, before.applied_id);
  ASSERT_TRUE(b->WaitFor(id, milliseconds(30'000)));
  EXPECT_EQ(FirstDifference(model, ScanAll(*b)), "") << "caught up from before the prefix delete";
  b->Verify();
  auto c = Cache::Open(Machine("c"));
  c->RestoreSnapshot(dir_.File("after.snapshot"));
  EXPECT_EQ(c->AppliedId(), id);
  EXPECT_EQ(FirstDifference(model, ScanAll(*c)), "") << "restored after the prefix delete";

  CompactionOptions drop_all;
  drop_all.tombstone_retention = std::chrono::seconds(0);
  const CompactionResult compacted = a->Compact(drop_all);
  EXPECT_GE(compacted.horizon, id) << "the prefix delete, expired, was not dropped";
  EXPECT_THROW(Cache::Open(Machine("f"))->RestoreSnapshot(dir_.File("before.snapshot")), Error)
      << "a snapshot from below the horizon";
  ASSERT_TRUE(d->WaitFor(id, milliseconds(60'000)));
  EXPECT_EQ(FirstDifference(model, ScanAll(*d)), "") << "resynced from below the horizon";
  EXPECT_EQ(d->Stats().resyncs, 1u);
  auto e = Cache::Open(Machine("e"));
  ASSERT_TRUE(e->WaitFor(id, milliseconds(60'000)));
  EXPECT_EQ(FirstDifference(model, ScanAll(*e)), "") << "built from the compacted log";
  e->Verify();
}

INSTANTIATE_TEST_SUITE_P(Backends, PrefixDeleteTest,
                         ::testing::Values(FileLogBackend(), MysqlLogBackend()), BackendName);

}  // namespace
}  // namespace whycache::testing
