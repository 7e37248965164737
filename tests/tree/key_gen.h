// Random keys and values shaped like the tree's hard cases, for the tree's tests.
#ifndef WHYCACHE_TESTS_TREE_KEY_GEN_H_
#define WHYCACHE_TESTS_TREE_KEY_GEN_H_

#include <cstdint>
#include <cstdio>
#include <random>
#include <string>

namespace whycache::tree {

// Keys of several shapes (text with shared prefixes, binary with NUL bytes and prefixes of one
// another, long paths) and values of varied sizes, drawn from the caller's generator.
class KeyGen {
 public:
  explicit KeyGen(std::mt19937_64& rng) : rng_(rng) {}

  std::string Key() {
    switch (Pick(10)) {
      case 0:
      case 1:
      case 2:
      case 3: {
        // Text with long shared prefixes, as permissions and feature flags look.
        char buf[96];
        std::snprintf(buf, sizeof(buf), "user:%llu:perm:%llx",
                      static_cast<unsigned long long>(Pick(200)),
                      static_cast<unsigned long long>(Pick(64)));
        std::string k = buf;
        if (Pick(4) == 0) k.resize(Pick(k.size() + 1));  // Prefixes of other keys.
        return k;
      }
      case 4:
      case 5:
      case 6: {
        // Binary from a small alphabet (NUL included): many keys are prefixes of others.
        static const char kAlphabet[] = {'\0', '\1', 'a', '\x7f', '\x80', '\xff'};
        std::string k(Pick(7), '\0');
        for (char& c : k) c = kAlphabet[Pick(sizeof(kAlphabet))];
        return k;
      }
      case 7:
      case 8: {
        std::string k(1 + Pick(24), '\0');
        for (char& c : k) c = static_cast<char>(Pick(256));
        return k;
      }
      default: {
        // Long keys sharing a long prefix: deep compressed paths.
        std::string k(200 + Pick(8), 'p');
        k += std::to_string(Pick(100));
        if (Pick(50) == 0) k.append(3800, 'q');
        return k;
      }
    }
  }

  std::string Value() {
    size_t n = Pick(20) == 0 ? Pick(3000) : Pick(40);
    if (Pick(2000) == 0) n = 100'000 + Pick(100'000);
    std::string v(n, '\0');
    const char c = static_cast<char>(Pick(256));
    for (size_t i = 0; i < v.size(); ++i) v[i] = static_cast<char>(c + i);
    return v;
  }

  uint64_t Pick(uint64_t n) { return std::uniform_int_distribution<uint64_t>(0, n - 1)(rng_); }

 private:
  std::mt19937_64& rng_;
};

}  // namespace whycache::tree

#endif  // WHYCACHE_TESTS_TREE_KEY_GEN_H_
