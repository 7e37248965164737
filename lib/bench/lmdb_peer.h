// LMDB as a peer of the tree in point-get benchmarks: the same entries in an LMDB environment,
// read with one read-only transaction per get, the way a process of a fleet would read it.
#ifndef WHYCACHE_LIB_BENCH_LMDB_PEER_H_
#define WHYCACHE_LIB_BENCH_LMDB_PEER_H_

#include <lmdb.h>

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace whycache::bench {

class LmdbPeer {
 public:
  // Creates an environment in the existing directory `dir`, with durability off (the benchmark
  // measures reads). Throws Error(kIOError) naming the directory if LMDB refuses.
  explicit LmdbPeer(const std::string& dir);
  ~LmdbPeer();
  LmdbPeer(const LmdbPeer&) = delete;
  LmdbPeer& operator=(const LmdbPeer&) = delete;

  // Puts keys[i] -> NumberedValue(i, value_bytes) for every i, in transactions of 100,000.
  void Load(const std::vector<std::string>& keys, size_t value_bytes);

  // Looks `key` up in a read-only transaction of its own; returns whether it is there.
  bool Get(std::string_view key) const;

 private:
  void Check(int rc, const char* what) const;

  std::string dir_;
  MDB_env* env_ = nullptr;
  MDB_dbi dbi_ = 0;
};

}  // namespace whycache::bench

#endif  // WHYCACHE_LIB_BENCH_LMDB_PEER_H_
