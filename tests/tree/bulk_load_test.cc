// Trees built bottom-up (Tree::Load, batches merged into a new file, rebuilds) against a
// std::map model: the same entries, every structural invariant (Verify), the same answers to
// point gets. Set WHYCACHE_TREE_SEED to replay a failure.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cstdio>
#include <cstdlib>
#include <map>
#include <optional>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "lib/tree/tree.h"
#include "tests/support/temp_dir.h"
#include "tests/tree/key_gen.h"
#include "tests/tree/tree_model.h"
#include "whycache/error.h"

namespace whycache::tree {
namespace {

using Model = std::map<std::string, std::string>;

uint64_t Seed() {
  uint64_t seed = std::random_device{}();
  if (const char* s = std::getenv("WHYCACHE_TREE_SEED")) seed = std::strtoull(s, nullptr, 10);
  std::printf("seed %llu (replay with WHYCACHE_TREE_SEED)\n",
              static_cast<unsigned long long>(seed));
  return seed;
}

uint64_t RawBytes(const Model& model) {
  uint64_t n = 0;
  for (const auto& [k, v] : model) n += k.size() + v.size();
  return n;
}

EntrySource SourceOf(const Model& model) {
  return [&model](const auto& add) {
    for (const auto& [k, v] : model) add(k, v);
  };
}

ino_t Inode(const std::string& path) {
  struct stat st;
  EXPECT_EQ(stat(path.c_str(), &st), 0);
  return st.st_ino;
}

// Verify, the model in order, every key through the hash index, counts and id.
void ExpectHolds(Tree& tree, const Model& model, uint64_t applied_id) {
  tree.Verify();
  ReadTxn r = tree.BeginRead();
  EXPECT_EQ(r.AppliedId(), applied_id);
  EXPECT_EQ(r.KeyCount(), model.size());
  EXPECT_TRUE(MatchesModel(r, model));
  for (const auto& [k, v] : model) {
    const std::optional<std::string_view> got = r.Get(k);
    ASSERT_TRUE(got.has_value()) << "get of a key of " << k.size() << " bytes";
    ASSERT_EQ(*got, v);
  }
}

void ExpectLoads(const Model& model) {
  testing::TempDir dir;
  auto tree = Tree::Open(dir.File("state"));
  tree->Load(model.size(), RawBytes(model), SourceOf(model), 42);
  ExpectHolds(*tree, model, 42);
}

TEST(BulkLoadTest, Empty) { ExpectLoads({}); }

TEST(BulkLoadTest, SingleKey) {
  ExpectLoads({{"only", "v"}});
  ExpectLoads({{"", "empty key"}});
}

TEST(BulkLoadTest, KeysThatArePrefixesOfOthers) {
  ExpectLoads({{"", "0"}, {"a", "1"}, {"ab", "2"}, {"abc", "3"}, {"abd", "4"}, {"b", "5"}});
  ExpectLoads({{"abc", "1"}, {"abcdef", "2"}, {"abcdefgh", "3"}});
  ExpectLoads({{std::string(1, '\0'), "1"}, {std::string(2, '\0'), "2"}, {"\x01", "3"}});
}

TEST(BulkLoadTest, EveryNodeKindAtItsLimits) {
  // Fan-outs at the edges of Node4, Node16, Node48 and Node256, under the root and below a
  // shared path, with and without a key ending at the node.
  for (int fanout : {2, 4, 5, 16, 17, 48, 49, 255, 256}) {
    for (const std::string& stem : {std::string(), std::string("stem/"), std::string(300, 's')}) {
      for (bool end_key : {false, true}) {
        SCOPED_TRACE("fan-out " + std::to_string(fanout) + " stem " + std::to_string(stem.size()) +
                     (end_key ? " with" : " without") + " end key");
        Model model;
        if (end_key) model[stem] = "end";
        for (int c = 0; c < fanout; ++c) {
          const char byte = static_cast<char>(c * 255 / std::max(fanout - 1, 1));
          model[stem + byte] = std::to_string(c);
          model[stem + byte + "tail"] = "t";
        }
        ExpectLoads(model);
      }
    }
  }
}

TEST(BulkLoadTest, LongKeysAndLargeValues) {
  Model model;
  model[std::string(4096, 'k')] = std::string(100'000, 'v');
  model[std::string(4095, 'k') + 'l'] = "";
  model[std::string(2000, 'k')] = std::string(9, 'x');
  ExpectLoads(model);
}

TEST(BulkLoadTest, RandomSetsMatchTheModel) {
  const uint64_t seed = Seed();
  SCOPED_TRACE("WHYCACHE_TREE_SEED=" + std::to_string(seed));
  std::mt19937_64 rng(seed);
  KeyGen gen(rng);
  for (int round = 0; round < 12; ++round) {
    Model model;
    const uint64_t n = gen.Pick(3) == 0 ? gen.Pick(50) : gen.Pick(40'000);
    for (uint64_t i = 0; i < n; ++i) model[gen.Key()] = gen.Value();
    ExpectLoads(model);
  }
}

TEST(BulkLoadTest, RejectsEntriesOutOfOrderAndLeavesTheTreeEmpty) {
  testing::TempDir dir;
  auto tree = Tree::Open(dir.File("state"));
  for (const std::vector<std::string>& keys : {std::vector<std::string>{"b", "a"},
                                               {"a", "a"},
                                               {"ab", "a"},
                                               {"a", "b", "b\xff", "b\x01"}}) {
    try {
      tree->Load(
          keys.size(), 10,
          [&](const auto& add) {
            for (const std::string& k : keys) add(k, "v");
          },
          7);
      ADD_FAILURE() << "entries out of order were loaded";
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), Error::Code::kInvalidArgument) << e.what();
    }
    ExpectHolds(*tree, {}, 0);
  }
  struct stat st;
  EXPECT_NE(stat(dir.File("state.rebuild").c_str(), &st), 0) << "the partial file is left behind";
}

TEST(BulkLoadTest, RefusesATreeThatHasEntries) {
  testing::TempDir dir;
  auto tree = Tree::Open(dir.File("state"));
  {
    auto w = tree->BeginWrite();
    w->Put("k", "v");
    w->Commit(1);
  }
  const Model more = {{"a", "1"}};
  try {
    tree->Load(1, 2, SourceOf(more), 2);
    ADD_FAILURE() << "loaded into a tree that has entries";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), Error::Code::kInvalidArgument) << e.what();
  }
  ExpectHolds(*tree, {{"k", "v"}}, 1);
}

// Large batches (puts, overwrites, erases, several ops on one key) into trees of every size,
// small ones in between: the merged new file and the in-place path agree with the model.
TEST(BulkLoadTest, LargeBatchesMergeIntoANewFile) {
  const uint64_t seed = Seed();
  SCOPED_TRACE("WHYCACHE_TREE_SEED=" + std::to_string(seed));
  std::mt19937_64 rng(seed);
  KeyGen gen(rng);
  testing::TempDir dir;
  const std::string path = dir.File("state");
  TreeOptions options;
  options.initial_file_bytes = 1 << 20;
  auto tree = Tree::Open(path, options);
  Model model;
  uint64_t applied = 0;
  for (int round = 0; round < 16; ++round) {
    const bool large = round % 2 == 0;
    const uint64_t n = large ? 4096 + gen.Pick(20'000) : 1 + gen.Pick(300);
    const ino_t before = Inode(path);
    auto w = tree->BeginWrite();
    Model next = model;
    // The ops the commit keeps, per key: a prefix erase undoes the ops before it under its
    // prefix. With the prefix erases, they are the batch size the merge rule sees.
    std::map<std::string, uint64_t> kept_ops;
    uint64_t kept_size = 0;
    const auto put = [&](const std::string& k, std::string v) {
      w->Put(k, v);
      next[k] = std::move(v);
      ++kept_ops[k];
      ++kept_size;
    };
    const auto erase = [&](const std::string& k) {
      w->Erase(k);
      next.erase(k);
      ++kept_ops[k];
      ++kept_size;
    };
    for (uint64_t i = 0; i < n; ++i) {
      std::string k = gen.Key();
      if (!model.empty() && gen.Pick(3) == 0) {
        auto it = model.lower_bound(k);
        k = it == model.end() ? model.begin()->first : it->first;
      }
      // A quarter of the rounds erase nearly everything.
      if (gen.Pick(round % 4 == 2 ? 1 : 4) == 0) {
        erase(k);
      } else {
        put(k, gen.Value());
      }
      if (gen.Pick(500) == 0 && k.size() >= 8) {
        // A prefix erase: what the batch put under it before is undone, what it puts after
        // stays, and the old file's keys under it are not copied.
        const std::string prefix = k.substr(0, k.size() * 3 / 4 + gen.Pick(k.size() / 4 + 1));
        w->ErasePrefix(prefix);
        ++kept_size;
        for (auto it = next.lower_bound(prefix);
             it != next.end() && it->first.starts_with(prefix);) {
          it = next.erase(it);
        }
        for (auto it = kept_ops.lower_bound(prefix);
             it != kept_ops.end() && it->first.starts_with(prefix);) {
          kept_size -= it->second;
          it = kept_ops.erase(it);
        }
      }
      if (gen.Pick(20) == 0) {
        // Several ops on one key in one batch: the last one decides.
        erase(k);
        if (gen.Pick(2) == 0) put(k, "again");
      }
    }
    if (round % 4 == 2) {
      for (const auto& [k, v] : model) erase(k);
    }
    // A large batch must stay large enough to be merged, whatever its prefix erases undid.
    // Counting only the ops it keeps is a lower bound on the changes the rule counts.
    while (large && kept_size < MergeBatchOps(model.size())) put(gen.Key(), gen.Value());
    w->Commit(++applied);
    w.reset();
    model = std::move(next);
    if (large) EXPECT_NE(Inode(path), before) << "round " << round << " was not merged";
    ExpectHolds(*tree, model, applied);
  }
}

}  // namespace
}  // namespace whycache::tree
