// KeyOrder against std::stable_sort of the keys as strings, on inputs below and far above the
// size where it switches from a comparison sort to a radix sort of the heads.
#include "lib/tree/key_order.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <functional>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "tests/tree/key_gen.h"

namespace whycache::tree {
namespace {

using namespace std::string_literals;

// std::string compares its bytes as unsigned char, the shorter string first on a common prefix:
// the order KeyOrder promises. The stable sort keeps the ops on one key in their order.
std::vector<uint32_t> ModelOrder(const std::vector<std::string>& keys) {
  std::vector<uint32_t> order(keys.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(),
                   [&](uint32_t a, uint32_t b) { return keys[a] < keys[b]; });
  return order;
}

// The head KeyOrder should report for `key`: its first 16 bytes, zero-padded, big-endian.
uint64_t HeadWord(const std::string& key, size_t word) {
  uint64_t v = 0;
  for (size_t i = word * 8; i < word * 8 + 8; ++i) {
    v = v << 8 | (i < key.size() ? static_cast<unsigned char>(key[i]) : 0u);
  }
  return v;
}

void ExpectModelOrder(const std::vector<std::string>& keys) {
  std::vector<WriteTxn::Op> ops;
  for (size_t i = 0; i < keys.size(); ++i) {
    ops.push_back({keys[i], i % 3 == 0 ? std::nullopt : std::optional<std::string_view>("v")});
  }
  const std::vector<KeyedOp> got = KeyOrder(ops);
  const std::vector<uint32_t> want = ModelOrder(keys);
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i) {
    ASSERT_EQ(got[i].op, want[i]) << "position " << i << " of " << got.size();
    const std::string& key = keys[got[i].op];
    ASSERT_EQ(got[i].head[0], HeadWord(key, 0)) << "position " << i;
    ASSERT_EQ(got[i].head[1], HeadWord(key, 1)) << "position " << i;
  }
}

// Sizes around the switch to the radix sort (at 6144 ops) and far above it.
const size_t kSizes[] = {0, 1, 2, 3, 100, 6143, 6144, 6145, 10'000, 60'000};

// Runs `make` for every size, with a few seeds below the largest, and checks the order of the
// keys it returns.
void CheckShape(const std::function<std::string(std::mt19937_64&)>& make) {
  for (size_t n : kSizes) {
    const uint64_t seeds = n > 10'000 ? 1 : 3;
    for (uint64_t seed = 1; seed <= seeds; ++seed) {
      SCOPED_TRACE("n=" + std::to_string(n) + " seed=" + std::to_string(seed));
      std::mt19937_64 rng(seed);
      std::vector<std::string> keys;
      for (size_t i = 0; i < n; ++i) keys.push_back(make(rng));
      ExpectModelOrder(keys);
    }
  }
}

uint64_t Pick(std::mt19937_64& rng, uint64_t n) {
  return std::uniform_int_distribution<uint64_t>(0, n - 1)(rng);
}

std::string RandomBytes(std::mt19937_64& rng, size_t n) {
  std::string s(n, '\0');
  for (char& c : s) c = static_cast<char>(Pick(rng, 256));
  return s;
}

// "key:" and random hex digits, `length` bytes in all.
std::string HexKey(std::mt19937_64& rng, size_t length) {
  std::string key = "key:";
  while (key.size() < length) key += "0123456789abcdef"[Pick(rng, 16)];
  return key;
}

TEST(KeyOrderTest, RandomBinaryKeys) {
  CheckShape([](std::mt19937_64& rng) { return RandomBytes(rng, Pick(rng, 41)); });
}

TEST(KeyOrderTest, HexKeysOfSixteenBytes) {
  CheckShape([](std::mt19937_64& rng) { return HexKey(rng, 16); });
}

TEST(KeyOrderTest, HexKeysOfSeventeenBytes) {
  CheckShape([](std::mt19937_64& rng) { return HexKey(rng, 17); });
}

TEST(KeyOrderTest, HexKeysOfTwentyBytes) {
  CheckShape([](std::mt19937_64& rng) { return HexKey(rng, 20); });
}

TEST(KeyOrderTest, HexKeysOfFortyBytes) {
  CheckShape([](std::mt19937_64& rng) { return HexKey(rng, 40); });
}

// Keys that mostly agree on their heads, so the full keys decide.
TEST(KeyOrderTest, KeysSharingMoreThanTheHead) {
  CheckShape([](std::mt19937_64& rng) {
    char prefix[32];
    std::snprintf(prefix, sizeof(prefix),
                  "user:%012llu:", static_cast<unsigned long long>(Pick(rng, 8)));
    return prefix + HexKey(rng, Pick(rng, 24)).substr(4);
  });
}

// Heads are zero-padded, so "a", "a\0" and "a\0\0" share one; only their lengths differ.
TEST(KeyOrderTest, ShortKeysWithZeroBytes) {
  CheckShape([](std::mt19937_64& rng) {
    static const char kAlphabet[] = {'\0', '\1', 'a', '\x7f', '\x80', '\xff'};
    std::string key(Pick(rng, 7), '\0');
    for (char& c : key) c = kAlphabet[Pick(rng, sizeof(kAlphabet))];
    return key;
  });
}

TEST(KeyOrderTest, ZeroPaddedKeysAndTheEmptyKey) {
  CheckShape([](std::mt19937_64& rng) {
    static const std::string kKeys[] = {""s,
                                        "\0"s,
                                        "a"s,
                                        "a\0"s,
                                        "a\0\0"s,
                                        "a\0\1"s,
                                        "a\1"s,
                                        std::string(16, '\0'),
                                        std::string(17, '\0')};
    return kKeys[Pick(rng, std::size(kKeys))];
  });
}

// Fifty keys of mixed shapes, each the key of many ops.
TEST(KeyOrderTest, ManyOpsPerKey) {
  std::mt19937_64 pool_rng(7);
  KeyGen gen(pool_rng);
  std::vector<std::string> pool;
  for (int i = 0; i < 50; ++i) pool.push_back(gen.Key());
  CheckShape([&](std::mt19937_64& rng) { return pool[Pick(rng, pool.size())]; });
}

TEST(KeyOrderTest, MixedShapes) {
  CheckShape([](std::mt19937_64& rng) { return KeyGen(rng).Key(); });
}

TEST(KeyOrderTest, AllKeysIdentical) {
  CheckShape([](std::mt19937_64&) { return "key:0123456789abcdef"s; });
  CheckShape([](std::mt19937_64&) { return "k"s; });
  CheckShape([](std::mt19937_64&) { return ""s; });
}

}  // namespace
}  // namespace whycache::tree
