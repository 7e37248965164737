// The keys, values and log histories benchmarks work on, so that every benchmark of the project
// (the `whycache bench` suite and the Google Benchmark binaries) measures the same data.
#ifndef WHYCACHE_LIB_BENCH_WORKLOAD_H_
#define WHYCACHE_LIB_BENCH_WORKLOAD_H_

#include <cstddef>
#include <cstdint>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "whycache/change_log.h"

namespace whycache::bench {

// "key:" and 16 hex digits of `n`: 20 bytes of hex text, like the ids real keys carry, where a
// radix tree gets deep.
std::string HexKey(uint64_t n);

// `bytes` bytes that differ with `i`: i's bytes, then a letter repeated.
std::string NumberedValue(size_t i, size_t bytes);

// `bytes` pseudo-random bytes: incompressible, so that a figure of bytes written, read or
// compressed is not flattered by values that shrink to nothing.
std::string RandomValue(std::mt19937_64& rng, size_t bytes);

// A batch of `keys` sets of "key:N" (decimal N from serial * keys) to 100-byte random values.
std::vector<Mutation> SerialBatch(std::mt19937_64& rng, size_t keys, uint64_t serial);

// Appends `count` sets of HexKey(rng()) to `value` in batches of `batch_size` (the last one may
// be smaller). Returns the keys in the order written.
std::vector<std::string> AppendRandomKeys(ChangeLog& log, size_t count, size_t batch_size,
                                          std::string_view value, std::mt19937_64& rng);

// Like AppendRandomKeys, but each key's value is RandomValue(rng, value_bytes).
std::vector<std::string> AppendRandomEntries(ChangeLog& log, size_t count, size_t batch_size,
                                             size_t value_bytes, std::mt19937_64& rng);

// A history for compaction to shrink: `mutations` sets of 100-byte random values over `keys`
// keys ("key:N"), each key once first and then random ones, in batches of 100. Compacting it
// all keeps `keys` entries.
void AppendOverwriteHistory(ChangeLog& log, uint64_t mutations, uint64_t keys,
                            std::mt19937_64& rng);

// Reads the log from its start with a cursor, 1000 updates a page, and returns the mutations
// read. Reads at most `max_pages` pages, so a log that keeps growing cannot hold it forever.
size_t ReadAllMutations(ChangeLog& log, size_t max_pages);

}  // namespace whycache::bench

#endif  // WHYCACHE_LIB_BENCH_WORKLOAD_H_
