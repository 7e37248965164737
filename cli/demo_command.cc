#include "cli/demo_command.h"

#include <signal.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

#include "cli/command_args.h"
#include "cli/demo_workload.h"
#include "cli/exit_status.h"
#include "lib/bench/timing.h"
#include "lib/io/clock.h"
#include "lib/io/temp_dir.h"
#include "whycache/cache.h"
#include "whycache/change_log.h"
#include "whycache/error.h"

namespace whycache::cli {
namespace {

using bench::Percentile;
using io::NowMicros;
using Clock = std::chrono::steady_clock;
using demo::HeartbeatKey;
using demo::kHeartbeatSlots;

using ull = unsigned long long;

constexpr int kReadsPerRequest = 100;
constexpr auto kWriterPause = std::chrono::milliseconds(10);
constexpr int kBatchesAfterSnapshot = 20;
// Enough samples for stable percentiles without letting a long run eat memory.
constexpr size_t kMaxUpdateSamples = 4'000'000;

// CPU time of this process, user and system.
double CpuSeconds() {
  rusage usage;
  getrusage(RUSAGE_SELF, &usage);
  auto seconds = [](const timeval& t) { return static_cast<double>(t.tv_sec) + t.tv_usec / 1e6; };
  return seconds(usage.ru_utime) + seconds(usage.ru_stime);
}

double Milliseconds(Clock::duration d) {
  return std::chrono::duration<double, std::milli>(d).count();
}

// The demo's working directory, under $TMPDIR (else /tmp).
std::unique_ptr<io::TempDir> MakeWorkDirectory() {
  try {
    return std::make_unique<io::TempDir>(io::TmpDirOr("/tmp"), "whycache-demo-");
  } catch (const Error& e) {
    throw Error(e.code(), std::string("demo: ") + e.what() + "; set TMPDIR elsewhere");
  }
}

// The demo's forked processes. If the parent leaves early (an exception), the destructor stops
// and reaps those still running, so that none outlives the directory they work in.
class Children {
 public:
  Children() = default;
  Children(const Children&) = delete;
  Children& operator=(const Children&) = delete;
  ~Children() {
    for (pid_t pid : pids_) kill(pid, SIGTERM);
    for (pid_t pid : pids_) Reap(pid);
  }

  // Forks a child that runs `body` and exits with its status.
  void Spawn(const std::function<int()>& body) {
    std::fflush(nullptr);
    const pid_t pid = fork();
    if (pid < 0) throw Error(Error::Code::kIOError, "demo: fork failed: " + ErrnoText());
    if (pid == 0) {
      int status = 1;
      try {
        status = body();
      } catch (const std::exception& e) {
        std::fprintf(stderr, "whycache demo: process %d: %s\n", getpid(), e.what());
      }
      std::fflush(nullptr);
      _exit(status);
    }
    pids_.push_back(pid);
  }

  // Waits for every child; true if all of them exited with status 0.
  bool WaitAll() {
    bool all_ok = true;
    for (pid_t pid : pids_) all_ok = Reap(pid) && all_ok;
    pids_.clear();
    return all_ok;
  }

 private:
  static std::string ErrnoText() { return std::strerror(errno); }

  static bool Reap(pid_t pid) {
    int status = 0;
    while (waitpid(pid, &status, 0) < 0) {
      if (errno != EINTR) return false;
    }
    if (WIFSIGNALED(status)) {
      std::fprintf(stderr, "whycache demo: process %d was killed by signal %d\n", pid,
                   WTERMSIG(status));
    }
    return WIFEXITED(status) && WEXITSTATUS(status) == 0;
  }

  std::vector<pid_t> pids_;
};

struct ReaderResult {
  uint64_t requests = 0;
  uint64_t reads = 0;
  uint64_t hits = 0;
  double seconds = 0;
  double cpu_seconds = 0;  // On a shared machine a reader gets less than its wall time.
  double update_median_ns = 0;
  double update_mean_ns = 0;
  double clock_pair_ns = 0;  // What timing one call adds to each figure.
  uint64_t heartbeats_missed = 0;
  std::vector<double> lags_ms;
};

void WriteReaderResult(const std::string& path, const ReaderResult& r) {
  std::ofstream out(path);
  out << r.requests << " " << r.reads << " " << r.hits << " " << r.seconds << " " << r.cpu_seconds
      << " " << r.update_median_ns << " " << r.update_mean_ns << " " << r.clock_pair_ns << " "
      << r.heartbeats_missed;
  for (double lag : r.lags_ms) out << " " << lag;
  out << "\n";
  if (!out.good()) throw Error(Error::Code::kIOError, "demo: cannot write " + path);
}

std::optional<ReaderResult> ReadReaderResult(const std::string& path) {
  std::ifstream in(path);
  ReaderResult r;
  if (!(in >> r.requests >> r.reads >> r.hits >> r.seconds >> r.cpu_seconds >> r.update_median_ns >>
        r.update_mean_ns >> r.clock_pair_ns >> r.heartbeats_missed)) {
    return std::nullopt;
  }
  for (double lag; in >> lag;) r.lags_ms.push_back(lag);
  return r;
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

// One service worker: before each request it calls Update(), then serves the request with
// zero-copy reads from one read transaction, and notes each heartbeat the first time it sees it.
int RunReader(const CacheOptions& options, Clock::time_point start, Clock::time_point deadline,
              const std::string& result_path, uint64_t seed) {
  auto cache = Cache::Open(options);
  std::mt19937_64 rng(seed);
  // The keys requests ask for, made up front so that the loop measures reads, not formatting.
  std::vector<std::string> keys(8192);
  for (std::string& key : keys) {
    key = rng() % 4 == 0
              ? demo::FlagKey(rng())
              : demo::PermissionKey(rng() % demo::kUsers, rng() % demo::kResourcesPerUser);
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
      std::optional<demo::HeartbeatValue> hb = demo::ParseHeartbeat(*v);
      if (!hb || hb->seq < next_heartbeat) break;
      if (hb->seq == next_heartbeat) {
        r.lags_ms.push_back(static_cast<double>(NowMicros() - hb->written_wall_us) / 1000.0);
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
  WriteReaderResult(result_path, r);
  // The sum keeps the value reads from being optimized away; it is never zero after a hit.
  const bool read_values = r.hits == 0 || value_bytes_seen > 0;
  const std::string last_error = cache->Stats().last_error;
  if (!last_error.empty()) std::fprintf(stderr, "whycache demo: reader: %s\n", last_error.c_str());
  return read_values && last_error.empty() ? 0 : 1;
}

// The admin tool: change batches, each with the next heartbeat, at a steady pace.
int RunWriter(const CacheOptions& options, Clock::time_point start, Clock::time_point deadline,
              const std::string& result_path) {
  auto cache = Cache::Open(options);
  std::mt19937_64 rng(1);
  uint64_t batches = 0, mutations = 0;
  std::vector<double> append_ms;
  std::this_thread::sleep_until(start);
  while (Clock::now() < deadline) {
    std::vector<Mutation> batch = demo::ChangeBatch(rng);
    batch.push_back(demo::Heartbeat(batches, NowMicros()));
    const auto before = Clock::now();
    cache->Write(batch);
    append_ms.push_back(Milliseconds(Clock::now() - before));
    ++batches;
    mutations += batch.size();
    std::this_thread::sleep_for(kWriterPause);
  }
  std::ofstream out(result_path);
  out << batches << " " << mutations << " " << Percentile(append_ms, 0.5) << " "
      << Percentile(append_ms, 0.99) << "\n";
  return out.good() ? 0 : 1;
}

// The cron job: one compaction of the whole history, while the writer and readers carry on.
int RunCompactor(const std::string& log_uri, Clock::time_point at, const std::string& result_path) {
  auto log = OpenChangeLog(log_uri);
  std::this_thread::sleep_until(at);
  const uint64_t head = log->HeadId();
  const auto before = Clock::now();
  const CompactionResult r = log->Compact(CompactionOptions{});
  const double ms = Milliseconds(Clock::now() - before);
  std::ofstream out(result_path);
  out << head << " " << r.removed << " " << r.kept << " " << r.bytes_before << " " << r.bytes_after
      << " " << r.horizon << " " << ms << "\n";
  return out.good() ? 0 : 1;
}

uint64_t DirectoryBytes(const std::string& dir) {
  uint64_t bytes = 0;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(dir)) {
    if (entry.is_regular_file()) bytes += entry.file_size();
  }
  return bytes;
}

char MachineName(size_t m) { return static_cast<char>('A' + m); }

// Checks one machine after it caught up with the log head: structure, and equality with the
// log replayed. Prints one line; returns whether both held.
bool CheckMachine(const CacheOptions& options, char name, uint64_t head) {
  auto cache = Cache::Open(options);
  const bool caught_up = cache->WaitFor(head, std::chrono::seconds(30));
  cache->Verify();
  const std::string difference = cache->CheckAgainstLog();
  std::printf("  check       machine %c at update %llu, %llu keys: %s\n", name,
              static_cast<ull>(cache->AppliedId()),
              static_cast<ull>(cache->BeginRead().key_count()),
              !caught_up           ? "FAILED to catch up with the log head"
              : difference.empty() ? "structure verified, equals the log replayed"
                                   : difference.c_str());
  return caught_up && difference.empty();
}

}  // namespace

int RunDemo(const Invocation& inv) {
  CommandArgs args("demo", inv.args, {"--keep"}, {"--seconds", "--readers"});
  args.ExpectPositional(0, 0, "no arguments besides --keep, --seconds N and --readers N");
  const uint64_t seconds = args.Number("--seconds", 3);
  const uint64_t readers_per_machine = args.Number("--readers", 2);
  if (seconds < 1 || seconds > 60 || readers_per_machine < 1 || readers_per_machine > 16) {
    throw Error(Error::Code::kInvalidArgument,
                "demo: --seconds must be 1 to 60 and --readers 1 to 16 (see whycache demo --help)");
  }
  const auto demo_start = Clock::now();
  const std::unique_ptr<io::TempDir> dir_owner = MakeWorkDirectory();
  io::TempDir& dir = *dir_owner;
  if (args.Has("--keep")) dir.Keep();
  const std::string log_uri = "file:" + dir.path() + "/log";
  std::printf(
      "whycache demo in %s: a file log, machines A and B with %llu reader processes each, "
      "one writer, %llu s\n",
      dir.path().c_str(), static_cast<ull>(readers_per_machine), static_cast<ull>(seconds));
  double load[1] = {0};
  if (getloadavg(load, 1) == 1) {
    std::printf("  host        %u cores, load average %.2f before the start\n",
                std::thread::hardware_concurrency(), load[0]);
  }

  std::vector<CacheOptions> machines(2);
  for (size_t m = 0; m < machines.size(); ++m) {
    machines[m].state_path = dir.path() + "/machine-" + static_cast<char>('a' + m) + ".state";
    machines[m].log_uri = log_uri;
  }
  std::vector<CacheStats> stats_before;
  {
    LogOptions create;
    create.create_if_missing = true;
    auto log = OpenChangeLog(log_uri, create);
    uint64_t keys = 0;
    const auto before = Clock::now();
    const std::vector<std::vector<Mutation>> dataset = demo::InitialDataset(1000);
    for (const std::vector<Mutation>& batch : dataset) {
      log->Append(batch);
      keys += batch.size();
    }
    std::printf(
        "  dataset     %llu feature flags and permissions written in %zu batches, %.1f ms\n",
        static_cast<ull>(keys), dataset.size(), Milliseconds(Clock::now() - before));
    for (size_t m = 0; m < machines.size(); ++m) {
      auto cache = Cache::Open(machines[m]);
      const auto apply_start = Clock::now();
      const uint64_t applied = cache->UpdateNow();
      std::printf("  machine %c   new state file, applied updates 1-%llu in %.1f ms\n",
                  MachineName(m), static_cast<ull>(applied),
                  Milliseconds(Clock::now() - apply_start));
      stats_before.push_back(cache->Stats());
    }
  }

  // Every process starts its work at the same moment, after all of them opened their caches.
  const auto start = Clock::now() + std::chrono::milliseconds(300);
  const auto deadline = start + std::chrono::seconds(seconds);
  const std::string writer_result = dir.path() + "/writer.result";
  const std::string compactor_result = dir.path() + "/compactor.result";
  auto reader_result = [&](size_t m, uint64_t r) {
    return dir.path() + "/reader-" + MachineName(m) + std::to_string(r) + ".result";
  };
  bool ok = true;
  {
    Children children;
    for (size_t m = 0; m < machines.size(); ++m) {
      for (uint64_t r = 0; r < readers_per_machine; ++r) {
        children.Spawn([&, m, r] {
          return RunReader(machines[m], start, deadline, reader_result(m, r), m * 100 + r);
        });
      }
    }
    children.Spawn([&] { return RunWriter(machines[0], start, deadline, writer_result); });
    children.Spawn(
        [&] { return RunCompactor(log_uri, start + (deadline - start) / 2, compactor_result); });
    ok = children.WaitAll();
  }

  uint64_t batches = 0, mutations = 0;
  double append_p50 = 0, append_p99 = 0;
  if (!(std::ifstream(writer_result) >> batches >> mutations >> append_p50 >> append_p99)) {
    ok = false;
  }
  std::printf(
      "  writer      %llu batches, %llu mutations (flag changes, permission grants and "
      "revocations); append p50 %.2f ms, p99 %.2f ms\n",
      static_cast<ull>(batches), static_cast<ull>(mutations), append_p50, append_p99);
  std::vector<std::vector<double>> lags(machines.size());
  for (size_t m = 0; m < machines.size(); ++m) {
    for (uint64_t r = 0; r < readers_per_machine; ++r) {
      const std::optional<ReaderResult> res = ReadReaderResult(reader_result(m, r));
      if (!res) {
        std::printf("  reader %c%llu   FAILED: no result\n", MachineName(m), static_cast<ull>(r));
        ok = false;
        continue;
      }
      lags[m].insert(lags[m].end(), res->lags_ms.begin(), res->lags_ms.end());
      std::printf(
          "  reader %c%llu   %.2f M reads/s, %.2f M per CPU second (%.0f%% hits, %llu requests); "
          "update() median %.0f ns, mean %.0f ns (polls included; timing adds %.0f ns)\n",
          MachineName(m), static_cast<ull>(r),
          res->seconds > 0 ? static_cast<double>(res->reads) / res->seconds / 1e6 : 0.0,
          res->cpu_seconds > 0 ? static_cast<double>(res->reads) / res->cpu_seconds / 1e6 : 0.0,
          res->reads ? 100.0 * static_cast<double>(res->hits) / static_cast<double>(res->reads)
                     : 0.0,
          static_cast<ull>(res->requests), res->update_median_ns, res->update_mean_ns,
          res->clock_pair_ns);
    }
  }
  for (size_t m = 0; m < machines.size(); ++m) {
    const CacheStats now = Cache::Open(machines[m])->Stats();
    const CacheStats& was = stats_before[m];
    const uint64_t polls = now.polls - was.polls;
    std::printf(
        "  machine %c   %llu polls by whichever process was due (one per %.0f ms), %llu batches "
        "applied in %.1f ms in all\n",
        MachineName(m), static_cast<ull>(polls),
        polls ? 1000.0 * static_cast<double>(seconds) / static_cast<double>(polls) : 0.0,
        static_cast<ull>(now.batches_applied - was.batches_applied),
        static_cast<double>(now.apply_us - was.apply_us) / 1000.0);
  }
  for (size_t m = 0; m < machines.size(); ++m) {
    std::printf(
        "  lag         write -> readable on machine %c: p50 %.1f ms, p99 %.1f ms (%zu samples, "
        "poll interval %lld ms)\n",
        MachineName(m), Percentile(lags[m], 0.5), Percentile(lags[m], 0.99), lags[m].size(),
        static_cast<long long>(machines[m].poll_interval.count()));
    // Every heartbeat reaches every reader: none seen means replication did not work.
    ok = ok && !lags[m].empty();
  }
  uint64_t compacted_at = 0, removed = 0, kept = 0, bytes_before = 0, bytes_after = 0, horizon = 0;
  double compact_ms = 0;
  if (std::ifstream(compactor_result) >> compacted_at >> removed >> kept >> bytes_before >>
      bytes_after >> horizon >> compact_ms) {
    std::printf(
        "  compaction  mid-run at update %llu, while writing: removed %llu mutations, kept %llu; "
        "log %llu -> %llu bytes (the writer's appends meanwhile included) in %.1f ms; deletes "
        "are kept 7 days: horizon %llu\n",
        static_cast<ull>(compacted_at), static_cast<ull>(removed), static_cast<ull>(kept),
        static_cast<ull>(bytes_before), static_cast<ull>(bytes_after), compact_ms,
        static_cast<ull>(horizon));
  } else {
    std::printf("  compaction  FAILED: no result\n");
    ok = false;
  }

  const uint64_t head = OpenChangeLog(log_uri)->HeadId();
  for (size_t m = 0; m < machines.size(); ++m) {
    ok = CheckMachine(machines[m], MachineName(m), head) && ok;
  }

  // A new machine C bootstraps from a snapshot of machine A, then catches up from the log.
  const std::string snapshot_path = dir.path() + "/machine-a.snapshot";
  const auto create_start = Clock::now();
  const SnapshotInfo made = Cache::Open(machines[0])->CreateSnapshot(snapshot_path);
  const double create_ms = Milliseconds(Clock::now() - create_start);
  std::printf(
      "  snapshot    of machine A at update %llu: %llu keys, %llu bytes on disk (%llu of keys and "
      "values), made in %.1f ms\n",
      static_cast<ull>(made.applied_id), static_cast<ull>(made.key_count),
      static_cast<ull>(made.file_bytes), static_cast<ull>(made.raw_bytes), create_ms);
  {
    auto log = OpenChangeLog(log_uri);
    std::mt19937_64 rng(2);
    for (int i = 0; i < kBatchesAfterSnapshot; ++i) log->Append(demo::ChangeBatch(rng));
  }
  CacheOptions machine_c = machines[0];
  machine_c.state_path = dir.path() + "/machine-c.state";
  {
    auto c = Cache::Open(machine_c);
    const auto restore_start = Clock::now();
    c->RestoreSnapshot(snapshot_path);
    const double restore_ms = Milliseconds(Clock::now() - restore_start);
    const auto catch_up_start = Clock::now();
    const uint64_t caught_up = c->UpdateNow();
    std::printf(
        "  bootstrap   machine C restored it in %.1f ms, then applied %llu newer updates from the "
        "log in %.1f ms\n",
        restore_ms, static_cast<ull>(caught_up - made.applied_id),
        Milliseconds(Clock::now() - catch_up_start));
  }
  ok = CheckMachine(machine_c, 'C', head + kBatchesAfterSnapshot) && ok;
  std::printf("  log         %llu bytes on disk at the end, update %llu\n",
              static_cast<ull>(DirectoryBytes(dir.path() + "/log")),
              static_cast<ull>(head + kBatchesAfterSnapshot));

  if (args.Has("--keep")) {
    std::printf(
        "  kept        %s: machine-{a,b,c}.state, log/, machine-a.snapshot and the processes' "
        "*.result files\n",
        dir.path().c_str());
  }
  std::printf("demo %s in %.1f s\n", ok ? "ok" : "FAILED: see the lines above",
              std::chrono::duration<double>(Clock::now() - demo_start).count());
  return ok ? kExitOk : kExitCheckFailed;
}

}  // namespace whycache::cli
