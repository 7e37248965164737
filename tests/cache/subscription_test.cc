// Cache::Subscribe, for every log backend: processes of one machine learn what changed under
// their prefixes whichever of them applied it; a replaced state, a journal that moved past a
// process and an applier killed between its commit and its journal record each make
// subscribers reload; unsubscribing stops the calls. Expected keys come from the batches the
// test wrote itself.
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <fstream>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "lib/cache/change_journal.h"
#include "lib/io/crash_point.h"
#include "tests/log/log_backends.h"
#include "tests/support/child_process.h"
#include "tests/support/temp_dir.h"
#include "whycache/cache.h"
#include "whycache/error.h"

namespace whycache::testing {
namespace {

using std::chrono::milliseconds;

// What a subscription was told, summed over its notices.
struct Heard {
  std::set<std::string> keys;
  std::vector<std::string> erased_prefixes;
  int notices = 0;
  int reloads = 0;
  uint64_t last_id = 0;
  uint64_t first_after_id = UINT64_MAX;
};

std::function<void(const ChangeNotice&)> Listen(Heard* heard, Cache* cache) {
  return [heard, cache](const ChangeNotice& n) {
    ++heard->notices;
    heard->reloads += n.reload;
    heard->keys.insert(n.keys.begin(), n.keys.end());
    heard->erased_prefixes.insert(heard->erased_prefixes.end(), n.erased_prefixes.begin(),
                                  n.erased_prefixes.end());
    heard->first_after_id = std::min(heard->first_after_id, n.after_id);
    // A restored snapshot may take the state back; changes only go forward.
    if (!n.reload) {
      EXPECT_GT(n.last_id, heard->last_id) << "notices out of order";
    }
    heard->last_id = n.last_id;
    // The notice comes after the state shows what it lists.
    EXPECT_GE(cache->AppliedId(), n.last_id);
  };
}

class SubscriptionTest : public ::testing::TestWithParam<ChangeLogBackend> {
 protected:
  void SetUp() override { fresh_ = GetParam().create(); }

  CacheOptions Machine(bool with_log = true) {
    CacheOptions options;
    options.state_path = dir_.File("machine.state");
    if (with_log) options.log_uri = fresh_->uri();
    options.poll_interval = milliseconds(1);
    return options;
  }

  TempDir dir_;
  std::unique_ptr<FreshLog> fresh_;
};

// Keys under "perm:" that the batches set or deleted, and their prefix deletes reaching under it.
struct Expected {
  std::set<std::string> keys;
  std::vector<std::string> erased_prefixes;
};

std::vector<std::vector<Mutation>> Batches() {
  std::vector<std::vector<Mutation>> batches;
  for (int i = 0; i < 60; ++i) {
    std::vector<Mutation> b = {Mutation::Set("perm:" + std::to_string(i % 17), "v"),
                               Mutation::Set("flag:" + std::to_string(i), "f")};
    if (i % 5 == 0) b.push_back(Mutation::Delete("perm:" + std::to_string(i % 7) + ":x"));
    if (i % 20 == 10) b.push_back(Mutation::ErasePrefix("perm:1"));
    if (i % 30 == 29) b.push_back(Mutation::ErasePrefix("pe"));
    batches.push_back(std::move(b));
  }
  return batches;
}

Expected ExpectedUnder(const std::string& prefix,
                       const std::vector<std::vector<Mutation>>& batches) {
  Expected e;
  for (const auto& b : batches) {
    for (const Mutation& m : b) {
      if (m.op == Mutation::Op::kErasePrefix) {
        if (m.key.starts_with(prefix) || prefix.starts_with(m.key)) {
          e.erased_prefixes.push_back(m.key);
        }
      } else if (m.key.starts_with(prefix)) {
        e.keys.insert(m.key);
      }
    }
  }
  return e;
}

// Two processes of one machine subscribe; the parent applies everything, the child has no log
// (it cannot apply) and still hears every change, from the machine's journal.
TEST_P(SubscriptionTest, EveryProcessOfTheMachineHearsWhatAnyOfThemApplied) {
  auto cache = Cache::Open(Machine());
  // A state that is not empty: the first fill of an empty one says reload.
  cache->Set("init", "1");
  cache->UpdateNow();
  const std::string heard_path = dir_.File("heard");
  int ready[2], go[2];
  ASSERT_EQ(pipe(ready), 0);
  ASSERT_EQ(pipe(go), 0);
  const std::vector<std::vector<Mutation>> batches = Batches();
  ChildProcess child([&] {
    close(ready[0]);
    close(go[1]);
    auto reader = Cache::Open(Machine(/*with_log=*/false));
    Heard perm, flag;
    reader->Subscribe("perm:", Listen(&perm, reader.get()));
    reader->Subscribe("flag:1", Listen(&flag, reader.get()));
    if (write(ready[1], "r", 1) != 1) return 2;
    char c;
    if (read(go[0], &c, 1) != 1) return 2;  // The parent has applied everything.
    reader->Update();
    std::ofstream out(heard_path);
    out << perm.notices << ' ' << perm.reloads << ' ' << perm.last_id << ' ' << perm.first_after_id
        << ' ' << flag.keys.size() << '\n';
    for (const std::string& k : perm.keys) out << k << '\n';
    out << "--\n";
    for (const std::string& p : perm.erased_prefixes) out << p << '\n';
    return 0;
  });
  close(ready[1]);
  close(go[0]);
  char c;
  ASSERT_EQ(read(ready[0], &c, 1), 1) << "the child did not subscribe";
  close(ready[0]);
  Heard perm;
  cache->Subscribe("perm:", Listen(&perm, cache.get()));
  const uint64_t start = cache->AppliedId();
  uint64_t head = 0;
  for (size_t i = 0; i < batches.size(); ++i) {
    head = cache->Write(batches[i]);
    // Applied in several commits, so that notices span several journal records.
    if (i % 7 == 0) cache->UpdateNow();
  }
  cache->UpdateNow();
  ASSERT_EQ(write(go[1], "g", 1), 1);
  close(go[1]);
  const int status = child.Wait();
  ASSERT_TRUE(ChildProcess::Succeeded(status)) << ChildProcess::Describe(status);

  const Expected expected = ExpectedUnder("perm:", batches);
  ASSERT_FALSE(expected.erased_prefixes.empty());
  EXPECT_EQ(perm.reloads, 0);
  EXPECT_EQ(perm.keys, expected.keys) << "the applying process";
  EXPECT_EQ(perm.erased_prefixes, expected.erased_prefixes);
  EXPECT_EQ(perm.last_id, head);
  EXPECT_EQ(perm.first_after_id, start);

  std::ifstream in(heard_path);
  int notices = 0, reloads = 0;
  uint64_t last_id = 0, first_after_id = 0;
  size_t flag_keys = 0;
  in >> notices >> reloads >> last_id >> first_after_id >> flag_keys;
  std::set<std::string> keys;
  std::vector<std::string> erased;
  std::string line;
  std::getline(in, line);
  while (std::getline(in, line) && line != "--") keys.insert(line);
  while (std::getline(in, line)) erased.push_back(line);
  EXPECT_GT(notices, 0);
  EXPECT_EQ(reloads, 0);
  EXPECT_EQ(keys, expected.keys) << "the process that applied nothing";
  EXPECT_EQ(erased, expected.erased_prefixes);
  EXPECT_EQ(last_id, head);
  EXPECT_EQ(first_after_id, start);
  EXPECT_EQ(flag_keys, ExpectedUnder("flag:1", batches).keys.size());
}

TEST_P(SubscriptionTest, UnsubscribedCallbacksAreNotCalledAndNoChangeMeansNoNotice) {
  auto cache = Cache::Open(Machine());
  cache->Set("init", "1");
  cache->UpdateNow();
  Heard kept, dropped, quiet, self_removing;
  cache->Subscribe("a:", Listen(&kept, cache.get()));
  const uint64_t gone = cache->Subscribe("a:", Listen(&dropped, cache.get()));
  cache->Subscribe("zzz", Listen(&quiet, cache.get()));
  uint64_t self = 0;
  self = cache->Subscribe("a:", [&](const ChangeNotice&) {
    ++self_removing.notices;
    cache->Unsubscribe(self);
  });
  cache->Set("a:1", "x");
  cache->UpdateNow();
  cache->Unsubscribe(gone);
  cache->Set("a:2", "y");
  cache->UpdateNow();
  cache->Update();  // Nothing new: no notice.
  EXPECT_EQ(kept.keys, (std::set<std::string>{"a:1", "a:2"}));
  EXPECT_EQ(kept.notices, 2);
  EXPECT_EQ(dropped.keys, (std::set<std::string>{"a:1"}));
  EXPECT_EQ(quiet.notices, 0);
  EXPECT_EQ(self_removing.notices, 1);
}

// Beyond ChangeNotice::kMaxKeys keys, and after a restore elsewhere on the machine, a notice
// says reload.
TEST_P(SubscriptionTest, ManyChangesAndARestoredStateSayReload) {
  auto cache = Cache::Open(Machine());
  cache->Set("init", "1");
  cache->UpdateNow();
  Heard heard;
  cache->Subscribe("", Listen(&heard, cache.get()));
  std::vector<Mutation> many;
  for (size_t i = 0; i <= ChangeNotice::kMaxKeys; ++i) {
    many.push_back(Mutation::Set("k" + std::to_string(i), "v"));
  }
  cache->Write(many);
  cache->UpdateNow();
  EXPECT_EQ(heard.reloads, 1);
  EXPECT_TRUE(heard.keys.empty());
  const uint64_t before = cache->Set("after", "many");
  cache->UpdateNow();
  ASSERT_EQ(heard.reloads, 1);
  EXPECT_EQ(heard.keys, (std::set<std::string>{"after"}));
  EXPECT_EQ(heard.last_id, before);
  // Another machine moves on and makes a snapshot; a process of this one restores it: the
  // state jumps past updates the journal never listed.
  CacheOptions other_machine = Machine();
  other_machine.state_path = dir_.File("other.state");
  auto other = Cache::Open(other_machine);
  const uint64_t later = other->Set("later", "x");
  other->UpdateNow();
  other->CreateSnapshot(dir_.File("s.snapshot"));
  ChildProcess restorer([&] {
    Cache::Open(Machine())->RestoreSnapshot(dir_.File("s.snapshot"));
    return 0;
  });
  ASSERT_TRUE(ChildProcess::Succeeded(restorer.Wait()));
  cache->Update();
  EXPECT_EQ(heard.reloads, 2) << "a state restored by another process";
  EXPECT_EQ(heard.last_id, later);
  EXPECT_EQ(heard.keys, (std::set<std::string>{"after"}));
}

// A process that reads the journal after it moved on by more than its ring is told to reload.
TEST_P(SubscriptionTest, AProcessThatLooksTooLateReloads) {
  auto cache = Cache::Open(Machine());
  cache->Set("init", "1");
  cache->UpdateNow();
  Heard heard;
  cache->Subscribe("big:", Listen(&heard, cache.get()));
  // Applied by another process in commits of under kMaxRecordBytes each, without this one
  // looking, until the journal has wrapped.
  ChildProcess applier([&] {
    auto other = Cache::Open(Machine());
    const std::string key_tail(200, 'k');
    uint64_t written = 0;
    for (int round = 0; written < 2 * cache::ChangeJournal::kRingBytes; ++round) {
      std::vector<Mutation> batch;
      for (int i = 0; i < 1000; ++i) {
        batch.push_back(Mutation::Set(
            "big:" + std::to_string(round) + ":" + std::to_string(i) + key_tail, "v"));
        written += batch.back().key.size();
      }
      other->Write(batch);
      other->UpdateNow();
    }
    return 0;
  });
  ASSERT_TRUE(ChildProcess::Succeeded(applier.Wait()));
  cache->Update();
  EXPECT_EQ(heard.reloads, 1);
  EXPECT_TRUE(heard.keys.empty());
  EXPECT_EQ(heard.last_id, cache->AppliedId());
}

// An applier killed after its commit and before its journal record: the next record says
// reload for what the killed one committed, so no change goes unheard.
TEST_P(SubscriptionTest, AnApplierKilledBeforeItsRecordLeavesAReload) {
  auto cache = Cache::Open(Machine());
  cache->Set("init", "1");
  cache->UpdateNow();
  Heard heard;
  cache->Subscribe("k", Listen(&heard, cache.get()));
  cache->Set("k1", "a");
  ChildProcess applier([&] {
    auto other = Cache::Open(Machine());
    io::ArmCrashPoint("applier.commit.before_journal");
    other->UpdateNow();
    return 0;
  });
  const int status = applier.Wait();
  ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) << ChildProcess::Describe(status);
  EXPECT_EQ(cache->Get("k1"), "a") << "the killed applier committed";
  cache->Update();
  EXPECT_EQ(heard.notices, 0) << "no record yet";
  cache->Set("k2", "b");
  cache->UpdateNow();
  EXPECT_EQ(heard.reloads, 1);
  EXPECT_EQ(heard.last_id, cache->AppliedId());
}

// Threads that call Update() at once deliver each change once, one thread at a time, while
// another thread subscribes and unsubscribes (run under TSan too).
TEST_P(SubscriptionTest, ThreadsUpdatingAtOnceDeliverEachChangeOnce) {
  auto cache = Cache::Open(Machine());
  cache->Set("init", "1");
  cache->UpdateNow();
  std::mutex mu;
  std::multiset<std::string> heard;
  std::atomic<int> inside{0};
  cache->Subscribe("t:", [&](const ChangeNotice& n) {
    EXPECT_EQ(inside.fetch_add(1), 0) << "two deliveries at once";
    EXPECT_FALSE(n.reload);
    std::lock_guard lock(mu);
    heard.insert(n.keys.begin(), n.keys.end());
    inside.fetch_sub(1);
  });
  constexpr int kKeys = 300;
  std::atomic<bool> written{false};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      while (!written.load()) cache->Update();
      cache->UpdateNow();
    });
  }
  threads.emplace_back([&] {
    for (int i = 0; i < 50; ++i) {
      const uint64_t id = cache->Subscribe("t:", [](const ChangeNotice&) {});
      cache->Unsubscribe(id);
    }
  });
  for (int i = 0; i < kKeys; ++i) cache->Set("t:" + std::to_string(i), "v");
  written.store(true);
  for (std::thread& t : threads) t.join();
  cache->Update();
  std::multiset<std::string> want;
  for (int i = 0; i < kKeys; ++i) want.insert("t:" + std::to_string(i));
  EXPECT_EQ(heard, want);
}

INSTANTIATE_TEST_SUITE_P(Backends, SubscriptionTest,
                         ::testing::Values(FileLogBackend(), MysqlLogBackend()), BackendName);

}  // namespace
}  // namespace whycache::testing
