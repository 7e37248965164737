// A MySQL log of its own for one benchmark run, in the database of a URI the user gave: tables
// under a fresh prefix, created on construction and dropped on destruction, so that a benchmark
// never writes into a dataset.
#ifndef WHYCACHE_LIB_BENCH_MYSQL_SCRATCH_LOG_H_
#define WHYCACHE_LIB_BENCH_MYSQL_SCRATCH_LOG_H_

#include <string>

#include "lib/log/mysql/mysql_uri.h"

namespace whycache::bench {

class MysqlScratchLog {
 public:
  // Creates the tables of a log prefixed "bench_" and random hex digits in the database of
  // `uri` (whose own table prefix is ignored). Throws Error(kInvalidArgument) for a malformed
  // URI and Error(kUnavailable) when the server cannot be reached or refuses.
  explicit MysqlScratchLog(const std::string& uri);
  // Drops the tables; when that fails (a server gone meanwhile), says so on stderr.
  ~MysqlScratchLog();
  MysqlScratchLog(const MysqlScratchLog&) = delete;
  MysqlScratchLog& operator=(const MysqlScratchLog&) = delete;

  // The URI of the scratch log, for OpenChangeLog and CacheOptions::log_uri.
  std::string uri() const { return uri_.Describe(); }

 private:
  mysql_log::MysqlUri uri_;
};

}  // namespace whycache::bench

#endif  // WHYCACHE_LIB_BENCH_MYSQL_SCRATCH_LOG_H_
