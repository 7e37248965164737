// Behaviour of the tree through its API: values, order, limits, transactions, growth.
#include "lib/tree/tree.h"

#include <gtest/gtest.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "lib/tree/mapped_file.h"
#include "tests/support/temp_dir.h"
#include "whycache/error.h"
#include "whycache/limits.h"

namespace whycache::tree {
namespace {

using namespace std::string_literals;

std::vector<std::pair<std::string, std::string>> All(const ReadTxn& txn) {
  std::vector<std::pair<std::string, std::string>> out;
  Iterator it = txn.NewIterator();
  for (it.SeekToFirst(); it.Valid(); it.Next()) out.emplace_back(it.key(), it.value());
  return out;
}

class TreeTest : public ::testing::Test {
 protected:
  std::unique_ptr<Tree> OpenTree(uint64_t bytes = uint64_t{1} << 20) {
    TreeOptions o;
    o.initial_file_bytes = bytes;
    return Tree::Open(dir_.File("state"), o);
  }
  testing::TempDir dir_;
};

TEST_F(TreeTest, EmptyTree) {
  auto t = OpenTree();
  ReadTxn r = t->BeginRead();
  EXPECT_FALSE(r.Get("a"));
  EXPECT_EQ(r.AppliedId(), 0u);
  EXPECT_TRUE(All(r).empty());
  EXPECT_FALSE(r.LowerBound("").Valid());
  t->Verify();
}

TEST_F(TreeTest, PutGetEraseWithPrefixKeysAndBinaryBytes) {
  auto t = OpenTree();
  const std::vector<std::string> keys = {""s,       "a"s,           "ab"s,     "abc"s,  "abd"s,
                                         "b"s,      "\0"s,          "\0\0"s,   "a\0b"s, "\xff"s,
                                         "\xff\0"s, "user:1:perm"s, "user:12"s};
  {
    auto w = t->BeginWrite();
    for (const auto& k : keys) w->Put(k, "v" + k);
    w->Put("empty", "");
    w->Commit(7);
  }
  ReadTxn r = t->BeginRead();
  EXPECT_EQ(r.AppliedId(), 7u);
  for (const auto& k : keys) {
    auto v = r.Get(k);
    ASSERT_TRUE(v) << k;
    EXPECT_EQ(*v, "v" + k);
  }
  ASSERT_TRUE(r.Get("empty"));
  EXPECT_EQ(*r.Get("empty"), "");
  EXPECT_FALSE(r.Get("abcd"));
  EXPECT_FALSE(r.Get("us"));
  auto all = All(r);
  ASSERT_EQ(all.size(), keys.size() + 1);
  for (size_t i = 1; i < all.size(); ++i) EXPECT_LT(all[i - 1].first, all[i].first);
  t->Verify();

  {
    auto w = t->BeginWrite();
    for (const auto& k : keys) w->Erase(k);
    w->Erase("missing");
    w->Commit(8);
  }
  // The old transaction still sees its version.
  EXPECT_EQ(*r.Get("abc"), "vabc");
  ReadTxn r2 = t->BeginRead();
  EXPECT_EQ(r2.KeyCount(), 1u);
  EXPECT_FALSE(r2.Get("abc"));
  t->Verify();
}

// A prefix erase removes the subtree in place when it holds few keys, and goes through a new
// file of the keys that remain when it holds many (counted before choosing), passing over the
// range under the prefix, up to the end of the key space for a prefix of 0xff bytes.
TEST_F(TreeTest, PrefixErasesInPlaceAndThroughANewFile) {
  auto t = OpenTree();
  std::map<std::string, std::string> model;
  {
    auto w = t->BeginWrite();
    for (int i = 0; i < 10'000; ++i) {
      char key[16];
      std::snprintf(key, sizeof(key), "a:%05d", i);
      model[key] = std::to_string(i);
      model["\xff"s + key] = std::to_string(i);
    }
    for (const std::string& k : {"a"s, "a:"s, "\xff"s, "\xff\xff"s, "\xff\xff\0"s, "\xfe\xff"s}) {
      model[k] = "edge";
    }
    for (const auto& [k, v] : model) w->Put(k, v);
    w->Commit(1);
  }
  // Erases `prefix` as update `id`, checks the tree against the model and returns whether the
  // erase went through a new file.
  auto erase = [&](const std::string& prefix, uint64_t id) {
    struct stat before;
    EXPECT_EQ(stat(dir_.File("state").c_str(), &before), 0);
    auto w = t->BeginWrite();
    w->ErasePrefix(prefix);
    w->Commit(id);
    w.reset();
    std::erase_if(model, [&](const auto& e) { return e.first.starts_with(prefix); });
    ReadTxn r = t->BeginRead();
    const std::vector<std::pair<std::string, std::string>> want(model.begin(), model.end());
    EXPECT_EQ(All(r), want) << "after erasing a prefix of " << prefix.size() << " bytes";
    EXPECT_EQ(r.KeyCount(), model.size());
    t->Verify();
    struct stat after;
    EXPECT_EQ(stat(dir_.File("state").c_str(), &after), 0);
    return before.st_ino != after.st_ino;
  };
  EXPECT_FALSE(
      erase("\xff"
            "a:000",
            2))
      << "100 keys of 20,006 went through a new file";
  EXPECT_FALSE(erase("\xff\xff", 3));
  EXPECT_FALSE(erase("zzz", 4));
  EXPECT_TRUE(erase("a:", 5)) << "10,000 keys of 19,904 were erased in place";
  EXPECT_TRUE(erase("\xff", 6)) << "9,901 keys of 9,904 were erased in place";
  EXPECT_EQ(model.size(), 2u);  // "a" and "\xfe\xff".
  // A merged batch with an erase of every key, then a put: only the put remains.
  auto w = t->BeginWrite();
  for (int i = 0; i < 5000; ++i) w->Put("c:" + std::to_string(i), "undone");
  w->ErasePrefix("");
  w->Put("c:new", "kept");
  w->Commit(7);
  w.reset();
  EXPECT_EQ(All(t->BeginRead()),
            (std::vector<std::pair<std::string, std::string>>{{"c:new", "kept"}}));
  t->Verify();
}

TEST_F(TreeTest, LowerBoundAndScan) {
  auto t = OpenTree();
  {
    auto w = t->BeginWrite();
    for (int i = 0; i < 300; ++i) w->Put("k" + std::to_string(i * 3), std::to_string(i));
    w->Commit(1);
  }
  ReadTxn r = t->BeginRead();
  Iterator it = r.LowerBound("k10");
  ASSERT_TRUE(it.Valid());
  EXPECT_EQ(it.key(), "k102");
  it = r.LowerBound("k896");
  ASSERT_TRUE(it.Valid());
  EXPECT_EQ(it.key(), "k897");
  EXPECT_FALSE(r.LowerBound("l").Valid());
  std::vector<std::string> seen;
  r.Scan("k2", [&](std::string_view k, std::string_view) {
    seen.emplace_back(k);
    return true;
  });
  // Byte order: k201, k204, ..., k21, k210, ..., k27, k270, ..., k297.
  EXPECT_EQ(seen.front(), "k201");
  EXPECT_EQ(seen.back(), "k297");
  EXPECT_EQ(seen.size(), 33u + 3u);
}

TEST_F(TreeTest, LimitsAreEnforced) {
  auto t = OpenTree();
  auto w = t->BeginWrite();
  try {
    w->Put(std::string(kMaxKeyBytes + 1, 'k'), "v");
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), Error::Code::kInvalidArgument);
    EXPECT_NE(std::string(e.what()).find("4096"), std::string::npos);
  }
  EXPECT_THROW(w->Erase(std::string(kMaxKeyBytes + 1, 'k')), Error);
  w->Put(std::string(kMaxKeyBytes, 'k'), std::string(1 << 20, 'v'));
  EXPECT_EQ(w->size(), 1u);
  w->Commit(1);
  ReadTxn r = t->BeginRead();
  EXPECT_EQ(r.Get(std::string(kMaxKeyBytes, 'k'))->size(), size_t{1} << 20);
}

// Leaves take a one-word header below 256-byte keys and 8 MiB values, two words above; both
// forms must read back, free into the size class they came from, and survive a rebuild.
TEST_F(TreeTest, BothLeafHeaderFormsRoundTripAtTheirBoundaries) {
  constexpr size_t kBigValue = size_t{1} << 23;
  const std::vector<std::pair<size_t, size_t>> shapes = {
      {4, 3}, {5, 3}, {255, 0}, {256, 0}, {4, kBigValue - 1}, {4, kBigValue}, {255, kBigValue}};
  std::map<std::string, std::string> model;
  for (size_t i = 0; i < shapes.size(); ++i) {
    const auto [key_len, value_len] = shapes[i];
    model[std::string(1, static_cast<char>('a' + i)) + std::string(key_len - 1, 'k')] =
        std::string(value_len, static_cast<char>('0' + i));
  }
  auto t = OpenTree();
  auto expect_model = [&] {
    t->Verify();
    ReadTxn r = t->BeginRead();
    for (const auto& [k, v] : model) EXPECT_EQ(r.Get(k).value_or("missing"), v) << k.size();
    auto it = model.begin();
    r.Scan("", [&](std::string_view k, std::string_view v) {
      EXPECT_TRUE(it != model.end() && k == it->first && v == it->second) << k.size();
      ++it;
      return true;
    });
    EXPECT_TRUE(it == model.end());
  };
  auto w = t->BeginWrite();
  for (const auto& [k, v] : model) w->Put(k, v);
  w->Commit(1);
  w.reset();
  expect_model();
  // Swapping the values moves every leaf between forms and frees the old blocks.
  w = t->BeginWrite();
  std::vector<std::string> values;
  for (const auto& kv : model) values.push_back(kv.second);
  std::rotate(values.begin(), values.begin() + 3, values.end());
  size_t i = 0;
  for (auto& [k, v] : model) w->Put(k, v = values[i++]);
  w->Erase(model.begin()->first);
  model.erase(model.begin());
  w->Commit(2);
  w.reset();
  expect_model();
  t->Compact();
  expect_model();
}

// One node taken through every kind as children arrive (4, 8, 16, 48, 256) and back as they go,
// checked whole at every step.
TEST_F(TreeTest, ANodeGrowsThroughEveryKindAndShrinksBack) {
  auto t = OpenTree();
  std::map<std::string, std::string> model;
  auto step = [&](const std::string& key, bool put, uint64_t id) {
    auto w = t->BeginWrite();
    if (put) {
      w->Put(key, key + "-value");
      model[key] = key + "-value";
    } else {
      w->Erase(key);
      model.erase(key);
    }
    w->Commit(id);
    w.reset();
    t->Verify();
    ReadTxn r = t->BeginRead();
    ASSERT_EQ(r.KeyCount(), model.size());
    auto it = model.begin();
    r.Scan("p", [&](std::string_view k, std::string_view v) {
      EXPECT_TRUE(it != model.end() && k == it->first && v == it->second);
      ++it;
      return true;
    });
    EXPECT_TRUE(it == model.end());
  };
  std::vector<std::string> keys;
  for (int c = 0; c < 256; ++c) keys.push_back("p" + std::string(1, static_cast<char>(c)) + "x");
  std::mt19937_64 rng(7);
  std::shuffle(keys.begin(), keys.end(), rng);
  uint64_t id = 0;
  for (const std::string& k : keys) step(k, true, ++id);
  std::shuffle(keys.begin(), keys.end(), rng);
  for (const std::string& k : keys) step(k, false, ++id);
}

TEST_F(TreeTest, AbandonedBatchChangesNothing) {
  auto t = OpenTree();
  {
    auto w = t->BeginWrite();
    w->Put("a", "1");
    w->Commit(1);
  }
  {
    auto w = t->BeginWrite();
    w->Put("a", "2");
    w->Put("b", "2");
  }
  ReadTxn r = t->BeginRead();
  EXPECT_EQ(*r.Get("a"), "1");
  EXPECT_FALSE(r.Get("b"));
  EXPECT_EQ(r.AppliedId(), 1u);
}

TEST_F(TreeTest, SecondWriterIsRefusedWithoutWaiting) {
  auto t = OpenTree();
  auto other = Tree::Open(dir_.File("state"));
  auto w = t->BeginWrite();
  EXPECT_EQ(other->BeginWrite(false), nullptr);
  w.reset();
  EXPECT_NE(other->BeginWrite(false), nullptr);
}

TEST_F(TreeTest, GrowsByRebuildAndKeepsOldViewsValid) {
  auto t = OpenTree(1 << 18);
  {
    auto w = t->BeginWrite();
    w->Put("first", "value");
    w->Commit(1);
  }
  ReadTxn old = t->BeginRead();
  const std::string_view view = *old.Get("first");
  std::memcpy(t->UserArea(), "user", 4);
  const uint64_t size0 = t->Stats().file_bytes;
  for (int batch = 0; batch < 20; ++batch) {
    auto w = t->BeginWrite();
    for (int i = 0; i < 500; ++i)
      w->Put("key" + std::to_string(batch * 500 + i), "x" + std::to_string(i));
    w->Commit(2 + batch);
  }
  EXPECT_EQ(view, "value");
  TreeStats s = t->Stats();
  EXPECT_GT(s.file_bytes, size0);
  EXPECT_EQ(s.keys, 10001u);
  EXPECT_EQ(s.applied_id, 21u);
  EXPECT_EQ(std::memcmp(t->UserArea(), "user", 4), 0);
  t->Verify();
  auto reopened = Tree::Open(dir_.File("state"));
  EXPECT_EQ(reopened->BeginRead().KeyCount(), 10001u);
}

TEST_F(TreeTest, NestedReadsAndStats) {
  auto t = OpenTree();
  ReadTxn a = t->BeginRead();
  {
    auto w = t->BeginWrite();
    w->Put("k", "v");
    w->Commit(1);
  }
  ReadTxn b = t->BeginRead();
  EXPECT_FALSE(a.Get("k"));
  EXPECT_EQ(*b.Get("k"), "v");
  TreeStats s = t->Stats();
  EXPECT_EQ(s.oldest_pinned_version, a.Version());
  EXPECT_LT(s.oldest_pinned_version, s.version);
  EXPECT_EQ(s.reader_slots_in_use, 1u);
}

// A file superseded by one that cannot be mapped (here: empty) is read on, and PATH is not
// opened again at every read: at most once per 10 ms, counted by inotify's open events.
TEST_F(TreeTest, ReadsOnAFileTheyCannotLeaveDoNotLookAtThePathEachTime) {
  const std::string path = dir_.File("state");
  auto t = OpenTree();
  {
    auto w = t->BeginWrite();
    w->Put("k", "v");
    w->Commit(1);
  }
  ASSERT_TRUE(t->BeginRead().Get("k"));  // This thread's slot, before PATH changes.
  {
    std::unique_ptr<Mapping> m = MapFile(path);
    ASSERT_EQ(std::rename(path.c_str(), dir_.File("aside").c_str()), 0);
    std::FILE* f = std::fopen(path.c_str(), "w");
    ASSERT_NE(f, nullptr);
    std::fclose(f);
    m->header->replaced.store(1);
    m->header->current.fetch_or(kSupersededBit);
  }
  const int fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  ASSERT_GE(fd, 0);
  ASSERT_GE(inotify_add_watch(fd, path.c_str(), IN_OPEN), 0);
  // Drained after every read: inotify merges an event into an identical one still unread.
  int opens = 0;
  const auto drain = [&] {
    alignas(inotify_event) char buf[4096];
    for (ssize_t n; (n = read(fd, buf, sizeof(buf))) > 0;) {
      for (char* p = buf; p < buf + n;
           p += sizeof(inotify_event) + reinterpret_cast<inotify_event*>(p)->len) {
        ++opens;
      }
    }
  };
  const auto start = std::chrono::steady_clock::now();
  constexpr int kReads = 5'000;
  for (int i = 0; i < kReads; ++i) {
    ASSERT_EQ(*t->BeginRead().Get("k"), "v");
    drain();
  }
  const auto elapsed = std::chrono::steady_clock::now() - start;
  close(fd);
  // One look per 10 ms, and one more for the interval that had begun.
  const int allowed = 2 + static_cast<int>(elapsed / std::chrono::milliseconds(10));
  EXPECT_LE(opens, allowed)
      << kReads << " reads opened PATH " << opens << " times in "
      << std::chrono::duration_cast<std::chrono::milliseconds>(elapsed).count() << " ms";
}

// Keys each a prefix of the next make a tree as deep as they are many: deeper than the frames
// an iterator keeps in itself.
TEST_F(TreeTest, ScanOfATreeDeeperThanTheIteratorsOwnFrames) {
  auto t = OpenTree();
  std::vector<std::string> keys;
  {
    auto w = t->BeginWrite();
    for (int i = 1; i <= 60; ++i) {
      keys.push_back(std::string(i, 'a'));
      w->Put(keys.back(), std::to_string(i));
      w->Put(keys.back() + "b", "b");
    }
    w->Commit(1);
  }
  ReadTxn r = t->BeginRead();
  std::vector<std::string> seen;
  r.Scan("a", [&](std::string_view k, std::string_view) {
    if (k.back() == 'a') seen.emplace_back(k);
    return true;
  });
  EXPECT_EQ(seen, keys);
  Iterator it = r.LowerBound(std::string(40, 'a') + "c");
  ASSERT_TRUE(it.Valid());
  EXPECT_EQ(it.key(), std::string(39, 'a') + "b");
}

TEST_F(TreeTest, CompactKeepsContents) {
  auto t = OpenTree();
  {
    auto w = t->BeginWrite();
    for (int i = 0; i < 1000; ++i) w->Put("k" + std::to_string(i), std::string(i % 50, 'v'));
    w->Commit(3);
  }
  {
    auto w = t->BeginWrite();
    for (int i = 0; i < 1000; i += 2) w->Erase("k" + std::to_string(i));
    w->Commit(4);
  }
  t->Compact();
  // The file it replaced is gone, not left where the rebuild built its own.
  EXPECT_FALSE(std::filesystem::exists(dir_.File("state.rebuild")));
  ReadTxn r = t->BeginRead();
  EXPECT_EQ(r.KeyCount(), 500u);
  EXPECT_EQ(r.AppliedId(), 4u);
  EXPECT_EQ(*r.Get("k999"), std::string(999 % 50, 'v'));
  t->Verify();
}

}  // namespace
}  // namespace whycache::tree
