#include "lib/bench/point_get_dataset.h"

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <random>
#include <system_error>

#include "lib/bench/workload.h"

namespace whycache::bench {

PointGetDataset::PointGetDataset(const PointGetOptions& options)
    : options_(options), tree_path_(options.dir + "/state") {
  std::filesystem::create_directories(options_.dir);
  std::mt19937_64 rng(options_.seed);
  std::vector<uint64_t> numbers(options_.keys);
  for (uint64_t& n : numbers) n = rng();
  std::vector<std::string> keys;
  keys.reserve(options_.keys);
  for (const uint64_t n : numbers) keys.push_back(HexKey(n));
  probes_ = ProbeSequence(keys, options_.probe_count, rng);

  tree::TreeOptions tree_options;
  tree_options.initial_file_bytes = uint64_t{64} << 20;
  tree_ = tree::Tree::Open(tree_path_, tree_options);
  const auto start = std::chrono::steady_clock::now();
  for (size_t i = 0; i < options_.keys;) {
    auto w = tree_->BeginWrite();
    for (size_t end = std::min(options_.keys, i + 100'000); i < end; ++i) {
      w->Put(keys[i], NumberedValue(i, options_.value_bytes));
    }
    w->Commit(i);
  }
  tree_load_seconds_ =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

  map_.reserve(options_.keys);
  for (size_t i = 0; i < options_.keys; ++i) {
    map_.emplace(keys[i], NumberedValue(i, options_.value_bytes));
  }
  // LMDB appends in key order, which HexKey's fixed width makes the numbers' order.
  keys.clear();
  std::sort(numbers.begin(), numbers.end());
  numbers.erase(std::unique(numbers.begin(), numbers.end()), numbers.end());
  for (const uint64_t n : numbers) keys.push_back(HexKey(n));
  lmdb_ = std::make_unique<LmdbPeer>(options_.dir);
  lmdb_->Load(keys, options_.value_bytes);
}

PointGetDataset::~PointGetDataset() {
  tree_.reset();
  lmdb_.reset();
  std::error_code ignored;
  std::filesystem::remove_all(options_.dir, ignored);
}

}  // namespace whycache::bench
