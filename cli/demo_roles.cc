#include "cli/demo_roles.h"

#include <sys/resource.h>

#include <algorithm>
#include <cstdio>
#include <optional>
#include <random>
#include <string_view>
#include <thread>
#include <vector>

#include "cli/demo_results.h"
#include "cli/demo_workload.h"
#include "lib/bench/timing.h"
#include "lib/io/clock.h"
#include "whycache/change_log.h"

namespace whycache::cli::demo {
namespace {

using bench::Percentile;

constexpr int kReadsPerRequest = 100;
constexpr auto kWriterPause = std::chrono::milliseconds(10);
// Enough samples for stable percentiles without letting a long run eat memory.
constexpr size_t kMaxUpdateSamples = 4'000'000;

// CPU time of this process, user and system.
double CpuSeconds() {
  rusage usage;
  getrusage(RUSAGE_SELF, &usage);
  auto seconds = [](const timeval& t) { return static_cast<double>(t.tv_sec) + t.tv_usec / 1e6; };
  return seconds(usage.ru_utime) + seconds(usage.ru_stime);
}

// The median cost of the two clock reads that time one call.
double ClockPairNs() {
  std::vector<double> samples(10'000);
  for (double& s : samples) {
    const auto a = Clock::now();
    s = std::chrono::duration<double, std::nano>(Clock::now() - a).count();
  }
  return Percentile(samples, 0.5);
}

}  // namespace

int RunReader(const CacheOptions& options, Clock::time_point start, Clock::time_point deadline,
              const std::string& result_path, uint64_t seed) {
  auto cache = Cache::Open(options);
  std::mt19937_64 rng(seed);
  // The keys requests ask for, made up front so that the loop measures reads, not formatting.
  std::vector<std::string> keys(8192);
  for (std::string& key : keys) {
    key =
        rng() % 4 == 0 ? FlagKey(rng()) : PermissionKey(rng() % kUsers, rng() % kResourcesPerUser);
  }
  std::vector<std::string> heartbeat_keys(kHeartbeatSlots);
  for (uint64_t i = 0; i < kHeartbeatSlots; ++i) heartbeat_keys[i] = HeartbeatKey(i);

  ReaderResult r;
  r.clock_pair_ns = ClockPairNs();
  std::vector<uint32_t> update_ns;
  update_ns.reserve(std::min<size_t>(kMaxUpdateSamples, 1 << 20));
  double update_ns_total = 0;
  uint64_t value_bytes_seen = 0;
  uint64_t next_heartbeat = 0;
  size_t next_key = 0;
  std::this_thread::sleep_until(start);
  const auto began = Clock::now();
  const double cpu_began = CpuSeconds();
  while (Clock::now() < deadline) {
    const auto before = Clock::now();
    cache->Update();
    const double ns = std::chrono::duration<double, std::nano>(Clock::now() - before).count();
    update_ns_total += ns;
    if (update_ns.size() < kMaxUpdateSamples) update_ns.push_back(static_cast<uint32_t>(ns));
    ++r.requests;
    ReadTransaction txn = cache->BeginRead();
    for (int i = 0; i < kReadsPerRequest; ++i) {
      if (std::optional<std::string_view> v = txn.Get(keys[next_key++ % keys.size()])) {
        ++r.hits;
        value_bytes_seen += v->size() + static_cast<unsigned char>(v->front());
      }
    }
    r.reads += kReadsPerRequest;
    // Heartbeats that became visible since the last request; the ring bounds the loop.
    for (uint64_t i = 0; i < kHeartbeatSlots; ++i) {
      std::optional<std::string_view> v = txn.Get(heartbeat_keys[next_heartbeat % kHeartbeatSlots]);
      if (!v) break;
      std::optional<HeartbeatValue> hb = ParseHeartbeat(*v);
      if (!hb || hb->seq < next_heartbeat) break;
      if (hb->seq == next_heartbeat) {
        r.lags_ms.push_back(static_cast<double>(io::NowMicros() - hb->written_wall_us) / 1000.0);
      } else {
        r.heartbeats_missed += hb->seq - next_heartbeat;  // This reader fell a ring behind.
      }
      next_heartbeat = hb->seq + 1;
    }
  }
  r.seconds = std::chrono::duration<double>(Clock::now() - began).count();
  r.cpu_seconds = CpuSeconds() - cpu_began;
  r.update_median_ns = Percentile(update_ns, 0.5);
  r.update_mean_ns = r.requests == 0 ? 0 : update_ns_total / static_cast<double>(r.requests);
  WriteResult(result_path, r);
  // The sum keeps the value reads from being optimized away; it is never zero after a hit.
  const bool read_values = r.hits == 0 || value_bytes_seen > 0;
  const std::string last_error = cache->Stats().last_error;
  if (!last_error.empty()) std::fprintf(stderr, "whycache demo: reader: %s\n", last_error.c_str());
  return read_values && last_error.empty() ? 0 : 1;
}

int RunWriter(const CacheOptions& options, Clock::time_point start, Clock::time_point deadline,
              const std::string& result_path) {
  auto cache = Cache::Open(options);
  std::mt19937_64 rng(1);
  uint64_t batches = 0, mutations = 0;
  std::vector<double> append_ms;
  std::this_thread::sleep_until(start);
  while (Clock::now() < deadline) {
    std::vector<Mutation> batch = ChangeBatch(rng);
    batch.push_back(Heartbeat(batches, io::NowMicros()));
    const auto before = Clock::now();
    cache->Write(batch);
    append_ms.push_back(Milliseconds(Clock::now() - before));
    ++batches;
    mutations += batch.size();
    std::this_thread::sleep_for(kWriterPause);
  }
  WriteResult(result_path, WriterResult{batches, mutations, Percentile(append_ms, 0.5),
                                        Percentile(append_ms, 0.99)});
  return 0;
}

int RunCompactor(const std::string& log_uri, Clock::time_point at, const std::string& result_path) {
  auto log = OpenChangeLog(log_uri);
  std::this_thread::sleep_until(at);
  const uint64_t head = log->HeadId();
  const auto before = Clock::now();
  const CompactionResult r = log->Compact(CompactionOptions{});
  const double ms = Milliseconds(Clock::now() - before);
  WriteResult(result_path, CompactorResult{head, r, ms});
  return 0;
}

}  // namespace whycache::cli::demo
