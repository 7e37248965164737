#include "lib/log/mysql/read_servers.h"

#include <unistd.h>

#include <algorithm>

#include "lib/log/mysql/schema.h"

namespace whycache::mysql_log {
namespace {

// FNV-1a, then a 64-bit finalizer (splitmix64's) so that inputs differing in one byte get
// unrelated weights. Fixed here, not std::hash, so that every build ranks replicas alike.
uint64_t Weight(std::string_view text) {
  uint64_t h = 0xcbf29ce484222325ULL;
  for (unsigned char c : text) h = (h ^ c) * 0x100000001b3ULL;
  h ^= h >> 30;
  h *= 0xbf58476d1ce4e5b9ULL;
  h ^= h >> 27;
  h *= 0x94d049bb133111ebULL;
  return h ^ (h >> 31);
}

}  // namespace

std::vector<size_t> ReplicaPreference(const MysqlUri& uri, std::string_view machine) {
  // The log, not the whole URI: parameters and the list's order must not move machines.
  const std::string log = std::string(machine) + '\n' + uri.host + ':' + std::to_string(uri.port) +
                          '\n' + uri.socket + '\n' + uri.database + '\n' + uri.table_prefix + '\n';
  std::vector<std::pair<uint64_t, size_t>> ranked;
  for (size_t i = 0; i < uri.replicas.size(); ++i) {
    ranked.emplace_back(Weight(log + uri.replicas[i].Address()), i);
  }
  std::sort(ranked.begin(), ranked.end(), [](const auto& a, const auto& b) {
    return a.first != b.first ? a.first > b.first : a.second < b.second;
  });
  std::vector<size_t> order;
  for (const auto& [weight, i] : ranked) order.push_back(i);
  return order;
}

std::string MachineName(const MysqlUri& uri, const MysqlLogOptions& options) {
  if (!uri.machine.empty()) return uri.machine;
  if (!options.machine_name.empty()) return options.machine_name;
  char name[256] = {};
  if (gethostname(name, sizeof(name) - 1) != 0) return "";
  return name;
}

ReadServers::ReadServers(const MysqlUri& uri, MysqlConnection& primary,
                         const MysqlLogOptions& options)
    : options_(options), primary_(primary) {
  if (uri.replicas.empty()) return;
  const auto budget = std::min(options.reconnect_budget, options.replica_reconnect_budget);
  for (size_t i : ReplicaPreference(uri, MachineName(uri, options))) {
    replicas_.push_back(std::make_unique<MysqlConnection>(uri.ReplicaUri(i), budget));
  }
  MysqlUri probe = uri;
  probe.replicas.clear();
  probe_ = std::make_unique<MysqlConnection>(probe, std::chrono::milliseconds(0));
}

void ReadServers::Refresh() {
  if (replicas_.empty()) return;
  const Clock::time_point now = Clock::now();
  if (now >= next_sample_) {
    next_sample_ = now + options_.lag_sample_interval;
    std::optional<uint64_t> primary_head;
    try {
      const uint64_t head = probe_->Run([&](int) { return ReadMetaColumn(*probe_, "head_id"); });
      primary_heads_.emplace_back(now, head);
      primary_head = head;
      // Keep the newest sample at or before the cutoff, and all after it.
      while (primary_heads_.size() >= 2 &&
             primary_heads_[1].first <= now - options_.max_replica_lag) {
        primary_heads_.pop_front();
      }
    } catch (const std::exception& e) {  // Error, or sql::SQLException from the statement.
      // The primary is down or unreadable: lag cannot be judged; replicas keep serving.
      lag_unmeasured_ = std::string("the primary cannot be read: ") + e.what();
    }
    std::string why;
    uint64_t head = 0;
    if (!OnPrimary() && !Usable(current_, &why, &head)) {
      MoveOn(why);
    } else if (!OnPrimary() && primary_head) {
      updates_behind_ = static_cast<int64_t>(*primary_head - std::min(*primary_head, head));
      lag_unmeasured_.clear();
    } else if (!OnPrimary()) {
      updates_behind_ = -1;
    }
  }
  if (current_ != 0 && now >= retry_at_) SelectFrom(0);
}

void ReadServers::MoveOn(const std::string& why) {
  last_failover_ = Current().uri().Endpoint() + ": " + why;
  SelectFrom(current_ + 1);
}

void ReadServers::SelectFrom(size_t from) {
  const size_t previous = current_;
  current_ = from;
  std::string why;
  uint64_t head = 0;
  while (!OnPrimary() && !Usable(current_, &why, &head)) {
    last_failover_ = replicas_[current_]->uri().Endpoint() + ": " + why;
    ++current_;
  }
  if (current_ != previous) {
    updates_behind_ = -1;
    lag_unmeasured_ = "not sampled since reads moved here";
  }
  retry_at_ = Clock::now() + options_.replica_retry_interval;
}

ChangeLog::ReadServer ReadServers::Status() const {
  ChangeLog::ReadServer status;
  status.server = Current().uri().Endpoint();
  status.on_primary = OnPrimary();
  status.updates_behind = OnPrimary() ? 0 : updates_behind_;
  if (status.updates_behind < 0) {
    status.lag_unmeasured = lag_unmeasured_.empty() ? "not sampled yet" : lag_unmeasured_;
  }
  status.last_failover = last_failover_;
  return status;
}

bool ReadServers::Usable(size_t i, std::string* why, uint64_t* head) {
  MysqlConnection& replica = *replicas_[i];
  try {
    try {
      *head = replica.Run([&](int) { return ReadMetaColumn(replica, "head_id"); });
    } catch (const sql::SQLException& e) {
      replica.Fail("reading head_id", e);
    }
  } catch (const Error& e) {
    *why = e.what();
    return false;
  }
  const std::optional<uint64_t> bound = LagBound(Clock::now());
  if (bound && *head < *bound) {
    *why = "its head id " + std::to_string(*head) + " is below " + std::to_string(*bound) +
           ", the primary's head id more than " + std::to_string(options_.max_replica_lag.count()) +
           " ms ago";
    return false;
  }
  return true;
}

std::optional<uint64_t> ReadServers::LagBound(Clock::time_point now) const {
  if (primary_heads_.empty() || primary_heads_.front().first > now - options_.max_replica_lag) {
    return std::nullopt;
  }
  return primary_heads_.front().second;
}

}  // namespace whycache::mysql_log
