#include "tests/cache/cache_test_util.h"

#include "lib/format/escape.h"

namespace whycache::testing {
namespace {

std::string RandomKey(std::mt19937_64& rng) {
  const uint64_t n = rng() % 300;
  switch (rng() % 3) {
    case 0:
      return "user:" + std::to_string(n) + ":perm";
    case 1:
      return "flag:" + std::to_string(n % 40) + ":" + std::to_string(n);
    default:
      return std::string("bin\0", 4) + static_cast<char>(n & 0xff) + std::string(1, '\0');
  }
}

std::string RandomValue(std::mt19937_64& rng) {
  std::string v(rng() % 8 == 0 ? 0 : rng() % 200, '\0');
  for (char& c : v) c = static_cast<char>(rng());
  return v;
}

}  // namespace

std::vector<Mutation> RandomBatch(std::mt19937_64& rng) {
  std::vector<Mutation> batch(1 + rng() % 16);
  for (Mutation& m : batch) {
    if (rng() % 64 == 0) {
      // A cut of a key: from one key ("user:17:perm") to a few ("flag:3:") to a third of them
      // ("u").
      std::string prefix = RandomKey(rng);
      prefix.resize(1 + rng() % prefix.size());
      m = Mutation::ErasePrefix(std::move(prefix));
    } else {
      m = rng() % 4 == 0 ? Mutation::Delete(RandomKey(rng))
                         : Mutation::Set(RandomKey(rng), RandomValue(rng));
    }
  }
  return batch;
}

void ApplyToModel(const Update& update, Model* model) { ApplyMutations(update.mutations, model); }

Model ReplayLog(ChangeLog& log) {
  Model model;
  uint64_t after = 0;
  for (;;) {
    std::vector<Update> page = log.ReadAfter(after, 4096);
    if (page.empty()) return model;
    for (const Update& u : page) ApplyToModel(u, &model);
    after = page.back().id;
  }
}

Model ScanAll(Cache& cache) {
  Model state;
  ReadTransaction txn = cache.BeginRead();
  txn.Scan("", [&](std::string_view k, std::string_view v) {
    state.emplace(k, v);
    return true;
  });
  return state;
}

std::string FirstDifference(const Model& expected, const Model& actual) {
  const std::string sizes = " (" + std::to_string(expected.size()) + " keys expected, " +
                            std::to_string(actual.size()) + " found)";
  auto e = expected.begin();
  auto a = actual.begin();
  for (; e != expected.end() && a != actual.end(); ++e, ++a) {
    if (e->first < a->first) return "key '" + format::EscapeBytes(e->first) + "' missing" + sizes;
    if (a->first < e->first) return "key '" + format::EscapeBytes(a->first) + "' extra" + sizes;
    if (e->second != a->second) return "value of '" + format::EscapeBytes(e->first) + "' differs";
  }
  if (e != expected.end()) return "key '" + format::EscapeBytes(e->first) + "' missing" + sizes;
  if (a != actual.end()) return "key '" + format::EscapeBytes(a->first) + "' extra" + sizes;
  return "";
}

}  // namespace whycache::testing
