#include "cli/demo_command.h"

#include <stdlib.h>
#include <sys/wait.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "cli/command_args.h"
#include "cli/demo_report.h"
#include "cli/demo_results.h"
#include "cli/demo_roles.h"
#include "cli/demo_workload.h"
#include "cli/exit_status.h"
#include "lib/io/child_process.h"
#include "lib/io/temp_dir.h"
#include "whycache/cache.h"
#include "whycache/change_log.h"
#include "whycache/error.h"

namespace whycache::cli {
namespace {

using demo::Clock;
using demo::MachineName;
using demo::Milliseconds;

using ull = unsigned long long;

constexpr int kBatchesAfterSnapshot = 20;

// The demo's working directory, under $TMPDIR (else /tmp).
std::unique_ptr<io::TempDir> MakeWorkDirectory() {
  try {
    return std::make_unique<io::TempDir>(io::TmpDirOr("/tmp"), "whycache-demo-");
  } catch (const Error& e) {
    throw Error(e.code(), std::string("demo: ") + e.what() + "; set TMPDIR elsewhere");
  }
}

// Waits for every process; true if all of them exited with status 0. Says which did not.
bool WaitAll(std::vector<io::ChildProcess>& children) {
  bool all_ok = true;
  for (io::ChildProcess& child : children) {
    const int status = child.Wait();
    if (WIFSIGNALED(status)) {
      std::fprintf(stderr, "whycache demo: process %d was killed by signal %d\n", child.pid(),
                   WTERMSIG(status));
    }
    all_ok = io::ChildProcess::Succeeded(status) && all_ok;
  }
  return all_ok;
}

uint64_t DirectoryBytes(const std::string& dir) {
  uint64_t bytes = 0;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(dir)) {
    if (entry.is_regular_file()) bytes += entry.file_size();
  }
  return bytes;
}

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
    // If this process leaves early (an exception), the destructors stop and reap the processes
    // still running, so that none outlives the directory they work in.
    std::vector<io::ChildProcess> children;
    for (size_t m = 0; m < machines.size(); ++m) {
      for (uint64_t r = 0; r < readers_per_machine; ++r) {
        children.emplace_back([&, m, r] {
          return demo::RunReader(machines[m], start, deadline, reader_result(m, r), m * 100 + r);
        });
      }
    }
    children.emplace_back(
        [&] { return demo::RunWriter(machines[0], start, deadline, writer_result); });
    children.emplace_back([&] {
      return demo::RunCompactor(log_uri, start + (deadline - start) / 2, compactor_result);
    });
    ok = WaitAll(children);
  }

  const std::optional<demo::WriterResult> writer = demo::ReadWriterResult(writer_result);
  ok = ok && writer.has_value();
  demo::PrintWriter(writer);
  std::vector<std::vector<double>> lags(machines.size());
  for (size_t m = 0; m < machines.size(); ++m) {
    for (uint64_t r = 0; r < readers_per_machine; ++r) {
      const std::optional<demo::ReaderResult> res = demo::ReadReaderResult(reader_result(m, r));
      demo::PrintReader(MachineName(m), r, res);
      if (!res) {
        ok = false;
        continue;
      }
      lags[m].insert(lags[m].end(), res->lags_ms.begin(), res->lags_ms.end());
    }
  }
  for (size_t m = 0; m < machines.size(); ++m) {
    demo::PrintPolls(MachineName(m), stats_before[m], Cache::Open(machines[m])->Stats(), seconds);
  }
  for (size_t m = 0; m < machines.size(); ++m) {
    demo::PrintLag(MachineName(m), lags[m], machines[m].poll_interval);
    // Every heartbeat reaches every reader: none seen means replication did not work.
    ok = ok && !lags[m].empty();
  }
  const std::optional<demo::CompactorResult> compaction =
      demo::ReadCompactorResult(compactor_result);
  demo::PrintCompaction(compaction);
  ok = ok && compaction.has_value();

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
