// CacheStats as Prometheus metric families: the one table that names each figure, its unit,
// help text and type. The text page (whycache/prometheus.h) and the exporter's collector both
// format what it returns, so a new figure is one more line here.
#ifndef WHYCACHE_LIB_CACHE_METRIC_FAMILIES_H_
#define WHYCACHE_LIB_CACHE_METRIC_FAMILIES_H_

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "whycache/cache.h"

namespace whycache::cache {

enum class MetricType { kGauge, kCounter };

struct MetricSample {
  // Label names and values; values are printable ASCII, not yet escaped for the format.
  std::vector<std::pair<std::string_view, std::string>> labels;
  double value = 0;
};

struct MetricFamily {
  std::string_view name;  // whycache_..., with its unit and, for a counter, _total.
  std::string_view help;
  MetricType type = MetricType::kGauge;
  std::vector<MetricSample> samples;
};

// Adds the figures of `stats` as samples labelled state=`state`, to the family of the same name
// in `families` or to a new one at its end. Every family is there after the first call, in a
// fixed order; an info-style family (the last error, why a resync snapshot went unused) gets a
// sample only while its text is non-empty. Bytes of `state` and of the texts outside printable
// ASCII become \xNN.
void AppendCacheMetrics(const CacheStats& stats, std::string_view state,
                        std::vector<MetricFamily>* families);

}  // namespace whycache::cache

#endif  // WHYCACHE_LIB_CACHE_METRIC_FAMILIES_H_
