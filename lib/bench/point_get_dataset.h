// One data set in three stores for point-get benchmarks: the tree, std::unordered_map and LMDB,
// holding the same random keys ("key:%016llx") and values, with one sequence of random existing
// keys to look up. Comparing peers built from the same data in the same run keeps the drift of
// a shared machine out of their ratios.
#ifndef WHYCACHE_LIB_BENCH_POINT_GET_DATASET_H_
#define WHYCACHE_LIB_BENCH_POINT_GET_DATASET_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "lib/bench/lmdb_peer.h"
#include "lib/tree/tree.h"

namespace whycache::bench {

struct PointGetOptions {
  size_t keys = 1'000'000;
  size_t value_bytes = 100;
  // Created if missing; holds the tree's file and LMDB's; removed with everything in it when the
  // data set is destroyed.
  std::string dir;
  uint64_t seed = 1;
  // Length of the probe sequence, a power of two; gets past its end wrap around.
  size_t probe_count = size_t{1} << 22;
};

class PointGetDataset {
 public:
  // Generates the keys and loads all three stores. Throws whycache::Error when a file cannot be
  // made.
  explicit PointGetDataset(const PointGetOptions& options);
  ~PointGetDataset();
  PointGetDataset(const PointGetDataset&) = delete;
  PointGetDataset& operator=(const PointGetDataset&) = delete;

  // The i-th key to look up. The probes lie one after the other in one buffer, so fetching the
  // next costs no cache miss and every miss measured is the store's own.
  std::string_view Probe(size_t i) const {
    return {probes_.data() + (i & (options_.probe_count - 1)) * probe_bytes_, probe_bytes_};
  }

  // Each looks Probe(i) up in one store and says whether it was found (it always should be).
  // The tree's get runs in a read transaction of its own, LMDB's too.
  bool TreeGet(size_t i) const { return tree_->BeginRead().Get(Probe(i)).has_value(); }
  bool MapGet(size_t i) const { return map_.find(Probe(i)) != map_.end(); }
  bool LmdbGet(size_t i) const { return lmdb_->Get(Probe(i)); }

  tree::Tree& tree() const { return *tree_; }
  const std::string& tree_path() const { return tree_path_; }
  double tree_load_seconds() const { return tree_load_seconds_; }
  const PointGetOptions& options() const { return options_; }
  size_t key_bytes() const { return probe_bytes_; }

 private:
  // std::hash<std::string>, made transparent so that finding a string_view allocates nothing.
  struct KeyHash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };

  PointGetOptions options_;
  std::string tree_path_;
  std::string probes_;
  size_t probe_bytes_ = 0;
  std::unique_ptr<tree::Tree> tree_;
  double tree_load_seconds_ = 0;
  std::unordered_map<std::string, std::string, KeyHash, std::equal_to<>> map_;
  std::unique_ptr<LmdbPeer> lmdb_;
};

}  // namespace whycache::bench

#endif  // WHYCACHE_LIB_BENCH_POINT_GET_DATASET_H_
