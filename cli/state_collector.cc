#include "cli/state_collector.h"

#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <iostream>

#include "lib/cache/metric_families.h"
#include "lib/format/escape.h"
#include "whycache/error.h"

namespace whycache::cli {
namespace {

prometheus::MetricFamily Convert(const cache::MetricFamily& family) {
  prometheus::MetricFamily out;
  out.name = family.name;
  out.help = family.help;
  const bool counter = family.type == cache::MetricType::kCounter;
  out.type = counter ? prometheus::MetricType::Counter : prometheus::MetricType::Gauge;
  for (const cache::MetricSample& sample : family.samples) {
    prometheus::ClientMetric& metric = out.metric.emplace_back();
    for (const auto& [name, value] : sample.labels) {
      metric.label.push_back({std::string(name), value});
    }
    if (counter) {
      metric.counter.value = sample.value;
    } else {
      metric.gauge.value = sample.value;
    }
  }
  return out;
}

}  // namespace

StateSource::StateSource(std::string path) : path_(std::move(path)) {
  std::lock_guard lock(mu_);
  Reopen();
}

void StateSource::Reopen() {
  struct stat st = {};
  if (stat(path_.c_str(), &st) != 0) {
    const int err = errno;
    if (err == ENOENT) {
      throw Error(Error::Code::kInvalidArgument,
                  "state file " + path_ +
                      " does not exist: check the path, or let the machine make it first "
                      "(`whycache update` with its --log)");
    }
    throw Error(Error::Code::kIOError, "cannot stat state file " + path_ + ": " + strerror(err));
  }
  // Without a log the cache neither polls nor rebuilds: the exporter only reads.
  CacheOptions options;
  options.state_path = path_;
  cache_ = Cache::Open(options);
  device_ = st.st_dev;
  inode_ = st.st_ino;
}

CacheStats StateSource::Read() {
  std::lock_guard lock(mu_);
  struct stat st = {};
  if (stat(path_.c_str(), &st) != 0 || st.st_dev != device_ || st.st_ino != inode_) Reopen();
  return cache_->Stats();
}

StateCollector::StateCollector(std::vector<std::unique_ptr<StateSource>> states)
    : states_(std::move(states)) {}

std::vector<prometheus::MetricFamily> StateCollector::Collect() const {
  std::vector<cache::MetricFamily> families;
  prometheus::MetricFamily readable{
      .name = "whycache_state_readable",
      .help =
          "1 if the exporter read the state file at this scrape; 0 if it could not (the "
          "state's other metrics are then absent).",
      .type = prometheus::MetricType::Gauge};
  for (const std::unique_ptr<StateSource>& state : states_) {
    prometheus::ClientMetric& metric = readable.metric.emplace_back();
    metric.label.push_back({"state", format::EscapeBytes(state->path())});
    try {
      cache::AppendCacheMetrics(state->Read(), state->path(), &families);
      metric.gauge.value = 1;
    } catch (const std::exception& e) {
      std::cerr << "whycache exporter: cannot read " << state->path() << ": " << e.what() << "\n";
    }
  }
  std::vector<prometheus::MetricFamily> out;
  for (const cache::MetricFamily& family : families) out.push_back(Convert(family));
  out.push_back(std::move(readable));
  return out;
}

}  // namespace whycache::cli
