#include "cli/demo_command.h"

#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "cli/command_args.h"
#include "cli/exit_status.h"
#include "lib/cache/poll_schedule.h"
#include "whycache/cache.h"
#include "whycache/change_log.h"
#include "whycache/error.h"

namespace whycache::cli {
namespace {

using cache::WallMicros;

using Clock = std::chrono::steady_clock;

constexpr int kServices = 20;
constexpr int kFlagsPerService = 25;
constexpr int kUsers = 2000;
constexpr const char* kHeartbeatKey = "demo:heartbeat";

std::string FlagKey(uint64_t n) {
  return "flag:svc" + std::to_string(n / kFlagsPerService % kServices) + ":f" +
         std::to_string(n % kFlagsPerService);
}

std::string PermissionKey(uint64_t user, uint64_t resource) {
  return "perm:user:" + std::to_string(user) + ":res" + std::to_string(resource);
}

// A batch as a service's admin tool would write it: a few flag flips, permission grants and
// revocations, and the heartbeat the readers measure replication lag with.
std::vector<Mutation> WorkloadBatch(std::mt19937_64& rng) {
  std::vector<Mutation> batch;
  const int size = 1 + static_cast<int>(rng() % 20);
  for (int i = 0; i < size; ++i) {
    switch (rng() % 4) {
      case 0:
        batch.push_back(Mutation::Set(FlagKey(rng()), rng() % 2 ? "on" : "off"));
        break;
      case 1:
        batch.push_back(Mutation::Delete(PermissionKey(rng() % kUsers, rng() % 8)));
        break;
      default:
        batch.push_back(
            Mutation::Set(PermissionKey(rng() % kUsers, rng() % 8), rng() % 3 ? "read" : "write"));
    }
  }
  batch.push_back(Mutation::Set(kHeartbeatKey, std::to_string(WallMicros())));
  return batch;
}

// Forks a child that runs `body` and exits with its status; returns the pid.
pid_t Spawn(const std::function<int()>& body) {
  std::fflush(nullptr);
  const pid_t pid = fork();
  if (pid < 0) throw Error(Error::Code::kIOError, "demo: fork failed");
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
  return pid;
}

bool WaitSucceeded(pid_t pid) {
  int status = 0;
  while (waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) return false;
  }
  return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

struct ReaderResult {
  uint64_t reads = 0;
  uint64_t updates = 0;
  double seconds = 0;
  double update_ns_total = 0;
  double update_ns_median = 0;
  std::vector<double> lags_ms;
};

double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size())))];
}

// One reader process: update() then a request of 100 zero-copy reads, until the deadline.
int RunReader(const CacheOptions& options, Clock::time_point deadline,
              const std::string& result_path, uint64_t seed) {
  auto cache = Cache::Open(options);
  std::mt19937_64 rng(seed);
  // The keys requests ask for, made up front so that the loop measures reads, not formatting.
  std::vector<std::string> keys(8192);
  for (size_t i = 0; i < keys.size(); ++i) {
    keys[i] = i % 4 == 0 ? FlagKey(rng()) : PermissionKey(rng() % kUsers, rng() % 8);
  }
  ReaderResult r;
  std::string last_heartbeat;
  std::vector<double> update_ns;
  uint64_t found = 0;
  size_t next_key = 0;
  const auto start = Clock::now();
  while (Clock::now() < deadline) {
    const auto before = Clock::now();
    cache->Update();
    const double ns = std::chrono::duration<double, std::nano>(Clock::now() - before).count();
    r.update_ns_total += ns;
    if (update_ns.size() < 1'000'000) update_ns.push_back(ns);
    ++r.updates;
    ReadTransaction txn = cache->BeginRead();
    for (int i = 0; i < 100; ++i) {
      found += txn.Get(keys[next_key++ % keys.size()]).has_value();
    }
    r.reads += 100;
    if (std::optional<std::string_view> hb = txn.Get(kHeartbeatKey); hb && *hb != last_heartbeat) {
      last_heartbeat = std::string(*hb);
      r.lags_ms.push_back((WallMicros() - std::stoll(last_heartbeat)) / 1000.0);
    }
  }
  r.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  std::ofstream out(result_path);
  out << r.reads << " " << r.updates << " " << r.seconds << " " << r.update_ns_total << " "
      << Percentile(update_ns, 0.5) << " " << found;
  for (double lag : r.lags_ms) out << " " << lag;
  out << "\n";
  return out.good() && cache->Stats().last_error.empty() ? 0 : 1;
}

ReaderResult ReadResult(const std::string& path) {
  std::ifstream in(path);
  ReaderResult r;
  uint64_t found;
  in >> r.reads >> r.updates >> r.seconds >> r.update_ns_total >> r.update_ns_median >> found;
  for (double lag; in >> lag;) r.lags_ms.push_back(lag);
  return r;
}

std::string MakeDemoDirectory() {
  const char* tmp = getenv("TMPDIR");
  std::string pattern =
      std::string(tmp != nullptr && *tmp ? tmp : "/tmp") + "/whycache-demo-XXXXXX";
  if (mkdtemp(pattern.data()) == nullptr) {
    throw Error(Error::Code::kIOError, "demo: cannot create a directory like " + pattern);
  }
  return pattern;
}

}  // namespace

int RunDemo(const Invocation& inv) {
  CommandArgs args("demo", inv.args, {"--keep"}, {"--seconds", "--readers"});
  args.ExpectPositional(0, 0, "no arguments besides --keep, --seconds N and --readers N");
  const uint64_t seconds = std::clamp<uint64_t>(args.Number("--seconds", 3), 1, 60);
  const uint64_t readers_per_machine = std::clamp<uint64_t>(args.Number("--readers", 2), 1, 16);

  const std::string dir = MakeDemoDirectory();
  std::printf(
      "whycache demo in %s: a file log, machines A and B, %llu reader processes each, "
      "one writer, %llu s\n",
      dir.c_str(), static_cast<unsigned long long>(readers_per_machine),
      static_cast<unsigned long long>(seconds));
  const std::string log_uri = "file:" + dir + "/log";
  LogOptions create;
  create.create_if_missing = true;
  OpenChangeLog(log_uri, create);
  std::vector<CacheOptions> machines(2);
  for (size_t m = 0; m < machines.size(); ++m) {
    machines[m].state_path = dir + "/machine-" + static_cast<char>('a' + m) + ".state";
    machines[m].log_uri = log_uri;
    Cache::Open(machines[m]);
  }

  const auto deadline = Clock::now() + std::chrono::seconds(seconds);
  std::vector<pid_t> children;
  children.push_back(Spawn([&] {
    auto cache = Cache::Open(machines[0]);
    std::mt19937_64 rng(1);
    uint64_t batches = 0, mutations = 0;
    while (Clock::now() < deadline) {
      const std::vector<Mutation> batch = WorkloadBatch(rng);
      cache->Write(batch);
      ++batches;
      mutations += batch.size();
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    std::ofstream(dir + "/writer.result") << batches << " " << mutations << "\n";
    return 0;
  }));
  for (size_t m = 0; m < machines.size(); ++m) {
    for (uint64_t r = 0; r < readers_per_machine; ++r) {
      const std::string result = dir + "/reader-" + std::to_string(m) + "-" + std::to_string(r);
      children.push_back(Spawn(
          [&, m, r, result] { return RunReader(machines[m], deadline, result, m * 100 + r); }));
    }
  }
  bool ok = true;
  for (pid_t pid : children) ok = WaitSucceeded(pid) && ok;

  uint64_t batches = 0, mutations = 0;
  std::ifstream(dir + "/writer.result") >> batches >> mutations;
  std::printf("  writer      %llu batches, %llu mutations (flags, permissions, heartbeats)\n",
              static_cast<unsigned long long>(batches), static_cast<unsigned long long>(mutations));
  std::vector<double> lags;
  for (size_t m = 0; m < machines.size(); ++m) {
    for (uint64_t r = 0; r < readers_per_machine; ++r) {
      const ReaderResult res =
          ReadResult(dir + "/reader-" + std::to_string(m) + "-" + std::to_string(r));
      lags.insert(lags.end(), res.lags_ms.begin(), res.lags_ms.end());
      std::printf(
          "  reader %c%llu   %.2f M reads/s; update() median %.0f ns, mean %.0f ns "
          "(%llu calls, the polls included)\n",
          static_cast<char>('A' + m), static_cast<unsigned long long>(r),
          res.seconds > 0 ? res.reads / res.seconds / 1e6 : 0.0, res.update_ns_median,
          res.updates ? res.update_ns_total / res.updates : 0.0,
          static_cast<unsigned long long>(res.updates));
    }
  }
  std::printf(
      "  lag         write -> readable on the other machine: p50 %.1f ms, p99 %.1f ms "
      "(%zu samples, poll interval %lld ms)\n",
      Percentile(lags, 0.5), Percentile(lags, 0.99), lags.size(),
      static_cast<long long>(machines[0].poll_interval.count()));

  const uint64_t head = OpenChangeLog(log_uri)->HeadId();
  for (size_t m = 0; m < machines.size(); ++m) {
    auto cache = Cache::Open(machines[m]);
    cache->WaitFor(head, std::chrono::seconds(30));
    cache->Verify();
    const std::string difference = cache->CheckAgainstLog();
    std::printf("  check       machine %c at update %llu, %llu keys: %s\n",
                static_cast<char>('A' + m), static_cast<unsigned long long>(cache->AppliedId()),
                static_cast<unsigned long long>(cache->BeginRead().key_count()),
                difference.empty() ? "equals the log replayed" : difference.c_str());
    ok = ok && difference.empty() && cache->AppliedId() == head;
  }

  // A new machine C bootstraps from a snapshot of machine A, then catches up from the log.
  const std::string snapshot_path = dir + "/machine-a.snapshot";
  const SnapshotInfo made = Cache::Open(machines[0])->CreateSnapshot(snapshot_path);
  {
    auto writer = Cache::Open(machines[0]);
    std::mt19937_64 rng(2);
    for (int i = 0; i < 20; ++i) writer->Write(WorkloadBatch(rng));
  }
  CacheOptions machine_c = machines[0];
  machine_c.state_path = dir + "/machine-c.state";
  auto c = Cache::Open(machine_c);
  const auto restore_start = Clock::now();
  c->RestoreSnapshot(snapshot_path);
  const double restore_ms =
      std::chrono::duration<double, std::milli>(Clock::now() - restore_start).count();
  const uint64_t caught_up = c->UpdateNow();
  const std::string difference = c->CheckAgainstLog();
  std::printf(
      "  snapshot    of A at update %llu: %llu keys, %llu bytes (%llu of keys and values)\n",
      static_cast<unsigned long long>(made.applied_id),
      static_cast<unsigned long long>(made.key_count),
      static_cast<unsigned long long>(made.file_bytes),
      static_cast<unsigned long long>(made.raw_bytes));
  std::printf("  bootstrap   machine C restored it in %.1f ms, caught up to update %llu: %s\n",
              restore_ms, static_cast<unsigned long long>(caught_up),
              difference.empty() ? "equals the log replayed" : difference.c_str());
  ok = ok && difference.empty() && caught_up == made.applied_id + 20;

  if (args.Has("--keep")) {
    std::printf("  kept        %s (state files machine-a.state, machine-b.state; log in log/)\n",
                dir.c_str());
  } else {
    std::filesystem::remove_all(dir);
  }
  std::printf("demo %s\n", ok ? "ok" : "FAILED");
  return ok ? kExitOk : kExitOtherFailure;
}

}  // namespace whycache::cli
