// Fleet capacity: how many machines one MySQL server serves, each polling every 50 ms.
//
//   bazel run --config=opt //tests/cache:fleet_bench -- --benchmark_counters_tabular=true
//
//   BM_Fleet/binlog:B/qc:Q/machines:N/writes:W
//                 N simulated machines, each a Cache with its own state file and its own
//                 connection to one throwaway MariaDB server, polling (UpdateNow) on its own 50 ms
//                 schedule, for WHYCACHE_FLEET_SECONDS (default 10) seconds. With W = 0 nothing
//                 is written, so every poll is an empty one; with W = 1 a writer appends a batch
//                 of 10 sets (100-byte random values) every 100 ms, a steady trickle. With B = 1
//                 the server writes a binary log (sync_binlog=1), so machines only read; with
//                 B = 0 it writes none, so a poll that reads new batches also commits a write
//                 that makes them durable (MysqlLogOptions::durable_reads). With Q = 1 the
//                 server's query cache is on (16 MiB), which answers a poll that finds nothing
//                 new without running its statement.
//
//   BM_FleetOnReplicas/replicas:R/qc:1/machines:N/writes:W
//                 The same machines reading from R replicas of a primary with a binary log
//                 (log URI &replicas=, each machine named by &machine=, so that they spread over
//                 the replicas), whose query caches are on; writes go to the primary.
//
// WHYCACHE_FLEET_SERVER_OPTIONS adds mariadbd options to BM_Fleet's server, e.g.
// "--thread-handling=pool-of-threads".
//
// Counters:
//   polls_per_s       polls completed per second; the schedule asks N * 20. A machine whose poll
//                     is due while its previous one still runs polls as soon as that ends, so
//                     a server (or client) that cannot keep up shows here.
//   server_us_per_poll  CPU time (user + system) of the servers machines read from (the server,
//                     or every replica) over the run, from /proc/PID/stat, per poll completed.
//   primary_us_per_poll  with replicas: the same for the primary, which every machine asks for
//                     its head id once a second to judge its replica's lag.
//   client_us_per_poll  the same for this process (every machine and the writer).
//   p50_ms, p99_ms    duration of one machine's poll (UpdateNow), over every poll of the run.
//
// Machines and the server share this machine's cores, so the figures of interest are the
// server's CPU per poll and polls served against polls asked, not throughput alone.
#include <cppconn/connection.h>
#include <cppconn/statement.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <memory>
#include <random>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "benchmark/benchmark.h"
#include "lib/bench/timing.h"
#include "lib/bench/workload.h"
#include "tests/support/temp_dir.h"
#include "tests/support/test_mariadb.h"
#include "tests/support/test_mariadb_replication.h"
#include "whycache/cache.h"
#include "whycache/change_log.h"

namespace whycache::testing {
namespace {

using Clock = std::chrono::steady_clock;

constexpr int kMaxMachines = 1000;
constexpr auto kPollInterval = std::chrono::milliseconds(50);
// Machines are driven by this many threads, each polling its machines in turn: enough that a
// poll waiting on the server does not hold up the others' schedules.
constexpr int kDriverThreads = 32;
constexpr int kInitialKeys = 1000;

// Options for the one server of BM_Fleet, from WHYCACHE_FLEET_SERVER_OPTIONS (e.g.
// "--thread-handling=pool-of-threads"), so that server settings can be compared.
std::string ExtraServerOptions() {
  const char* s = std::getenv("WHYCACHE_FLEET_SERVER_OPTIONS");
  return s != nullptr ? std::string(" ") + s : "";
}

std::chrono::seconds RunLength() {
  const char* s = std::getenv("WHYCACHE_FLEET_SECONDS");
  return std::chrono::seconds(s != nullptr ? std::max(1, std::atoi(s)) : 10);
}

std::vector<Mutation> RandomBatch(std::mt19937_64& rng, int sets) {
  std::vector<Mutation> batch;
  for (int i = 0; i < sets; ++i) {
    batch.push_back(
        Mutation::Set(bench::HexKey(rng() % (kInitialKeys * 10)), bench::RandomValue(rng, 100)));
  }
  return batch;
}

// User plus system CPU time of process `pid`, in microseconds.
int64_t ProcessCpuMicros(int pid) {
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string text((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
  // Fields after the command name, which is in parentheses and may hold spaces.
  const size_t close = text.rfind(')');
  if (close == std::string::npos) throw std::runtime_error("cannot read /proc/PID/stat");
  std::istringstream fields(text.substr(close + 2));
  std::string field;
  int64_t utime = 0;
  int64_t stime = 0;
  for (int i = 3; fields >> field; ++i) {
    if (i == 14) utime = std::stoll(field);
    if (i == 15) {
      stime = std::stoll(field);
      break;
    }
  }
  return (utime + stime) * 1'000'000 / sysconf(_SC_CLK_TCK);
}

// The servers and up to kMaxMachines machines reading from them, set up once for the benchmarks
// of one arrangement: one server, or a primary (with a binary log) and `replicas` replicas of it
// that the machines read from, spread over them by their machine names.
struct Fleet {
  Fleet(bool binlog, int replicas, bool query_cache)
      : binlog(binlog), replicas(replicas), query_cache(query_cache) {
    const std::string max_connections = std::to_string(kMaxMachines + 50);
    std::string machine_uri;
    if (replicas == 0) {
      server = TestMariaDb::StartPrivate(
          "--max-connections=" + max_connections +
          (binlog ? " --log-bin=fleet-bin --server-id=1 --binlog-format=ROW --sync-binlog=1" : "") +
          ExtraServerOptions());
      log_uri = server->settings().Uri("fleet");
      machine_uri = log_uri;
      primary_pid = server->settings().pid;
      read_pids.push_back(primary_pid);
    } else {
      set = TestReplicaSet::Start(replicas, {});
      log_uri = set->primary_settings().Uri("fleet");
      machine_uri = log_uri + "&replicas=";
      primary_pid = set->primary_settings().pid;
      // Every machine also keeps a connection to the primary, for its lag samples.
      SetMaxConnections(set->primary_settings(), max_connections);
      for (int r = 0; r < replicas; ++r) {
        const MariaDbSettings& replica = set->replica_settings(r);
        SetMaxConnections(replica, max_connections);
        machine_uri += (r == 0 ? "" : ",") + replica.host + ":" + std::to_string(replica.port);
        read_pids.push_back(replica.pid);
      }
    }
    writer = OpenChangeLog(log_uri, {.create_if_missing = true});
    std::mt19937_64 rng(1);
    for (int i = 0; i < kInitialKeys / 10; ++i) writer->Append(RandomBatch(rng, 10));
    if (set != nullptr) set->WaitForReplicas();
    // Before any machine connects: a session takes the server's query_cache_type when it starts.
    if (query_cache) TurnQueryCacheOn();
    for (int i = 0; i < kMaxMachines; ++i) {
      const std::string name = "machine-" + std::to_string(i);
      CacheOptions options;
      options.state_path = dir.File(name);
      options.log_uri = replicas == 0 ? machine_uri : machine_uri + "&machine=" + name;
      options.poll_interval = kPollInterval;
      machines.push_back(Cache::Open(options));
      machines.back()->UpdateNow();
    }
  }

  static void SetMaxConnections(const MariaDbSettings& server, const std::string& value) {
    SetGlobal(server, "max_connections = " + value);
  }

  static void SetGlobal(const MariaDbSettings& server, const std::string& assignment) {
    std::unique_ptr<sql::Connection> root = ConnectAsRoot(server);
    std::unique_ptr<sql::Statement> statement(root->createStatement());
    statement->execute("SET GLOBAL " + assignment);
  }

  // Turns the query cache of the servers machines read from on (16 MiB).
  void TurnQueryCacheOn() {
    std::vector<const MariaDbSettings*> servers;
    if (set == nullptr) servers.push_back(&server->settings());
    for (int r = 0; r < replicas; ++r) servers.push_back(&set->replica_settings(r));
    for (const MariaDbSettings* s : servers) {
      SetGlobal(*s, "query_cache_size = 16777216");
      SetGlobal(*s, "query_cache_type = ON");
    }
  }

  const bool binlog;
  const int replicas;
  const bool query_cache;
  std::unique_ptr<TestMariaDb> server;  // With no replicas.
  std::unique_ptr<TestReplicaSet> set;  // With replicas.
  std::string log_uri;
  int primary_pid = 0;
  std::vector<int> read_pids;  // The servers machines read from.
  std::unique_ptr<ChangeLog> writer;
  TempDir dir{"/dev/shm"};
  std::vector<std::unique_ptr<Cache>> machines;
};

Fleet& FleetOn(bool binlog, int replicas, bool query_cache) {
  static std::unique_ptr<Fleet> fleet;
  if (fleet == nullptr || fleet->binlog != binlog || fleet->replicas != replicas ||
      fleet->query_cache != query_cache) {
    fleet.reset();  // One arrangement at a time.
    fleet = std::make_unique<Fleet>(binlog, replicas, query_cache);
  }
  return *fleet;
}

int64_t ReadServersCpuMicros(const Fleet& fleet) {
  int64_t total = 0;
  for (int pid : fleet.read_pids) total += ProcessCpuMicros(pid);
  return total;
}

int64_t ThisProcessCpuMicros() {
  rusage usage;
  getrusage(RUSAGE_SELF, &usage);
  return (usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) * int64_t{1'000'000} +
         usage.ru_utime.tv_usec + usage.ru_stime.tv_usec;
}

// Polls `machines` machines of `fleet` on their schedules for RunLength(), with a writer when
// `writes`, and reports the counters.
void RunFleet(benchmark::State& state, Fleet& fleet, int machines, bool writes) {
  for (auto _ : state) {
    std::atomic<bool> stop{false};
    std::vector<std::vector<int64_t>> durations(kDriverThreads);
    std::atomic<int> failures{0};
    const int64_t server_before = ReadServersCpuMicros(fleet);
    const int64_t primary_before = ProcessCpuMicros(fleet.primary_pid);
    const int64_t client_before = ThisProcessCpuMicros();
    const Clock::time_point start = Clock::now();
    const Clock::time_point end = start + RunLength();
    std::thread writer;
    if (writes) {
      writer = std::thread([&] {
        std::mt19937_64 rng(static_cast<uint64_t>(machines));
        for (Clock::time_point due = start; Clock::now() < end; due += 2 * kPollInterval) {
          std::this_thread::sleep_until(due);
          fleet.writer->Append(RandomBatch(rng, 10));
        }
      });
    }
    std::vector<std::thread> drivers;
    for (int t = 0; t < kDriverThreads && t < machines; ++t) {
      drivers.emplace_back([&, t] {
        // This thread's machines, each first due at its own point of the interval, so that
        // polls spread evenly over time.
        std::vector<int> mine;
        std::vector<Clock::time_point> due;
        for (int m = t; m < machines; m += kDriverThreads) {
          mine.push_back(m);
          due.push_back(start + kPollInterval * m / machines);
        }
        for (;;) {
          const size_t next = std::min_element(due.begin(), due.end()) - due.begin();
          if (due[next] >= end) break;
          std::this_thread::sleep_until(due[next]);
          const Clock::time_point begin = Clock::now();
          try {
            fleet.machines[mine[next]]->UpdateNow();
          } catch (const std::exception&) {
            failures.fetch_add(1);
          }
          const Clock::time_point done = Clock::now();
          durations[t].push_back(
              std::chrono::duration_cast<std::chrono::nanoseconds>(done - begin).count());
          due[next] = std::max(due[next] + kPollInterval, done);
        }
      });
    }
    for (std::thread& d : drivers) d.join();
    if (writer.joinable()) writer.join();
    const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
    const int64_t server_us = ReadServersCpuMicros(fleet) - server_before;
    const int64_t primary_us = ProcessCpuMicros(fleet.primary_pid) - primary_before;
    const int64_t client_us = ThisProcessCpuMicros() - client_before;
    state.SetIterationTime(seconds);

    std::vector<int64_t> all;
    for (const auto& d : durations) all.insert(all.end(), d.begin(), d.end());
    const double polls = static_cast<double>(all.size());
    if (failures.load() != 0) {
      state.SkipWithError((std::to_string(failures.load()) + " polls failed").c_str());
    }
    state.counters["asked_per_s"] = machines * 1000.0 / kPollInterval.count();
    state.counters["polls_per_s"] = polls / seconds;
    state.counters["server_us_per_poll"] = server_us / polls;
    if (fleet.replicas > 0) state.counters["primary_us_per_poll"] = primary_us / polls;
    state.counters["client_us_per_poll"] = client_us / polls;
    state.counters["p50_ms"] = bench::Percentile(all, 0.50) / 1e6;
    state.counters["p99_ms"] = bench::Percentile(all, 0.99) / 1e6;
  }
}
void BM_Fleet(benchmark::State& state) {
  Fleet& fleet = FleetOn(state.range(0) != 0, 0, state.range(1) != 0);
  RunFleet(state, fleet, static_cast<int>(state.range(2)), state.range(3) != 0);
}

void BM_FleetOnReplicas(benchmark::State& state) {
  Fleet& fleet = FleetOn(true, static_cast<int>(state.range(0)), state.range(1) != 0);
  RunFleet(state, fleet, static_cast<int>(state.range(2)), state.range(3) != 0);
}

BENCHMARK(BM_Fleet)
    ->ArgNames({"binlog", "qc", "machines", "writes"})
    ->Apply([](benchmark::internal::Benchmark* b) {
      // Each server's runs together, so that it is set up once.
      for (int binlog : {0, 1}) {
        for (int query_cache : {0, 1}) {
          if (query_cache == 1 && binlog == 0) continue;
          for (int machines : {50, 200, kMaxMachines}) {
            for (int writes : {0, 1}) b->Args({binlog, query_cache, machines, writes});
          }
        }
      }
    })
    ->Iterations(1)
    ->UseManualTime()
    ->Unit(benchmark::kSecond);

BENCHMARK(BM_FleetOnReplicas)
    ->ArgNames({"replicas", "qc", "machines", "writes"})
    ->Apply([](benchmark::internal::Benchmark* b) {
      for (int replicas : {1, 2}) {
        for (int machines : {500, kMaxMachines}) {
          for (int writes : {0, 1}) b->Args({replicas, 1, machines, writes});
        }
      }
    })
    ->Iterations(1)
    ->UseManualTime()
    ->Unit(benchmark::kSecond);

}  // namespace
}  // namespace whycache::testing

BENCHMARK_MAIN();
