// Applying a backlog: a new machine replaying the whole log, and ordinary small batches into a
// large state.
//
//   bazel run --config=opt //tests/cache:replay_bench -- --benchmark_repetitions=3
//       --benchmark_report_aggregates_only=true
//
//   BM_Replay/K/V         one UpdateNow() of a fresh state file over a file log of K random keys
//                         ("key:%016llx") with incompressible V-byte values, appended in batches
//                         of 10,000. keys_per_s, and peak_rss_mb: the peak resident memory of the
//                         process that applied (a child forked per repetition, its peak reset
//                         when it starts), the pages of the state file it touched included;
//                         cpu_s: the CPU time of all its threads.
//   BM_SmallBatches/keys:K/warm:W
//                         UpdateNow() of 100-mutation batches of new random keys with 16-byte
//                         values into a state of K keys just filled from the log:
//                         ns_per_mutation. With W = 1 the process first walks the whole state
//                         (Cache::Verify), as a process that has served for a while has touched
//                         it: the steady state. With W = 0 the batches also pay this process's
//                         first touch of the pages of the newly installed file (minor page
//                         faults), a cost once per process and file that grows with the file.
//
// Logs and state files live on /dev/shm; a log is kept for the repetitions of one benchmark.
#include <fcntl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "benchmark/benchmark.h"
#include "lib/bench/workload.h"
#include "tests/support/temp_dir.h"
#include "whycache/cache.h"
#include "whycache/change_log.h"

namespace whycache::testing {
namespace {

constexpr int kAppendBatch = 10'000;

// A file log of `keys` random keys, made once and reused by the repetitions of a benchmark.
struct BacklogLog {
  BacklogLog(int64_t keys, int64_t value_bytes) : keys(keys), value_bytes(value_bytes) {
    uri = "file:" + dir.File("log");
    LogOptions options;
    options.create_if_missing = true;
    options.fsync = FsyncPolicy::kNever;
    std::unique_ptr<ChangeLog> log = OpenChangeLog(uri, options);
    std::mt19937_64 rng(static_cast<uint64_t>(keys * 1000 + value_bytes));
    std::vector<Mutation> batch;
    for (int64_t done = 0; done < keys;) {
      batch.clear();
      for (; done < keys && static_cast<int>(batch.size()) < kAppendBatch; ++done) {
        batch.push_back(Mutation::Set(bench::HexKey(rng()), bench::RandomValue(rng, value_bytes)));
      }
      log->Append(batch);
    }
  }

  TempDir dir{"/dev/shm"};
  int64_t keys;
  int64_t value_bytes;
  std::string uri;
};

BacklogLog& LogOf(int64_t keys, int64_t value_bytes) {
  static std::unique_ptr<BacklogLog> last;
  if (!last || last->keys != keys || last->value_bytes != value_bytes) {
    last.reset();  // One at a time: a 10M-key log of 100-byte values is over a GB.
    last = std::make_unique<BacklogLog>(keys, value_bytes);
  }
  return *last;
}

int64_t PeakRssKb() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmHWM:", 0) == 0) return std::stoll(line.substr(6));
  }
  return -1;
}

double Seconds(const timeval& t) { return static_cast<double>(t.tv_sec) + t.tv_usec / 1e6; }

struct ReplayResult {
  double seconds = 0;
  double cpu_seconds = 0;
  int64_t peak_rss_kb = 0;
  uint64_t keys = 0;
};

// Replays `log` into a fresh state file in a child process, so that the peak memory is the
// replay's own.
ReplayResult ReplayInChild(const BacklogLog& log) {
  int fds[2];
  if (pipe(fds) != 0) throw std::runtime_error("pipe failed");
  const pid_t pid = fork();
  if (pid < 0) throw std::runtime_error("fork failed");
  if (pid == 0) {
    close(fds[0]);
    ReplayResult r;
    {
      // Resets VmHWM to the current resident size (what fork inherited).
      std::ofstream("/proc/self/clear_refs") << "5";
      TempDir state_dir("/dev/shm");
      CacheOptions options;
      options.state_path = state_dir.File("state");
      options.log_uri = log.uri;
      std::unique_ptr<Cache> cache = Cache::Open(options);
      rusage usage;
      getrusage(RUSAGE_SELF, &usage);
      const double cpu_before = Seconds(usage.ru_utime) + Seconds(usage.ru_stime);
      const auto start = std::chrono::steady_clock::now();
      cache->UpdateNow();
      r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      r.peak_rss_kb = PeakRssKb();
      getrusage(RUSAGE_SELF, &usage);
      r.cpu_seconds = Seconds(usage.ru_utime) + Seconds(usage.ru_stime) - cpu_before;
      r.keys = cache->Stats().keys;
    }
    const bool ok = write(fds[1], &r, sizeof(r)) == sizeof(r);
    _exit(ok ? 0 : 1);
  }
  close(fds[1]);
  ReplayResult r;
  const bool got = read(fds[0], &r, sizeof(r)) == sizeof(r);
  close(fds[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  if (!got || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    throw std::runtime_error("the replaying child failed");
  }
  return r;
}

void BM_Replay(benchmark::State& state) {
  const BacklogLog& log = LogOf(state.range(0), state.range(1));
  ReplayResult r;
  for (auto _ : state) {
    r = ReplayInChild(log);
    state.SetIterationTime(r.seconds);
  }
  if (r.keys != static_cast<uint64_t>(log.keys)) {
    state.SkipWithError("the replayed state does not hold every key");
  }
  state.counters["keys_per_s"] = static_cast<double>(log.keys) / r.seconds;
  // CPU time of every thread of the replay: on a shared machine, wall time also counts waiting.
  state.counters["cpu_s"] = r.cpu_seconds;
  state.counters["peak_rss_mb"] = static_cast<double>(r.peak_rss_kb) / 1024;
}
BENCHMARK(BM_Replay)
    ->ArgsProduct({{1'000'000, 4'000'000, 10'000'000}, {16, 100}})
    ->Iterations(1)
    ->UseManualTime()
    ->Unit(benchmark::kMillisecond);

void BM_SmallBatches(benchmark::State& state) {
  constexpr int kPerBatch = 100;
  const BacklogLog& log = LogOf(state.range(0), 16);
  TempDir state_dir("/dev/shm");
  CacheOptions options;
  options.state_path = state_dir.File("state");
  options.log_uri = log.uri;
  std::unique_ptr<Cache> cache = Cache::Open(options);
  cache->UpdateNow();
  if (state.range(1) != 0) cache->Verify();
  std::unique_ptr<ChangeLog> writer = OpenChangeLog(log.uri, {.fsync = FsyncPolicy::kNever});
  std::mt19937_64 rng(static_cast<uint64_t>(state.range(0)));
  std::vector<Mutation> batch;
  double seconds = 0;
  int64_t batches = 0;
  for (auto _ : state) {
    state.PauseTiming();
    batch.clear();
    for (int i = 0; i < kPerBatch; ++i) {
      batch.push_back(Mutation::Set(bench::HexKey(rng()), bench::RandomValue(rng, 16)));
    }
    writer->Append(batch);
    state.ResumeTiming();
    const auto start = std::chrono::steady_clock::now();
    cache->UpdateNow();
    seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    ++batches;
  }
  state.counters["ns_per_mutation"] = seconds * 1e9 / static_cast<double>(batches * kPerBatch);
}
BENCHMARK(BM_SmallBatches)
    ->ArgNames({"keys", "warm"})
    // In this order, so that each log is made once.
    ->Args({1'000'000, 0})
    ->Args({1'000'000, 1})
    ->Args({10'000'000, 0})
    ->Args({10'000'000, 1})
    ->Iterations(500)
    ->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace whycache::testing

BENCHMARK_MAIN();
