#include "lib/cache/metric_families.h"

#include <algorithm>

#include "lib/format/escape.h"

namespace whycache::cache {
namespace {

constexpr double kMicrosPerSecond = 1e6;

struct Figure {
  std::string_view name;
  std::string_view help;
  MetricType type;
  double value;
};

// An info-style figure: value 1, its text in the label `label`; absent while the text is empty.
struct InfoFigure {
  std::string_view name;
  std::string_view help;
  std::string_view label;
  const std::string& text;
};

MetricFamily& FamilyNamed(std::string_view name, std::string_view help, MetricType type,
                          std::vector<MetricFamily>* families) {
  auto it = std::find_if(families->begin(), families->end(),
                         [&](const MetricFamily& f) { return f.name == name; });
  if (it != families->end()) return *it;
  return families->emplace_back(MetricFamily{.name = name, .help = help, .type = type});
}

}  // namespace

void AppendCacheMetrics(const CacheStats& s, std::string_view state,
                        std::vector<MetricFamily>* families) {
  using enum MetricType;
  const Figure figures[] = {
      {"whycache_applied_id", "Id of the newest update in the local state.", kGauge,
       static_cast<double>(s.applied_id)},
      {"whycache_log_head_id", "Id of the log's newest update at the last successful poll.", kGauge,
       static_cast<double>(s.log_head_id)},
      {"whycache_ids_behind", "Log head id minus applied id.", kGauge,
       static_cast<double>(s.ids_behind)},
      {"whycache_lag_seconds",
       "Age of the newest applied update while the machine is behind or cannot reach the log; "
       "else 0.",
       kGauge, static_cast<double>(s.lag_us) / kMicrosPerSecond},
      {"whycache_keys", "Keys in the local state.", kGauge, static_cast<double>(s.keys)},
      {"whycache_used_bytes", "Live bytes in the state file.", kGauge,
       static_cast<double>(s.bytes_used)},
      {"whycache_file_bytes", "Size of the state file.", kGauge, static_cast<double>(s.file_bytes)},
      {"whycache_oldest_pinned_version", "Oldest state version a read transaction pins.", kGauge,
       static_cast<double>(s.oldest_pinned_version)},
      {"whycache_oldest_pin_age_seconds",
       "How long the oldest pinned version has been superseded; space it holds is not reused.",
       kGauge, static_cast<double>(s.oldest_pin_age_us) / kMicrosPerSecond},
      {"whycache_reader_slots_in_use", "Reader slots taken, shared ones included.", kGauge,
       static_cast<double>(s.reader_slots_in_use)},
      {"whycache_reader_slots_max", "Reader slots in the state file.", kGauge,
       static_cast<double>(s.reader_slots)},
      {"whycache_polls_total", "Polls of the log by the machine.", kCounter,
       static_cast<double>(s.polls)},
      {"whycache_poll_errors_total", "Polls of the log that failed.", kCounter,
       static_cast<double>(s.poll_errors)},
      {"whycache_batches_applied_total", "Batches (update ids) applied to the state.", kCounter,
       static_cast<double>(s.batches_applied)},
      {"whycache_mutations_applied_total", "Sets and deletes applied to the state.", kCounter,
       static_cast<double>(s.mutations_applied)},
      {"whycache_apply_seconds_total", "Time spent applying updates to the state.", kCounter,
       static_cast<double>(s.apply_us) / kMicrosPerSecond},
      {"whycache_resyncs_total", "State rebuilds after falling below the log's horizon.", kCounter,
       static_cast<double>(s.resyncs)},
  };
  const InfoFigure infos[] = {
      {"whycache_last_error_info", "The last poll's error; absent when it succeeded.", "message",
       s.last_error},
      {"whycache_resync_snapshot_unused_info",
       "Why the last resync replayed the log instead of starting from the resync snapshot.",
       "reason", s.resync_snapshot_unused},
      {"whycache_read_barrier_info",
       "How this process's read transactions order their pins: membarrier (writers issue it) or "
       "fence.",
       "barrier", s.read_barrier},
      {"whycache_prefix_reads_error_info",
       "Why the machine's per-prefix read counts could not be read; absent when they were.",
       "message", s.prefixes_error},
      {"whycache_read_server_info",
       "The MySQL server the machine's last poll read from: a replica, or the primary.", "server",
       s.read_server.server},
  };
  const std::string state_value = format::EscapeBytes(state);
  for (const Figure& f : figures) {
    FamilyNamed(f.name, f.help, f.type, families)
        .samples.push_back({.labels = {{"state", state_value}}, .value = f.value});
  }
  for (const InfoFigure& f : infos) {
    MetricFamily& family = FamilyNamed(f.name, f.help, kGauge, families);
    if (f.text.empty()) continue;
    family.samples.push_back(
        {.labels = {{"state", state_value}, {f.label, format::EscapeBytes(f.text)}}, .value = 1});
  }
  MetricFamily& behind = FamilyNamed(
      "whycache_read_server_updates_behind",
      "Update ids the read server was behind the primary's head when last sampled; absent "
      "while not measured.",
      kGauge, families);
  if (!s.read_server.server.empty() && s.read_server.updates_behind >= 0) {
    behind.samples.push_back(
        {.labels = {{"state", state_value}, {"server", format::EscapeBytes(s.read_server.server)}},
         .value = static_cast<double>(s.read_server.updates_behind)});
  }
  MetricFamily& prefix_reads =
      FamilyNamed("whycache_prefix_reads_total",
                  "Reads by the machine's processes of keys that start with a counted prefix "
                  "(CacheOptions::stat_prefixes), by result.",
                  kCounter, families);
  for (const PrefixReadStats& p : s.prefixes) {
    const std::string prefix = format::EscapeBytes(p.prefix);
    for (const auto& [result, count] :
         {std::pair<const char*, uint64_t>{"hit", p.machine_hits},
          std::pair<const char*, uint64_t>{"miss", p.machine_misses}}) {
      prefix_reads.samples.push_back(
          {.labels = {{"state", state_value}, {"prefix", prefix}, {"result", result}},
           .value = static_cast<double>(count)});
    }
  }
}

}  // namespace whycache::cache
