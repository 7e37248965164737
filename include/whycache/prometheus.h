// A Cache's figures in the Prometheus text exposition format (version 0.0.4), for services
// that serve their own /metrics page. Needs no Prometheus client library.
//
//   std::string page = whycache::PrometheusText(cache->Stats(), "/dev/shm/flags.state");
//   // Serve `page` with Content-Type "text/plain; version=0.0.4".
//
// Every metric is named whycache_*, with its unit in the name (_seconds, _bytes) and counters
// ending in _total, and carries a label state="..." naming the state file. The last poll error
// is an info-style gauge, whycache_last_error_info{state="...",message="..."} 1, present only
// while there is one; so is whycache_resync_snapshot_unused_info{state="...",reason="..."}.
// Reads of counted key prefixes (CacheOptions::stat_prefixes) on the whole machine are
// whycache_prefix_reads_total{state="...",prefix="...",result="hit"|"miss"}, one pair per prefix.
// Label values are the bytes given with those outside printable ASCII written as \xNN, then
// escaped for the format, so any path or message yields a valid page.
#ifndef WHYCACHE_PROMETHEUS_H_
#define WHYCACHE_PROMETHEUS_H_

#include <span>
#include <string>
#include <string_view>
#include <utility>

#include "whycache/cache.h"

namespace whycache {

// The page for one state file: HELP and TYPE lines and one sample per metric, each labelled
// state="`state_label`" (usually the state file's path). Thread-safe; allocates the result.
std::string PrometheusText(const CacheStats& stats, std::string_view state_label);

// The page for several state files: each metric's samples, one per state, follow its one HELP
// and TYPE line as the format requires, so this is not the concatenation of the pages of each.
// REQUIRES: the state labels (first of each pair) are distinct.
std::string PrometheusText(std::span<const std::pair<std::string, CacheStats>> states);

}  // namespace whycache

#endif  // WHYCACHE_PROMETHEUS_H_
