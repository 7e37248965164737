#include "lib/bench/workload.h"

#include <algorithm>
#include <cstdio>
#include <cstring>

namespace whycache::bench {

std::string HexKey(uint64_t n) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "key:%016llx", static_cast<unsigned long long>(n));
  return buf;
}

std::string NumberedValue(size_t i, size_t bytes) {
  std::string v(bytes, static_cast<char>('a' + i % 26));
  std::memcpy(v.data(), &i, std::min(bytes, sizeof(i)));
  return v;
}

std::string RandomValue(std::mt19937_64& rng, size_t bytes) {
  std::string v(bytes, '\0');
  for (size_t i = 0; i < bytes; i += sizeof(uint64_t)) {
    const uint64_t r = rng();
    std::memcpy(v.data() + i, &r, std::min(sizeof r, bytes - i));
  }
  return v;
}

std::vector<Mutation> SerialBatch(std::mt19937_64& rng, size_t keys, uint64_t serial) {
  std::vector<Mutation> batch;
  batch.reserve(keys);
  for (size_t i = 0; i < keys; ++i) {
    batch.push_back(
        Mutation::Set("key:" + std::to_string(serial * keys + i), RandomValue(rng, 100)));
  }
  return batch;
}

namespace {

// Appends `count` sets of HexKey(rng()) to value(), `batch_size` a batch; returns the keys.
template <typename Value>
std::vector<std::string> AppendKeysWith(ChangeLog& log, size_t count, size_t batch_size,
                                        std::mt19937_64& rng, Value value) {
  std::vector<std::string> keys;
  keys.reserve(count);
  std::vector<Mutation> batch;
  for (size_t i = 0; i < count; ++i) {
    keys.push_back(HexKey(rng()));
    batch.push_back(Mutation::Set(keys.back(), value()));
    if (batch.size() == batch_size || i + 1 == count) {
      log.Append(batch);
      batch.clear();
    }
  }
  return keys;
}

}  // namespace

std::vector<std::string> AppendRandomKeys(ChangeLog& log, size_t count, size_t batch_size,
                                          std::string_view value, std::mt19937_64& rng) {
  return AppendKeysWith(log, count, batch_size, rng, [value] { return std::string(value); });
}

std::vector<std::string> AppendRandomEntries(ChangeLog& log, size_t count, size_t batch_size,
                                             size_t value_bytes, std::mt19937_64& rng) {
  return AppendKeysWith(log, count, batch_size, rng,
                        [&rng, value_bytes] { return RandomValue(rng, value_bytes); });
}

void AppendOverwriteHistory(ChangeLog& log, uint64_t mutations, uint64_t keys,
                            std::mt19937_64& rng) {
  std::vector<Mutation> batch;
  for (uint64_t i = 0; i < mutations; ++i) {
    batch.push_back(
        Mutation::Set("key:" + std::to_string(i < keys ? i : rng() % keys), RandomValue(rng, 100)));
    if (batch.size() == 100 || i + 1 == mutations) {
      log.Append(batch);
      batch.clear();
    }
  }
}

size_t ReadAllMutations(ChangeLog& log, size_t max_pages) {
  uint64_t after = 0;
  size_t read = 0;
  for (size_t page = 0; page < max_pages; ++page) {
    const std::vector<Update> updates = log.ReadAfter(after, 1000);
    if (updates.empty()) break;
    for (const Update& u : updates) read += u.mutations.size();
    after = updates.back().id;
  }
  return read;
}

}  // namespace whycache::bench
