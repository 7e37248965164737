#include "lib/bench/point_get_dataset.h"

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
  std::vector<std::string> keys;
  keys.reserve(options_.keys);
  for (size_t i = 0; i < options_.keys; ++i) keys.push_back(HexKey(rng()));
  probe_bytes_ = keys[0].size();
  probes_.reserve(options_.probe_count * probe_bytes_);
  for (size_t i = 0; i < options_.probe_count; ++i) probes_ += keys[rng() % options_.keys];

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
