// Helpers shared by the cache tests: a random workload, the model (the log replayed into a
// std::map) and whole-state scans.
#ifndef WHYCACHE_TESTS_CACHE_CACHE_TEST_UTIL_H_
#define WHYCACHE_TESTS_CACHE_CACHE_TEST_UTIL_H_

#include <cstdint>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "tests/support/model_state.h"
#include "whycache/cache.h"
#include "whycache/change_log.h"

namespace whycache::testing {

using Model = ModelState;

// A random batch over a few hundred keys that share prefixes (text such as "user:17:perm"
// and binary keys with NUL bytes): sets with binary or empty values, deletes, now and then a
// prefix delete, 1-16 mutations.
std::vector<Mutation> RandomBatch(std::mt19937_64& rng);

// The log replayed from its start: the state every machine must reach.
Model ReplayLog(ChangeLog& log);

// Applies one update to a model.
void ApplyToModel(const Update& update, Model* model);

// Every entry of the cache's current state.
Model ScanAll(Cache& cache);

// A short description of the first difference between two states, or "" when equal.
std::string FirstDifference(const Model& expected, const Model& actual);

}  // namespace whycache::testing

#endif  // WHYCACHE_TESTS_CACHE_CACHE_TEST_UTIL_H_
