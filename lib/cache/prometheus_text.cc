// Formats metric families as the Prometheus text exposition format, version 0.0.4.
#include <charconv>
#include <cmath>
#include <cstdint>

#include "lib/cache/metric_families.h"
#include "whycache/prometheus.h"

namespace whycache {
namespace {

using cache::MetricFamily;
using cache::MetricType;

// Backslash and newline are escaped in HELP text; a label value also escapes double quotes.
void AppendEscaped(std::string_view text, bool label_value, std::string* out) {
  for (char c : text) {
    if (c == '\\') {
      *out += "\\\\";
    } else if (c == '\n') {
      *out += "\\n";
    } else if (c == '"' && label_value) {
      *out += "\\\"";
    } else {
      *out += c;
    }
  }
}

// Ids and counts up to 2^53 print as integers; other values in the shortest form that reads back.
void AppendValue(double value, std::string* out) {
  char buffer[32];
  std::to_chars_result r;
  if (value == std::trunc(value) && std::fabs(value) < 0x1p53) {
    r = std::to_chars(buffer, buffer + sizeof buffer, static_cast<int64_t>(value));
  } else {
    r = std::to_chars(buffer, buffer + sizeof buffer, value);
  }
  out->append(buffer, r.ptr);
}

std::string Format(const std::vector<MetricFamily>& families) {
  std::string out;
  for (const MetricFamily& f : families) {
    out += "# HELP ";
    out += f.name;
    out += ' ';
    AppendEscaped(f.help, /*label_value=*/false, &out);
    out += "\n# TYPE ";
    out += f.name;
    out += f.type == MetricType::kCounter ? " counter\n" : " gauge\n";
    for (const cache::MetricSample& sample : f.samples) {
      out += f.name;
      const char* separator = "{";
      for (const auto& [name, value] : sample.labels) {
        out += separator;
        out += name;
        out += "=\"";
        AppendEscaped(value, /*label_value=*/true, &out);
        out += '"';
        separator = ",";
      }
      if (!sample.labels.empty()) out += '}';
      out += ' ';
      AppendValue(sample.value, &out);
      out += '\n';
    }
  }
  return out;
}

}  // namespace

std::string PrometheusText(const CacheStats& stats, std::string_view state_label) {
  std::vector<MetricFamily> families;
  cache::AppendCacheMetrics(stats, state_label, &families);
  return Format(families);
}

std::string PrometheusText(std::span<const std::pair<std::string, CacheStats>> states) {
  std::vector<MetricFamily> families;
  for (const auto& [state, stats] : states) cache::AppendCacheMetrics(stats, state, &families);
  return Format(families);
}

}  // namespace whycache
