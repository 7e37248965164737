// Per-prefix read figures through the Cache API, in several real processes: each process's own
// figures and the machine's are exactly what a model of the reads the test made says, a forked
// child counts apart from its parent, the counts of a process that ended (or was killed after
// publishing) stay in the machine's figures, and an unusable read-stats file is reported or
// replaced. Expected figures come from the keys the test wrote and read, never from the system.
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "lib/cache/machine_read_stats.h"
#include "tests/log/log_backends.h"
#include "tests/support/child_process.h"
#include "tests/support/pipe_signal.h"
#include "tests/support/temp_dir.h"
#include "whycache/cache.h"
#include "whycache/error.h"
#include "whycache/limits.h"

namespace whycache::testing {
namespace {

using std::chrono::seconds;

struct Figures {
  uint64_t hits = 0;
  uint64_t misses = 0;
  friend bool operator==(const Figures&, const Figures&) = default;
};

// The model: the keys the test wrote, and per prefix the reads a set of processes made.
class Model {
 public:
  explicit Model(std::set<std::string> present) : present_(std::move(present)) {}

  // Adds the reads of `keys` to `tally`, for each of `counted` that the key starts with.
  void Expect(const std::vector<std::string>& keys, const std::vector<std::string>& counted,
              std::map<std::string, Figures>* tally) const {
    for (const std::string& key : keys) {
      const bool hit = present_.count(key) > 0;
      for (const std::string& p : counted) {
        if (key.compare(0, p.size(), p) == 0) ++(hit ? (*tally)[p].hits : (*tally)[p].misses);
      }
    }
  }

  // Reads `keys` through `cache`; false if an answer is not the model's.
  bool Read(Cache& cache, const std::vector<std::string>& keys) const {
    ReadTransaction txn = cache.BeginRead();
    for (const std::string& key : keys) {
      if (txn.Get(key).has_value() != (present_.count(key) > 0)) return false;
    }
    return true;
  }

 private:
  std::set<std::string> present_;
};

std::map<std::string, Figures> Sum(const std::vector<const std::map<std::string, Figures>*>& all) {
  std::map<std::string, Figures> sum;
  for (const auto* tally : all) {
    for (const auto& [p, f] : *tally) {
      sum[p].hits += f.hits;
      sum[p].misses += f.misses;
    }
  }
  return sum;
}

Figures Process(const PrefixReadStats& s) { return {s.process_hits, s.process_misses}; }
Figures Machine(const PrefixReadStats& s) { return {s.machine_hits, s.machine_misses}; }

Figures Get(const std::map<std::string, Figures>& tally, const std::string& prefix) {
  auto it = tally.find(prefix);
  return it == tally.end() ? Figures{} : it->second;
}

// On every log backend: the counts do not depend on the log, the machines and their processes
// must work on both. A process's counts last its whole life, so each backend runs in a process
// of its own (two Bazel targets, each filtering one instantiation).
class PrefixReadStatsTest : public ::testing::TestWithParam<ChangeLogBackend> {
 protected:
  void SetUp() override { fresh_ = GetParam().create(); }

  CacheOptions Options(std::vector<std::string> prefixes, const std::string& state = "m.state") {
    CacheOptions o;
    o.state_path = dir_.File(state);
    o.log_uri = fresh_->uri();
    o.stat_prefixes = std::move(prefixes);
    return o;
  }

  TempDir dir_;
  std::unique_ptr<FreshLog> fresh_;
};

TEST_P(PrefixReadStatsTest, BadPrefixesAreRefusedBeforeAnythingIsMade) {
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{"a", ""}, "prefix 1 is empty"},
      {{std::string(kMaxKeyBytes + 1, 'k')}, "prefix 0 has 4097 bytes"},
      {{"x:", "x:"}, "prefix 1 is given twice"},
      {std::vector<std::string>(33, "p"), "33 prefixes given, at most 32"},
  };
  for (const auto& [prefixes, why] : cases) {
    try {
      Cache::Open(Options(prefixes));
      ADD_FAILURE() << "opened with " << why;
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), Error::Code::kInvalidArgument);
      EXPECT_NE(std::string(e.what()).find("stat_prefixes: " + why), std::string::npos) << e.what();
    }
  }
  EXPECT_FALSE(std::ifstream(dir_.File("m.state")).good());
  EXPECT_FALSE(std::ifstream(dir_.File("m.state.read-stats")).good());
}

TEST_P(PrefixReadStatsTest, ProcessAndMachineFiguresAreExactAcrossProcesses) {
  const std::vector<std::string> parent_prefixes = {"flag:", "perm:", "f"};
  std::unique_ptr<Cache> cache = Cache::Open(Options(parent_prefixes));
  const std::set<std::string> present = {"flag:a", "flag:b", "perm:1", "other:1", "fx"};
  std::vector<std::pair<std::string, std::string>> entries;
  for (const std::string& k : present) entries.emplace_back(k, "v");
  ASSERT_TRUE(cache->WaitFor(cache->SetMulti(entries), seconds(30)));
  const Model model(present);

  std::map<std::string, Figures> parent, child1, child2, child2_late, child3, killed;
  const std::vector<std::string> parent_reads = {"flag:a", "flag:a",  "flag:zz", "perm:1",
                                                 "f",      "other:1", "x"};
  ASSERT_TRUE(model.Read(*cache, parent_reads));
  model.Expect(parent_reads, parent_prefixes, &parent);

  // Child 1 reads through the parent's Cache, inherited by the fork: its figures are its own.
  const std::vector<std::string> child1_reads = {"flag:b", "perm:2", "perm:1", "fx", "fy"};
  model.Expect(child1_reads, parent_prefixes, &child1);
  ChildProcess c1([&] {
    if (!model.Read(*cache, child1_reads)) return 2;
    const CacheStats s = cache->Stats();  // Publishes.
    if (s.prefixes.size() < parent_prefixes.size()) return 3;
    for (size_t i = 0; i < parent_prefixes.size(); ++i) {
      if (s.prefixes[i].prefix != parent_prefixes[i]) return 4;
      if (!(Process(s.prefixes[i]) == Get(child1, parent_prefixes[i]))) return 5;
    }
    return 0;
  });
  int status = c1.Wait();
  ASSERT_TRUE(ChildProcess::Succeeded(status)) << ChildProcess::Describe(status);

  // Child 2 opens a Cache of its own with a prefix new to the machine; it still counts the
  // parent's prefixes (counting is per process, and it holds the parent's Cache too).
  const std::vector<std::string> child2_prefixes = {"perm:", "other:"};
  std::vector<std::string> child2_counted = parent_prefixes;
  child2_counted.push_back("other:");
  const std::vector<std::string> child2_reads = {"other:1", "other:2", "perm:1", "flag:a"};
  const std::vector<std::string> child2_late_reads = {"other:1", "flag:q"};
  model.Expect(child2_reads, child2_counted, &child2);
  model.Expect(child2_late_reads, child2_counted, &child2_late);
  int to_parent[2], to_child[2];
  ASSERT_EQ(pipe(to_parent), 0);
  ASSERT_EQ(pipe(to_child), 0);
  ChildProcess c2([&] {
    std::unique_ptr<Cache> own = Cache::Open(Options(child2_prefixes));
    if (!model.Read(*own, child2_reads)) return 2;
    own->Stats();
    if (!WriteByte(to_parent[1]) || !ReadByte(to_child[0], std::chrono::minutes(5))) return 3;
    if (!model.Read(*own, child2_late_reads)) return 4;
    own.reset();  // Closing publishes.
    return 0;
  });
  ASSERT_TRUE(ReadByte(to_parent[0], std::chrono::minutes(5)));

  const auto check = [&](const std::vector<const std::map<std::string, Figures>*>& machine,
                         const std::string& when) {
    const std::map<std::string, Figures> want = Sum(machine);
    const CacheStats s = cache->Stats();
    const std::vector<std::string> order = {"flag:", "perm:", "f", "other:"};
    ASSERT_EQ(s.prefixes.size(), order.size()) << when;
    for (size_t i = 0; i < order.size(); ++i) {
      const PrefixReadStats& p = s.prefixes[i];
      ASSERT_EQ(p.prefix, order[i]) << when;
      EXPECT_EQ(Process(p), Get(parent, p.prefix)) << when << ": process figures of " << p.prefix;
      EXPECT_EQ(Machine(p), Get(want, p.prefix)) << when << ": machine figures of " << p.prefix;
    }
    // A process that counts nothing (the command line) sees the same machine figures.
    const std::vector<cache::MachinePrefixTotals> file =
        cache::ReadMachineReadStats(dir_.File("m.state"));
    ASSERT_EQ(file.size(), order.size()) << when;
    for (const cache::MachinePrefixTotals& t : file) {
      EXPECT_EQ((Figures{t.hits, t.misses}), Get(want, t.prefix)) << when << ": " << t.prefix;
    }
  };
  check({&parent, &child1, &child2}, "child 2 running");
  ASSERT_TRUE(WriteByte(to_child[1]));
  status = c2.Wait();
  ASSERT_TRUE(ChildProcess::Succeeded(status)) << ChildProcess::Describe(status);
  check({&parent, &child1, &child2, &child2_late}, "child 2 closed its Cache and exited");

  // Child 3 takes the slot child 1 left: the counts in it stay.
  const std::vector<std::string> child3_reads = {"perm:1", "perm:9", "flag:a"};
  model.Expect(child3_reads, parent_prefixes, &child3);
  ChildProcess c3([&] {
    std::unique_ptr<Cache> own = Cache::Open(Options({"perm:"}));
    if (!model.Read(*own, child3_reads)) return 2;
    own->Stats();
    return 0;
  });
  status = c3.Wait();
  ASSERT_TRUE(ChildProcess::Succeeded(status)) << ChildProcess::Describe(status);
  check({&parent, &child1, &child2, &child2_late, &child3}, "child 3 exited");

  // A process killed keeps what it published, and only that.
  model.Expect({"flag:a", "fz"}, parent_prefixes, &killed);
  ChildProcess c4([&] {
    if (!model.Read(*cache, {"flag:a", "fz"})) return 2;
    cache->Stats();
    if (!model.Read(*cache, {"flag:a", "flag:b", "f"})) return 3;
    WriteByte(to_parent[1]);
    ReadByte(to_child[0], std::chrono::minutes(5));
    return 4;
  });
  ASSERT_TRUE(ReadByte(to_parent[0], std::chrono::minutes(5)));
  c4.Signal(SIGKILL);
  c4.Wait();
  check({&parent, &child1, &child2, &child2_late, &child3, &killed}, "child 4 killed");
  for (int fd : {to_parent[0], to_parent[1], to_child[0], to_child[1]}) close(fd);
}

TEST_P(PrefixReadStatsTest, CountingIsPerProcessAndAClosedCacheStopsIt) {
  std::unique_ptr<Cache> counting = Cache::Open(Options({"pp:"}, "a.state"));
  std::unique_ptr<Cache> other = Cache::Open(Options({}, "b.state"));
  ASSERT_TRUE(other->WaitFor(other->Set("pp:1", "v"), seconds(30)));
  ASSERT_TRUE(other->Get("pp:1").has_value());  // Through the Cache without prefixes.
  ASSERT_FALSE(other->Get("pp:2").has_value());
  EXPECT_TRUE(other->Stats().prefixes.empty()) << "b.state's machine counts no prefix";
  CacheStats s = counting->Stats();
  ASSERT_EQ(s.prefixes.size(), 1u);
  EXPECT_EQ(Process(s.prefixes[0]), (Figures{1, 1}));
  EXPECT_EQ(Machine(s.prefixes[0]), (Figures{1, 1}));
  counting.reset();
  ASSERT_TRUE(other->Get("pp:1").has_value());  // No Cache counts "pp:" any more.
  const std::vector<cache::MachinePrefixTotals> file =
      cache::ReadMachineReadStats(dir_.File("a.state"));
  ASSERT_EQ(file.size(), 1u);
  EXPECT_EQ((Figures{file[0].hits, file[0].misses}), (Figures{1, 1}));
  counting = Cache::Open(Options({"pp:"}, "a.state"));
  s = counting->Stats();
  EXPECT_EQ(Process(s.prefixes[0]), (Figures{1, 1}));
}

// The bytes of the read-stats file of `state`, changed by `change`, written back.
void Damage(const std::string& state, const std::function<void(std::string*)>& change) {
  const std::string path = state + ".read-stats";
  std::string bytes;
  {
    std::ifstream in(path, std::ios::binary);
    bytes.assign(std::istreambuf_iterator<char>(in), {});
  }
  change(&bytes);
  // A new file, as a damaged or foreign file would be: the inode this process mapped is left.
  ASSERT_EQ(::unlink(path.c_str()), 0);
  std::ofstream(path, std::ios::binary) << bytes;
}

TEST_P(PrefixReadStatsTest, AnUnusableFileIsReportedInStatsAndReplacedByCounters) {
  const std::string state = dir_.File("m.state");
  Figures reads_of_d;  // This process's reads of "d:" keys, all that it ever publishes.
  {
    std::unique_ptr<Cache> cache = Cache::Open(Options({"d:"}));
    ASSERT_TRUE(cache->WaitFor(cache->Set("d:1", "v"), seconds(30)));
    ASSERT_TRUE(cache->Get("d:1").has_value());
    ++reads_of_d.hits;
    ASSERT_EQ(Machine(cache->Stats().prefixes.at(0)), reads_of_d);
  }
  std::unique_ptr<Cache> reader = Cache::Open(Options({}));
  const std::vector<std::pair<std::string, std::function<void(std::string*)>>> damages = {
      {"not a read-stats file", [](std::string* b) { (*b)[0] ^= 1; }},
      {"of format version 2, not 1", [](std::string* b) { (*b)[8] = 2; }},
      {"too short", [](std::string* b) { b->resize(10); }},
      {"does not match its format", [](std::string* b) { b->resize(b->size() - 4096); }},
      {"prefix 0 has a length of 0", [](std::string* b) { std::fill_n(&(*b)[4096], 4, '\0'); }},
  };
  for (const auto& [problem, change] : damages) {
    SCOPED_TRACE(problem);
    Damage(state, change);
    // The other figures stay readable (a monitoring scrape keeps working); the prefixes are
    // left out, with the reason.
    const CacheStats damaged = reader->Stats();
    EXPECT_TRUE(damaged.prefixes.empty());
    EXPECT_EQ(damaged.keys, 1u);
    EXPECT_NE(damaged.prefixes_error.find(state + ".read-stats"), std::string::npos)
        << damaged.prefixes_error;
    EXPECT_NE(damaged.prefixes_error.find(problem), std::string::npos) << damaged.prefixes_error;
    // A process that counts makes the file anew; it publishes there all it counted, as into any
    // file it starts publishing into.
    std::unique_ptr<Cache> counting = Cache::Open(Options({"d:"}));
    EXPECT_TRUE(std::ifstream(state + ".read-stats.bad").good());
    ASSERT_FALSE(counting->Get("d:2").has_value());
    ++reads_of_d.misses;
    const CacheStats s = counting->Stats();
    ASSERT_EQ(s.prefixes.size(), 1u);
    EXPECT_EQ(Machine(s.prefixes[0]), reads_of_d);
    EXPECT_EQ(Machine(reader->Stats().prefixes.at(0)), reads_of_d);
    EXPECT_EQ(reader->Stats().prefixes_error, "");
    ASSERT_EQ(::unlink((state + ".read-stats.bad").c_str()), 0);
  }
}

INSTANTIATE_TEST_SUITE_P(Backends, PrefixReadStatsTest,
                         ::testing::Values(FileLogBackend(), MysqlLogBackend()), BackendName);

}  // namespace
}  // namespace whycache::testing
