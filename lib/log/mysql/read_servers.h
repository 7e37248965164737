// Which server a MySQL log's reads go to when its URI names replicas: the replica this machine
// prefers, failing over to the next replica and then to the primary when one is unreachable or
// lags, and going back to the preferred one once it serves again.
//
// The preference is rendezvous hashing: every replica gets a weight hashed from the machine's
// name, the log (primary, database, table prefix) and the replica's address, and a machine tries
// the replicas by falling weight. A fleet thus spreads evenly over the replicas, a machine keeps
// its choice across restarts, and adding or removing a replica moves only the machines that
// prefer it.
//
// Lag: at most once per MysqlLogOptions::lag_sample_interval, a read first samples the primary's
// head id (one single-row SELECT on a connection of its own that makes one connect attempt, so
// that a primary that is down costs a poll no waiting) and the head id of the replica it reads
// from. A replica whose head is below the head the primary had max_replica_lag ago is skipped
// like an unreachable one. A SELECT-only account cannot run SHOW SLAVE STATUS, and the head ids
// measure what a machine sees. A replica is judged only once the machine has sampled the primary
// for max_replica_lag; while the primary cannot be reached, lag is not judged at all.
//
// Reads move on when a replica cannot be reached within replica_reconnect_budget (or is refused),
// or lags; the primary, the last resort, gets the whole reconnect budget. Every
// replica_retry_interval a machine that is not on its preferred replica tries again from the
// top of its order.
#ifndef WHYCACHE_LIB_LOG_MYSQL_READ_SERVERS_H_
#define WHYCACHE_LIB_LOG_MYSQL_READ_SERVERS_H_

#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "lib/log/mysql/connection.h"
#include "lib/log/mysql/mysql_log_options.h"
#include "lib/log/mysql/mysql_uri.h"
#include "whycache/change_log.h"
#include "whycache/error.h"

namespace whycache::mysql_log {

// The indices of uri.replicas in the order a machine named `machine` tries them.
std::vector<size_t> ReplicaPreference(const MysqlUri& uri, std::string_view machine);

// The name of this machine for ReplicaPreference: uri.machine, else options.machine_name, else
// the host name.
std::string MachineName(const MysqlUri& uri, const MysqlLogOptions& options);

// Thread-safety: none; it belongs to one MysqlChangeLog.
class ReadServers {
 public:
  // `primary` is the log's connection to the primary (uri's server), used for reads only when no
  // replica serves. REQUIRES: `primary` outlives this object.
  ReadServers(const MysqlUri& uri, MysqlConnection& primary, const MysqlLogOptions& options);

  // Runs `work(connection)` (a whole read, safe to repeat) on the server reads go to and returns
  // its result. A lost connection is retried on the same server within its reconnect budget; when
  // that server stays unreachable, or fails with Error(kUnavailable) (e.g. a replica that lacks
  // the log's tables), the work runs again on the next server of the order. Errors of the last
  // server, the primary, propagate; other SQL errors become Error(kUnavailable) from
  // `doing()`, which names what was being done.
  template <typename Work, typename Doing>
  auto Run(Work&& work, Doing&& doing) {
    Refresh();
    for (;;) {
      MysqlConnection& connection = Current();
      try {
        try {
          return connection.Run([&](int) { return work(connection); });
        } catch (const sql::SQLException& e) {
          connection.Fail(doing(), e);
        }
      } catch (const Error& e) {
        if (e.code() != Error::Code::kUnavailable || OnPrimary()) throw;
        MoveOn(e.what());
      }
    }
  }

  // The server reads go to now and how far behind the primary it was at the last lag sample
  // taken since reads went to it (ChangeLog::ReadServer).
  ChangeLog::ReadServer Status() const;
  bool OnPrimary() const { return current_ == replicas_.size(); }

 private:
  using Clock = std::chrono::steady_clock;

  MysqlConnection& Current() { return OnPrimary() ? primary_ : *replicas_[current_]; }
  const MysqlConnection& Current() const { return OnPrimary() ? primary_ : *replicas_[current_]; }
  // Samples lag when due, and goes back to the top of the order when the retry is due.
  void Refresh();
  // Leaves the current server for the next usable one after it.
  void MoveOn(const std::string& why);
  // The first usable server at or after `from`; the primary when no replica is.
  void SelectFrom(size_t from);
  // Whether replica i answers and is not lagging, with its head id in *head; sets *why otherwise.
  bool Usable(size_t i, std::string* why, uint64_t* head);
  // The head id the primary had max_replica_lag ago, if the samples reach back that far.
  std::optional<uint64_t> LagBound(Clock::time_point now) const;

  const MysqlLogOptions options_;
  MysqlConnection& primary_;
  std::vector<std::unique_ptr<MysqlConnection>> replicas_;  // In this machine's order.
  std::unique_ptr<MysqlConnection> probe_;                  // To the primary, for lag samples.
  size_t current_ = 0;
  int64_t updates_behind_ = -1;
  std::string lag_unmeasured_;  // Why the last sample measured no lag.
  std::deque<std::pair<Clock::time_point, uint64_t>> primary_heads_;  // Oldest first.
  Clock::time_point next_sample_{};
  Clock::time_point retry_at_{};
  std::string last_failover_;
};

}  // namespace whycache::mysql_log

#endif  // WHYCACHE_LIB_LOG_MYSQL_READ_SERVERS_H_
