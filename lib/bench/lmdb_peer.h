// LMDB as a peer of the tree in point-get benchmarks: the same entries in an LMDB environment,
// read in read-only transactions two ways: one begun and aborted per read (the obvious code),
// and one handle kept and renewed per read (mdb_txn_reset/mdb_txn_renew, the fast path LMDB's
// documentation gives for repeated reads).
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

  // Puts keys[i] -> NumberedValue(i, value_bytes) for every i, in transactions of 100,000,
  // appending (MDB_APPEND): the pages come out full, as in a compacted copy (mdb_copy -c), and
  // the load takes seconds where random inserts of 10M keys take minutes. Then makes the
  // read-only transaction handle RenewedRead renews. REQUIRES: `keys` ascending, no duplicates.
  void Load(const std::vector<std::string>& keys, size_t value_bytes);

  // Looks `key` up in a read-only transaction begun and aborted for it; returns whether it is
  // there.
  bool Get(std::string_view key) const;

  // A read transaction on the handle the peer keeps: renewed on construction, reset on
  // destruction. Single-threaded like the peer; at most one at a time. REQUIRES: Load() has
  // returned.
  class RenewedRead {
   public:
    explicit RenewedRead(const LmdbPeer& peer);
    ~RenewedRead();
    RenewedRead(const RenewedRead&) = delete;
    RenewedRead& operator=(const RenewedRead&) = delete;

    // Whether `key` is there.
    bool Get(std::string_view key) const;

   private:
    const LmdbPeer& peer_;
  };

 private:
  void Check(int rc, const char* what) const;
  bool GetIn(MDB_txn* txn, std::string_view key) const;

  std::string dir_;
  MDB_env* env_ = nullptr;
  MDB_dbi dbi_ = 0;
  // Begun after loading, reset between RenewedReads.
  MDB_txn* kept_ = nullptr;
};

}  // namespace whycache::bench

#endif  // WHYCACHE_LIB_BENCH_LMDB_PEER_H_
