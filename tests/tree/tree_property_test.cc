// Model-based test: a million random operations on the tree and on std::map (puts, erases and
// prefix erases, in batches committed or abandoned), every answer compared. Set WHYCACHE_TREE_SEED
// to replay a failure.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <map>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "lib/tree/tree.h"
#include "tests/support/temp_dir.h"
#include "tests/tree/key_gen.h"
#include "tests/tree/tree_model.h"

namespace whycache::tree {
namespace {

constexpr int kOperations = 1'000'000;

TEST(TreePropertyTest, MatchesStdMap) {
  uint64_t seed = std::random_device{}();
  if (const char* s = std::getenv("WHYCACHE_TREE_SEED")) seed = std::strtoull(s, nullptr, 10);
  std::printf("seed %llu (replay with WHYCACHE_TREE_SEED)\n",
              static_cast<unsigned long long>(seed));
  SCOPED_TRACE("WHYCACHE_TREE_SEED=" + std::to_string(seed));
  std::mt19937_64 rng(seed);
  KeyGen gen(rng);

  testing::TempDir dir;
  TreeOptions options;
  options.initial_file_bytes = 1 << 20;  // Small: the test grows and rebuilds the file.
  options.max_free_fraction = 0.6;
  auto tree = Tree::Open(dir.File("state"), options);
  std::map<std::string, std::string> model;
  uint64_t applied = 0;
  int ops = 0;
  int batches = 0;

  while (ops < kOperations) {
    // A batch of changes, committed or abandoned.
    auto w = tree->BeginWrite();
    struct Change {
      enum class Kind { kPut, kErase, kErasePrefix } kind;
      std::string key;
      std::string value;
    };
    std::vector<Change> batch;
    const int n = static_cast<int>(1 + gen.Pick(gen.Pick(10) == 0 ? 400 : 30));
    for (int i = 0; i < n; ++i, ++ops) {
      std::string k = gen.Key();
      if (gen.Pick(60) == 0) {
        // Erase a prefix: usually a cut of a key that exists, so that it covers a subtree (of
        // one key or of many, or ends inside a compressed path), sometimes the whole tree.
        if (!model.empty() && gen.Pick(4) != 0) {
          auto it = model.lower_bound(k);
          if (it == model.end()) it = model.begin();
          k = it->first.substr(0, gen.Pick(it->first.size() + 1));
        } else if (gen.Pick(10) != 0) {
          k.resize(gen.Pick(k.size() + 1));
        }
        w->ErasePrefix(k);
        batch.push_back({Change::Kind::kErasePrefix, std::move(k), {}});
      } else if (gen.Pick(3) == 0) {
        // Erase: usually a key that exists.
        if (!model.empty() && gen.Pick(4) != 0) {
          auto it = model.lower_bound(k);
          if (it == model.end()) it = model.begin();
          k = it->first;
        }
        w->Erase(k);
        batch.push_back({Change::Kind::kErase, std::move(k), {}});
      } else {
        std::string v = gen.Value();
        w->Put(k, v);
        batch.push_back({Change::Kind::kPut, std::move(k), std::move(v)});
      }
    }
    if (gen.Pick(10) != 0) {
      w->Commit(++applied);
      for (Change& c : batch) {
        switch (c.kind) {
          case Change::Kind::kPut:
            model[c.key] = std::move(c.value);
            break;
          case Change::Kind::kErase:
            model.erase(c.key);
            break;
          case Change::Kind::kErasePrefix:
            for (auto it = model.lower_bound(c.key);
                 it != model.end() && it->first.starts_with(c.key);) {
              it = model.erase(it);
            }
            break;
        }
      }
    }
    w.reset();
    ++batches;

    // Reads against the model.
    ReadTxn r = tree->BeginRead();
    ASSERT_EQ(r.AppliedId(), applied);
    ASSERT_EQ(r.KeyCount(), model.size());
    for (int i = 0; i < 20; ++i, ++ops) {
      std::string k;
      if (!model.empty() && gen.Pick(2) == 0) {
        auto it = model.lower_bound(gen.Key());
        k = it == model.end() ? model.begin()->first : it->first;
      } else {
        k = gen.Key();
      }
      auto got = r.Get(k);
      auto want = model.find(k);
      ASSERT_EQ(got.has_value(), want != model.end()) << "get of a key of " << k.size() << " bytes";
      if (got) {
        ASSERT_EQ(*got, want->second);
      }
    }
    for (int i = 0; i < 3; ++i, ++ops) {
      const std::string k = gen.Key();
      const size_t limit = 1 + gen.Pick(40);
      if (gen.Pick(2) == 0) {
        // lower_bound and ordered iteration.
        Iterator it = r.LowerBound(k);
        auto want = model.lower_bound(k);
        for (size_t j = 0; j < limit; ++j, it.Next(), ++want) {
          ASSERT_EQ(it.Valid(), want != model.end());
          if (!it.Valid()) break;
          ASSERT_EQ(it.key(), want->first);
          ASSERT_EQ(it.value(), want->second);
        }
      } else {
        // Prefix scan, stopped early by the callback.
        const std::string prefix = k.substr(0, gen.Pick(k.size() + 1));
        std::vector<std::pair<std::string, std::string>> got;
        r.Scan(prefix, [&](std::string_view key, std::string_view value) {
          got.emplace_back(key, value);
          return got.size() < limit;
        });
        std::vector<std::pair<std::string, std::string>> want;
        for (auto it = model.lower_bound(prefix);
             it != model.end() && it->first.compare(0, prefix.size(), prefix) == 0 &&
             want.size() < limit;
             ++it) {
          want.emplace_back(*it);
        }
        ASSERT_EQ(got, want) << "scan of a prefix of " << prefix.size() << " bytes";
      }
    }
    if (batches % 3000 == 0) {
      tree->Verify();
      ASSERT_TRUE(MatchesModel(r, model));
    }
  }
  tree->Verify();
  const TreeStats s = tree->Stats();
  std::printf(
      "%d operations, %d batches, %llu keys, file %llu bytes, %llu used, %llu free\n", ops, batches,
      static_cast<unsigned long long>(s.keys), static_cast<unsigned long long>(s.file_bytes),
      static_cast<unsigned long long>(s.used_bytes), static_cast<unsigned long long>(s.free_bytes));
}

}  // namespace
}  // namespace whycache::tree
