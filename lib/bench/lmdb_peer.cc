#include "lib/bench/lmdb_peer.h"

#include <algorithm>

#include "lib/bench/workload.h"
#include "whycache/error.h"

namespace whycache::bench {

LmdbPeer::LmdbPeer(const std::string& dir) : dir_(dir) {
  Check(mdb_env_create(&env_), "mdb_env_create");
  // Address space only: the file grows with the data.
  Check(mdb_env_set_mapsize(env_, size_t{16} << 30), "mdb_env_set_mapsize");
  Check(mdb_env_open(env_, dir.c_str(), MDB_NOSYNC | MDB_NOMETASYNC, 0644), "mdb_env_open");
}

LmdbPeer::~LmdbPeer() {
  if (kept_ != nullptr) mdb_txn_abort(kept_);
  mdb_env_close(env_);
}

void LmdbPeer::Check(int rc, const char* what) const {
  if (rc != 0) {
    throw Error(Error::Code::kIOError,
                std::string("LMDB in ") + dir_ + ": " + what + ": " + mdb_strerror(rc));
  }
}

void LmdbPeer::Load(const std::vector<std::string>& keys, size_t value_bytes) {
  for (size_t i = 0; i < keys.size();) {
    MDB_txn* txn;
    Check(mdb_txn_begin(env_, nullptr, 0, &txn), "mdb_txn_begin");
    Check(mdb_dbi_open(txn, nullptr, 0, &dbi_), "mdb_dbi_open");
    for (size_t end = std::min(keys.size(), i + 100'000); i < end; ++i) {
      std::string v = NumberedValue(i, value_bytes);
      MDB_val k{keys[i].size(), const_cast<char*>(keys[i].data())};
      MDB_val val{v.size(), v.data()};
      Check(mdb_put(txn, dbi_, &k, &val, MDB_APPEND), "mdb_put");
    }
    Check(mdb_txn_commit(txn), "mdb_txn_commit");
  }
  if (kept_ == nullptr) {
    Check(mdb_txn_begin(env_, nullptr, MDB_RDONLY, &kept_), "mdb_txn_begin");
    mdb_txn_reset(kept_);
  }
}

bool LmdbPeer::GetIn(MDB_txn* txn, std::string_view key) const {
  MDB_val k{key.size(), const_cast<char*>(key.data())};
  MDB_val v;
  const int rc = mdb_get(txn, dbi_, &k, &v);
  if (rc != MDB_NOTFOUND) Check(rc, "mdb_get");
  return rc == 0;
}

bool LmdbPeer::Get(std::string_view key) const {
  MDB_txn* txn;
  Check(mdb_txn_begin(env_, nullptr, MDB_RDONLY, &txn), "mdb_txn_begin");
  const bool found = GetIn(txn, key);
  mdb_txn_abort(txn);
  return found;
}

LmdbPeer::RenewedRead::RenewedRead(const LmdbPeer& peer) : peer_(peer) {
  peer_.Check(mdb_txn_renew(peer_.kept_), "mdb_txn_renew");
}

LmdbPeer::RenewedRead::~RenewedRead() { mdb_txn_reset(peer_.kept_); }

bool LmdbPeer::RenewedRead::Get(std::string_view key) const {
  return peer_.GetIn(peer_.kept_, key);
}

}  // namespace whycache::bench
