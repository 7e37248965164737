// One data set in three stores for point-get benchmarks: the tree, std::unordered_map and LMDB,
// holding the same random keys ("key:%016llx") and values, with one sequence of random existing
// keys to look up. Comparing peers built from the same data in the same run keeps the drift of
// a shared machine out of their ratios. The tree and the map are loaded in the keys' random
// order, LMDB in key order (see LmdbPeer::Load).
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
#include "lib/bench/probe_sequence.h"
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

  // The i-th key to look up (see ProbeSequence).
  std::string_view Probe(size_t i) const { return probes_[i]; }

  // Each looks Probe(i) up in one store and says whether it was found (it always should be).
  // The tree's get runs in a read transaction of its own, LMDB's too: begun and aborted for
  // LmdbGet, a kept handle renewed for LmdbRenewedGet.
  bool TreeGet(size_t i) const { return tree_->BeginRead().Get(Probe(i)).has_value(); }
  bool MapGet(size_t i) const { return map_.find(Probe(i)) != map_.end(); }
  bool LmdbGet(size_t i) const { return lmdb_->Get(Probe(i)); }
  bool LmdbRenewedGet(size_t i) const { return LmdbPeer::RenewedRead(*lmdb_).Get(Probe(i)); }

  // Probe(first) to Probe(first + n - 1) in one read transaction, as a request that reads
  // several keys does: how many were found.
  size_t TreeGets(size_t first, size_t n) const {
    const tree::ReadTxn r = tree_->BeginRead();
    size_t found = 0;
    for (size_t i = first; i < first + n; ++i) found += r.Get(Probe(i)).has_value();
    return found;
  }
  size_t LmdbRenewedGets(size_t first, size_t n) const {
    const LmdbPeer::RenewedRead r(*lmdb_);
    size_t found = 0;
    for (size_t i = first; i < first + n; ++i) found += r.Get(Probe(i));
    return found;
  }

  tree::Tree& tree() const { return *tree_; }
  const std::string& tree_path() const { return tree_path_; }
  double tree_load_seconds() const { return tree_load_seconds_; }
  const PointGetOptions& options() const { return options_; }
  size_t key_bytes() const { return probes_.key_bytes(); }

 private:
  // std::hash<std::string>, made transparent so that finding a string_view allocates nothing.
  struct KeyHash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };

  PointGetOptions options_;
  std::string tree_path_;
  ProbeSequence probes_;
  std::unique_ptr<tree::Tree> tree_;
  double tree_load_seconds_ = 0;
  std::unordered_map<std::string, std::string, KeyHash, std::equal_to<>> map_;
  std::unique_ptr<LmdbPeer> lmdb_;
};

}  // namespace whycache::bench

#endif  // WHYCACHE_LIB_BENCH_POINT_GET_DATASET_H_
