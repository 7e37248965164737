// A fleet on MariaDB replication, with real processes: writers append to the primary; machines
// (whycache::Cache, each with its own state file) and log tailers read from two replicas with a
// SELECT-only account; meanwhile a replica is killed and restarted, another lags, and the primary
// is killed and restarted. The oracle is the writers' own record, in memory shared with the test,
// of every id an append returned and the batch it carried (each batch is derived from the run's
// seed, the writer and its sequence number, so the test can make it again).
#include <cppconn/connection.h>
#include <cppconn/resultset.h>
#include <cppconn/statement.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cinttypes>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <new>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "lib/format/escape.h"
#include "lib/log/mysql/mysql_change_log.h"
#include "lib/log/mysql/mysql_log_options.h"
#include "lib/log/mysql/mysql_uri.h"
#include "lib/log/mysql/read_servers.h"
#include "tests/support/child_process.h"
#include "tests/support/temp_dir.h"
#include "tests/support/test_mariadb.h"
#include "tests/support/test_mariadb_replication.h"
#include "whycache/cache.h"
#include "whycache/change_log.h"
#include "whycache/error.h"

namespace whycache {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;
using testing::ChildProcess;
using testing::MariaDbSettings;
using testing::ReplicaOptions;
using testing::TestReplicaSet;

constexpr char kPrefix[] = "fleet";
constexpr int kWriters = 4;
constexpr int kKeys = 300;
constexpr int kMaxBatch = 8;
// The batch the test appends before the fleet starts: a key no writer touches, which machines
// must keep serving while the primary is down.
constexpr int kSentinelWriter = kWriters;
constexpr char kSentinelKey[] = "sentinel";
constexpr char kSentinelValue[] = "written before the fleet started";
constexpr uint64_t kMaxRecords = uint64_t{1} << 18;
constexpr int kMaxMachines = 8;
// One tailer per replica preference; index 2 of a server is the primary.
constexpr int kTailers = 2;
constexpr int kOnPrimary = 2;
// The longest any awaited condition may take, and how long a child runs at most.
constexpr milliseconds kWait(60'000);
constexpr std::chrono::minutes kChildLimit(10);

// An id a writer got back, and what the batch was.
struct Record {
  std::atomic<uint32_t> complete;  // Set last.
  uint32_t writer;
  uint64_t seq;
  uint64_t id;
};

// A batch a tailer received: its id, and a hash of its mutations.
struct Seen {
  uint64_t id;
  uint64_t hash;
};

struct TailerBoard {
  std::atomic<uint64_t> count;  // Entries of `seen` written.
  std::atomic<uint64_t> last_id;
  std::atomic<int32_t> server;          // Replica index, kOnPrimary, or -1 before the first read.
  std::atomic<int64_t> updates_behind;  // As ChangeLog::CurrentReadServer() says.
  std::atomic<uint64_t> failovers;
  std::atomic<uint64_t> failed_reads;
  Seen seen[kMaxRecords];
};

struct MachineBoard {
  std::atomic<uint64_t> applied_id;
  // Where the last poll read, from Stats().read_server: as TailerBoard's.
  std::atomic<int32_t> server;
  std::atomic<int64_t> updates_behind;
  std::atomic<uint64_t> failovers;
  std::atomic<uint64_t> checks;  // Loop rounds, each checking that applied_id did not go back.
  std::atomic<uint64_t> polls;   // Stats().polls of the machine.
  // While the primary is down: a Get of the sentinel answered from the state, a poll that
  // succeeded, and (for a machine on the primary) a last_error naming the primary.
  std::atomic<uint32_t> served_while_down;
  std::atomic<uint32_t> polled_while_down;
  std::atomic<uint32_t> named_primary;
};

// Memory shared by the test and every child: an anonymous shared mapping made before the first
// fork, so it leaves nothing in any filesystem.
struct Board {
  std::atomic<uint32_t> stop_writers;
  std::atomic<uint32_t> finish;  // Machines and tailers catch up to final_head, then exit.
  std::atomic<uint64_t> final_head;
  std::atomic<uint32_t> primary_down;
  std::atomic<uint64_t> failed_appends;  // Attempts that threw kUnavailable and were retried.
  std::atomic<uint64_t> failed_appends_while_down;
  std::atomic<uint64_t> next_record;
  std::atomic<uint64_t> recorded;
  MachineBoard machines[kMaxMachines];
  TailerBoard tailers[kTailers];
  Record records[kMaxRecords];
};

class SharedBoard {
 public:
  SharedBoard() {
    void* memory =
        mmap(nullptr, sizeof(Board), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (memory == MAP_FAILED) throw std::runtime_error("mmap of the shared board failed");
    board_ = new (memory) Board();
  }
  ~SharedBoard() { munmap(board_, sizeof(Board)); }
  SharedBoard(const SharedBoard&) = delete;
  SharedBoard& operator=(const SharedBoard&) = delete;
  Board& operator*() const { return *board_; }
  Board* operator->() const { return board_; }

 private:
  Board* board_ = nullptr;
};

// A value such as applications store: mostly small JSON documents, sometimes empty or binary.
std::string RandomValue(std::mt19937_64& rng) {
  static constexpr char kPlans[][8] = {"free", "pro", "team", "edge"};
  switch (rng() % 10) {
    case 0:
      return "";
    case 1: {
      std::string bytes(1 + rng() % 64, '\0');
      for (char& c : bytes) c = static_cast<char>(rng());
      return bytes;
    }
    default: {
      std::string note(rng() % 120, ' ');
      for (char& c : note) c = static_cast<char>('a' + rng() % 26);
      return "{\"user\":" + std::to_string(rng() % 1'000'000) + ",\"plan\":\"" + kPlans[rng() % 4] +
             "\",\"quota\":" + std::to_string(rng() % 10'000) + ",\"note\":\"" + note + "\"}";
    }
  }
}

// Batch `seq` of `writer` in the run with `seed`: 1 to kMaxBatch sets and deletes.
std::vector<Mutation> MakeBatch(uint64_t seed, uint32_t writer, uint64_t seq) {
  if (writer == kSentinelWriter) return {Mutation::Set(kSentinelKey, kSentinelValue)};
  std::seed_seq seeds{seed, seed >> 32, uint64_t{writer}, seq, seq >> 32};
  std::mt19937_64 rng(seeds);
  std::vector<Mutation> batch(1 + rng() % kMaxBatch);
  for (Mutation& mutation : batch) {
    char key[16];
    std::snprintf(key, sizeof key, "key:%03d", static_cast<int>(rng() % kKeys));
    mutation = rng() % 5 == 0 ? Mutation::Delete(key) : Mutation::Set(key, RandomValue(rng));
  }
  return batch;
}

// A fingerprint of a batch, for a tailer to record what it received.
uint64_t Hash(const std::vector<Mutation>& batch) {
  std::string bytes;
  for (const Mutation& m : batch) {
    bytes += (m.op == Mutation::Op::kSet ? "set " : "del ") + std::to_string(m.key.size()) + " " +
             m.key + " " + std::to_string(m.value.size()) + " " + m.value;
  }
  return std::hash<std::string>()(bytes);
}

// The oracle: every complete record, in id order.
std::vector<Record*> Oracle(Board& board) {
  std::vector<Record*> records;
  const uint64_t n = std::min(board.next_record.load(), kMaxRecords);
  for (uint64_t i = 0; i < n; ++i) {
    if (board.records[i].complete.load() != 0) records.push_back(&board.records[i]);
  }
  std::sort(records.begin(), records.end(),
            [](const Record* a, const Record* b) { return a->id < b->id; });
  return records;
}

std::map<std::string, std::string> Replay(const std::vector<Record*>& oracle, uint64_t seed) {
  std::map<std::string, std::string> state;
  for (const Record* record : oracle) {
    for (Mutation& m : MakeBatch(seed, record->writer, record->seq)) {
      if (m.op == Mutation::Op::kSet) {
        state[m.key] = std::move(m.value);
      } else {
        state.erase(m.key);
      }
    }
  }
  return state;
}

std::string Printable(std::string_view bytes) { return format::EscapeBytes(bytes.substr(0, 60)); }

// What a child needs to know about the run. Children stop when told to, when the test process
// is gone, or at the time limit, so that none outlives the test.
struct Context {
  Board* board = nullptr;
  uint64_t seed = 0;
  pid_t parent = 0;
  Clock::time_point give_up;
  std::string writer_uri;
  std::string primary_address;  // host:port, as errors name the primary.
  std::string endpoints[3];     // "user@host:port" of replica 0, replica 1 and the primary.
  uint64_t sentinel_id = 0;

  bool Alive() const { return getppid() == parent && Clock::now() < give_up; }
  // The index in `endpoints` of a ChangeLog::ReadServer's server, or -1.
  int ServerIndex(const std::string& server) const {
    const int i = static_cast<int>(std::find(endpoints, endpoints + 3, server) - endpoints);
    return i == 3 ? -1 : i;
  }
};

int Fail(const char* who, int index, const std::string& what) {
  std::fprintf(stderr, "%s %d: %s\n", who, index, what.c_str());
  return 1;
}

int RunWriter(const Context& c, uint32_t writer) {
  Board& board = *c.board;
  LogOptions options;
  // Short, so that an append to a primary that is down fails and is retried by this loop.
  options.reconnect_budget = milliseconds(1000);
  std::unique_ptr<ChangeLog> log = OpenChangeLog(c.writer_uri, options);
  for (uint64_t seq = 0; board.stop_writers.load() == 0; ++seq) {
    if (!c.Alive()) return Fail("writer", writer, "gave up at the time limit");
    const std::vector<Mutation> batch = MakeBatch(c.seed, writer, seq);
    const AppendToken token = AppendToken::Random();
    uint64_t id = 0;
    for (;;) {
      try {
        id = log->Append(batch, token);
        break;
      } catch (const Error& e) {
        if (e.code() != Error::Code::kUnavailable) throw;
        board.failed_appends.fetch_add(1);
        if (board.primary_down.load() != 0) board.failed_appends_while_down.fetch_add(1);
        if (!c.Alive()) return Fail("writer", writer, std::string("still failing: ") + e.what());
        std::this_thread::sleep_for(milliseconds(10));
      }
    }
    const uint64_t index = board.next_record.fetch_add(1);
    if (index >= kMaxRecords) return Fail("writer", writer, "the record is full");
    Record& record = board.records[index];
    record.writer = writer;
    record.seq = seq;
    record.id = id;
    record.complete.store(1);
    board.recorded.fetch_add(1);
  }
  return 0;
}

// A machine: polls through Update() as a request path does, checking on every round that its
// applied id never goes back; at the end it catches up to the final head with UpdateNow().
int RunMachine(const Context& c, int m, const CacheOptions& options, bool on_primary) {
  Board& board = *c.board;
  MachineBoard& me = board.machines[m];
  std::unique_ptr<Cache> cache = Cache::Open(options);
  uint64_t last = 0;
  uint64_t polls_when_down = UINT64_MAX;
  for (uint64_t round = 0; board.finish.load() == 0; ++round) {
    if (!c.Alive()) return Fail("machine", m, "gave up at the time limit");
    cache->Update();
    const uint64_t applied = cache->AppliedId();
    if (applied < last) {
      return Fail(
          "machine", m,
          "applied id went back from " + std::to_string(last) + " to " + std::to_string(applied));
    }
    last = applied;
    me.applied_id.store(applied);
    me.checks.fetch_add(1);
    if (board.primary_down.load() == 0) {
      polls_when_down = UINT64_MAX;
    } else {
      if (applied >= c.sentinel_id) {
        if (cache->Get(kSentinelKey) != kSentinelValue) {
          return Fail("machine", m, "the sentinel is not served while the primary is down");
        }
        me.served_while_down.store(1);
      }
      const CacheStats stats = cache->Stats();
      if (polls_when_down == UINT64_MAX) polls_when_down = stats.polls;
      if (stats.polls > polls_when_down && stats.last_error.empty()) {
        me.polled_while_down.store(1);
      }
      if (on_primary && stats.last_error.find(c.primary_address) != std::string::npos) {
        me.named_primary.store(1);
      }
    }
    const CacheStats stats = cache->Stats();
    me.polls.store(stats.polls);
    if (!stats.read_server.server.empty()) {
      const int server = c.ServerIndex(stats.read_server.server);
      if (server < 0) return Fail("machine", m, "reads from " + stats.read_server.server);
      if (server != me.server.load() && me.server.load() >= 0) me.failovers.fetch_add(1);
      me.server.store(server);
      me.updates_behind.store(stats.read_server.updates_behind);
    }
    std::this_thread::sleep_for(milliseconds(5));
  }
  const uint64_t target = board.final_head.load();
  const auto deadline = Clock::now() + kWait;
  while (cache->AppliedId() < target && Clock::now() < deadline) {
    try {
      cache->UpdateNow();
    } catch (const Error& e) {
      if (e.code() != Error::Code::kUnavailable) throw;
    }
  }
  me.polls.store(cache->Stats().polls);
  me.applied_id.store(cache->AppliedId());
  if (cache->AppliedId() != target) {
    return Fail("machine", m,
                "ended at id " + std::to_string(cache->AppliedId()) + ", not at the final head " +
                    std::to_string(target) + "; last error: " + cache->Stats().last_error);
  }
  return 0;
}

// A tailer: reads the log on its own with ReadAfter, checking that ids strictly increase, and
// records every id with a hash of its batch for the test to compare with the oracle.
int RunTailer(const Context& c, int t, const std::string& uri,
              const mysql_log::MysqlLogOptions& options) {
  Board& board = *c.board;
  TailerBoard& me = board.tailers[t];
  std::unique_ptr<ChangeLog> log = mysql_log::OpenMysqlChangeLog(uri, {}, options);
  uint64_t after = 0;
  int server = -1;
  std::optional<Clock::time_point> deadline;  // Once told to finish.
  while (!(board.finish.load() != 0 && after >= board.final_head.load())) {
    if (board.finish.load() != 0 && !deadline) deadline = Clock::now() + kWait;
    if (!c.Alive() || (deadline && Clock::now() > *deadline)) {
      return Fail("tailer", t,
                  "stopped at id " + std::to_string(after) + " of " +
                      std::to_string(board.final_head.load()));
    }
    std::vector<Update> updates;
    try {
      updates = log->ReadAfter(after, 500);
    } catch (const Error& e) {
      if (e.code() != Error::Code::kUnavailable) throw;
      me.failed_reads.fetch_add(1);
      std::this_thread::sleep_for(milliseconds(10));
      continue;
    }
    for (const Update& update : updates) {
      if (update.id <= after) {
        return Fail("tailer", t,
                    "got id " + std::to_string(update.id) + " after " + std::to_string(after));
      }
      const uint64_t n = me.count.load();
      if (n >= kMaxRecords) return Fail("tailer", t, "too many batches to record");
      me.seen[n] = {update.id, Hash(update.mutations)};
      me.count.store(n + 1);
      after = update.id;
    }
    me.last_id.store(after);
    const ChangeLog::ReadServer status = log->CurrentReadServer();
    const int now = c.ServerIndex(status.server);
    if (now < 0) return Fail("tailer", t, "reads from an unknown server " + status.server);
    if (server != -1 && now != server) {
      me.failovers.fetch_add(1);
      std::fprintf(
          stderr, "tailer %d: reads moved from %s to %s at id %" PRIu64 " (last failover: %s)\n", t,
          c.endpoints[server].c_str(), status.server.c_str(), after, status.last_failover.c_str());
    }
    server = now;
    me.server.store(now);
    me.updates_behind.store(status.updates_behind);
    if (updates.empty()) std::this_thread::sleep_for(milliseconds(5));
  }
  if (after != board.final_head.load()) {
    return Fail("tailer", t,
                "ended at id " + std::to_string(after) + " past the final head " +
                    std::to_string(board.final_head.load()));
  }
  return 0;
}

uint64_t EnvNumber(const char* name, uint64_t otherwise) {
  const char* value = std::getenv(name);
  return value != nullptr && *value != '\0' ? std::strtoull(value, nullptr, 10) : otherwise;
}

struct FleetPlan {
  ReplicaOptions replication;
  uint64_t batches = 0;  // Written at least.
  bool failures = false;
};

class FleetOnReplicasTest : public ::testing::Test {
 protected:
  void SetUp() override {
    seed_ = EnvNumber("WHYCACHE_FLEET_SEED", std::random_device()());
    std::printf("seed %" PRIu64 " (WHYCACHE_FLEET_SEED replays its batches)\n", seed_);
  }

  // Runs the fleet through `plan` and checks the machines and tailers against the oracle.
  void Run(const FleetPlan& plan) {
    const auto started = Clock::now();
    set_ = TestReplicaSet::Start(2, plan.replication);
    ASSERT_NO_FATAL_FAILURE(StartFleet());
    if (plan.failures) {
      ASSERT_NO_FATAL_FAILURE(Disrupt(plan.batches));
    }
    ASSERT_NO_FATAL_FAILURE(AwaitRecorded(plan.batches, "the batches of the run"));
    const auto written = Clock::now();

    board_->stop_writers.store(1);
    ASSERT_NO_FATAL_FAILURE(AwaitExits(writers_, "writer"));
    const std::vector<Record*> oracle = Oracle(*board_);
    ASSERT_FALSE(oracle.empty());
    const uint64_t head = oracle.back()->id;
    set_->WaitForReplicas(std::chrono::seconds(60));
    // With every replica up to date, reads go back to the replica each tailer prefers.
    for (int t = 0; t < kTailers; ++t) {
      ASSERT_NO_FATAL_FAILURE(Await([&] { return board_->tailers[t].server.load() == t; },
                                    "tailer " + std::to_string(t) + " reads from its replica"));
    }
    board_->final_head.store(head);
    board_->finish.store(1);
    ASSERT_NO_FATAL_FAILURE(AwaitExits(readers_, "reader"));

    for (size_t i = 1; i < oracle.size(); ++i) {
      ASSERT_LT(oracle[i - 1]->id, oracle[i]->id) << "two appends returned the same id";
    }
    for (int t = 0; t < kTailers; ++t) CheckTailer(t, oracle);
    const std::map<std::string, std::string> expected = Replay(oracle, seed_);
    for (size_t m = 0; m < machines_.size(); ++m) {
      CheckMachine(static_cast<int>(m), machines_[m].state_path, expected, head);
    }
    PrintSummary(oracle, written - started, Clock::now() - started);
  }

  // Makes the log (with the sentinel batch) and starts the writers, the machines and the
  // tailers.
  void StartFleet() {
    const MariaDbSettings& primary = set_->primary_settings();
    const MariaDbSettings reader = set_->AsReader(primary);
    const std::string defaults_file = dir_.path() + "/reader.cnf";
    std::ofstream(defaults_file) << "[client]\npassword=" << reader.password << "\n";

    Context& c = context_;
    c.board = &*board_;
    c.seed = seed_;
    c.parent = getpid();
    c.give_up = Clock::now() + kChildLimit;
    c.writer_uri = primary.Uri(kPrefix);
    c.primary_address = primary.host + ":" + std::to_string(primary.port);
    for (int i = 0; i < 2; ++i) c.endpoints[i] = Endpoint(set_->replica_settings(i));
    c.endpoints[kOnPrimary] = Endpoint(primary);
    {
      LogOptions create;
      create.create_if_missing = true;
      std::unique_ptr<ChangeLog> log = OpenChangeLog(c.writer_uri, create);
      c.sentinel_id = log->Append(MakeBatch(seed_, kSentinelWriter, 0));
    }
    Record& sentinel = board_->records[board_->next_record.fetch_add(1)];
    sentinel.writer = kSentinelWriter;
    sentinel.id = c.sentinel_id;
    sentinel.complete.store(1);
    set_->WaitForReplicas();

    const std::string reader_uri = reader.Uri(kPrefix) + "&defaults-file=" + defaults_file;
    std::string fleet_uri = reader_uri + "&replicas=";
    for (int i = 0; i < 2; ++i) {
      const MariaDbSettings& replica = set_->replica_settings(i);
      fleet_uri += (i == 0 ? "" : ",") + replica.host + ":" + std::to_string(replica.port);
    }
    // Two machines preferring each replica, and one reading from the primary alone.
    for (int replica : {0, 1, 0, 1}) {
      const std::string name = MachinePreferring(fleet_uri, replica, machines_.size());
      machines_.push_back(MachineOptions(fleet_uri + "&machine=" + name));
      preferred_.push_back(replica);
    }
    on_primary_ = machines_.size();
    machines_.push_back(MachineOptions(reader_uri));
    ASSERT_LE(machines_.size(), static_cast<size_t>(kMaxMachines));

    for (uint32_t w = 0; w < kWriters; ++w) {
      writers_.emplace_back([&c, w] { return RunWriter(c, w); });
    }
    for (size_t m = 0; m < machines_.size(); ++m) {
      board_->machines[m].server.store(-1);
      readers_.emplace_back([&c, m, this] {
        return RunMachine(c, static_cast<int>(m), machines_[m], m == on_primary_);
      });
    }
    for (int t = 0; t < kTailers; ++t) {
      board_->tailers[t].server.store(-1);
      mysql_log::MysqlLogOptions options;
      options.machine_name = MachinePreferring(fleet_uri, t, 100);
      options.reconnect_budget = milliseconds(10'000);
      options.replica_reconnect_budget = milliseconds(300);
      options.replica_retry_interval = milliseconds(300);
      options.lag_sample_interval = milliseconds(100);
      options.max_replica_lag = milliseconds(500);
      readers_.emplace_back(
          [&c, t, &fleet_uri, options] { return RunTailer(c, t, fleet_uri, options); });
    }
  }

  void PrintSummary(const std::vector<Record*>& oracle, Clock::duration writing,
                    Clock::duration in_all) {
    uint64_t polls = 0;
    uint64_t checks = 0;
    uint64_t failovers = 0;
    for (size_t m = 0; m < machines_.size(); ++m) {
      polls += board_->machines[m].polls.load();
      checks += board_->machines[m].checks.load();
      failovers += board_->machines[m].failovers.load();
    }
    auto seconds = [](Clock::duration d) {
      return std::chrono::duration_cast<milliseconds>(d).count() / 1000.0;
    };
    std::printf("%zu batches (ids %" PRIu64 "..%" PRIu64
                ") in %.1f s, %.1f s in all; %zu machines: "
                "%" PRIu64 " polls, %" PRIu64 " applied-id checks, %" PRIu64
                " failovers; tailer failovers %" PRIu64 " and %" PRIu64
                ", failed tail reads %" PRIu64 " and %" PRIu64 "; appends retried %" PRIu64
                " (%" PRIu64 " while the primary was down)\n",
                oracle.size(), oracle.front()->id, oracle.back()->id, seconds(writing),
                seconds(in_all), machines_.size(), polls, checks, failovers,
                board_->tailers[0].failovers.load(), board_->tailers[1].failovers.load(),
                board_->tailers[0].failed_reads.load(), board_->tailers[1].failed_reads.load(),
                board_->failed_appends.load(), board_->failed_appends_while_down.load());
  }

  // Tailer t saw every batch of the oracle once, in id order, with the mutations its writer
  // appended.
  void CheckTailer(int t, const std::vector<Record*>& oracle) {
    SCOPED_TRACE("tailer " + std::to_string(t));
    const TailerBoard& tailer = board_->tailers[t];
    const size_t seen = tailer.count.load();
    for (size_t i = 0; i < std::min(seen, oracle.size()); ++i) {
      const Record& record = *oracle[i];
      ASSERT_EQ(tailer.seen[i].id, record.id)
          << "after id " << (i == 0 ? 0 : oracle[i - 1]->id) << " the tailer got "
          << tailer.seen[i].id << ", the oracle has " << record.id << " (" << seen
          << " batches seen, " << oracle.size() << " appended)";
      ASSERT_EQ(tailer.seen[i].hash, Hash(MakeBatch(seed_, record.writer, record.seq)))
          << "batch " << record.id << " holds other mutations than its writer appended";
    }
    ASSERT_EQ(seen, oracle.size()) << "batches seen vs. batches appended";
  }

  // Machine m's state file holds the oracle replayed, at the final head.
  void CheckMachine(int m, const std::string& state_path,
                    const std::map<std::string, std::string>& expected, uint64_t head) {
    SCOPED_TRACE("machine " + std::to_string(m));
    CacheOptions alone;
    alone.state_path = state_path;
    std::unique_ptr<Cache> cache = Cache::Open(alone);
    ReadTransaction txn = cache->BeginRead();
    EXPECT_EQ(txn.applied_id(), head);
    std::map<std::string, std::string> state;
    txn.Scan("", [&](std::string_view key, std::string_view value) {
      state.emplace(key, value);
      return true;
    });
    EXPECT_EQ(state.size(), expected.size());
    for (const auto& [key, value] : expected) {
      const auto it = state.find(key);
      if (it == state.end()) {
        ADD_FAILURE() << "missing key " << key;
      } else if (it->second != value) {
        ADD_FAILURE() << "key " << key << " holds '" << Printable(it->second) << "', the oracle '"
                      << Printable(value) << "'";
      }
    }
    for (const auto& [key, value] : state) {
      if (expected.count(key) == 0) ADD_FAILURE() << "key " << key << " should be absent";
    }
  }

  // The failures, each at a share of the batches written: replica 0 killed until the machines
  // and the tailer preferring it read on from elsewhere, and restarted; replica 1's replication
  // stopped until the tailer preferring it has moved away and the machines preferring it have
  // moved away or report the lag (their default bound is 10 s), and started again; the
  // primary killed until every machine has shown what it must, then restarted.
  void Disrupt(uint64_t batches) {
    ASSERT_NO_FATAL_FAILURE(AwaitRecorded(batches / 10, "batches before replica 0 is killed"));
    set_->KillReplica(0);
    // The replica held at most what the primary holds now: batches past it come from elsewhere.
    const uint64_t killed_head = HeadOn(set_->primary_settings());
    ASSERT_NO_FATAL_FAILURE(Await(
        [&] {
          for (size_t m = 0; m < preferred_.size(); ++m) {
            const MachineBoard& machine = board_->machines[m];
            if (preferred_[m] == 0 &&
                (machine.applied_id.load() <= killed_head || machine.server.load() <= 0)) {
              return false;
            }
          }
          return board_->tailers[0].last_id.load() > killed_head &&
                 board_->tailers[0].server.load() > 0;
        },
        "the machines and the tailer preferring replica 0 to read past " +
            std::to_string(killed_head) + " from another server once it is killed"));
    ASSERT_NO_FATAL_FAILURE(AwaitRecorded(batches / 4, "batches while replica 0 is down"));
    set_->StartReplica(0);

    ASSERT_NO_FATAL_FAILURE(AwaitRecorded(batches * 35 / 100, "batches before replica 1 lags"));
    set_->StopReplication(1);
    // Batches past the head of the stopped replica can only come from another server. A
    // machine still reading from it reports at least the lag the stop made.
    const uint64_t stopped_head = HeadOn(set_->replica_settings(1));
    const int64_t lag =
        std::max<int64_t>(1, static_cast<int64_t>(HeadOn(set_->primary_settings()) - stopped_head));
    ASSERT_NO_FATAL_FAILURE(Await(
        [&] {
          for (size_t m = 0; m < preferred_.size(); ++m) {
            const MachineBoard& machine = board_->machines[m];
            const int server = machine.server.load();
            if (preferred_[m] == 1 && server != 0 && server != kOnPrimary &&
                !(server == 1 && machine.updates_behind.load() >= lag)) {
              return false;
            }
          }
          const int server = board_->tailers[1].server.load();
          return board_->tailers[1].last_id.load() > stopped_head && server != 1;
        },
        "the tailer preferring replica 1 to read past its head " + std::to_string(stopped_head) +
            " from another server while it lags, and the machines preferring it to fail over "
            "or report a lag of " +
            std::to_string(lag) + " updates"));
    set_->StartReplication(1);

    ASSERT_NO_FATAL_FAILURE(AwaitRecorded(batches * 55 / 100, "batches before the primary dies"));
    set_->primary().Kill();
    board_->primary_down.store(1);
    ASSERT_NO_FATAL_FAILURE(Await(
        [&] {
          for (size_t m = 0; m < machines_.size(); ++m) {
            const MachineBoard& machine = board_->machines[m];
            if (machine.served_while_down.load() == 0) return false;
            if (m == on_primary_ ? machine.named_primary.load() == 0
                                 : machine.polled_while_down.load() == 0) {
              return false;
            }
          }
          return board_->failed_appends_while_down.load() > 0;
        },
        "while the primary is down: every machine serves the sentinel, the machines on "
        "replicas poll, the one on the primary names it in last_error, and appends fail"));
    set_->primary().Start();
    board_->primary_down.store(0);
    set_->WaitForReplicas(std::chrono::seconds(60));
  }

  // Waits until `done()`, for at most kWait, failing at once when a child ended early (a writer
  // before it was told to stop).
  void Await(const std::function<bool()>& done, const std::string& what) {
    const auto deadline = Clock::now() + kWait;
    while (!done()) {
      for (std::vector<ChildProcess>* children : {&writers_, &readers_}) {
        if (children == &writers_ && board_->stop_writers.load() != 0) continue;
        for (ChildProcess& child : *children) {
          if (std::optional<int> status = child.WaitFor(milliseconds(0))) {
            FAIL() << "child " << child.pid() << " " << ChildProcess::Describe(*status)
                   << " while waiting for " << what;
          }
        }
      }
      ASSERT_LT(Clock::now(), deadline)
          << "waited " << kWait.count() << " ms for " << what << "; " << Progress();
      std::this_thread::sleep_for(milliseconds(20));
    }
  }

  // Where the children are, for messages.
  std::string Progress() const {
    std::string s = std::to_string(board_->recorded.load()) + " batches recorded; machines at";
    for (size_t m = 0; m < machines_.size(); ++m) {
      const MachineBoard& machine = board_->machines[m];
      s += " " + std::to_string(machine.applied_id.load()) + " (server " +
           std::to_string(machine.server.load()) + ", " +
           std::to_string(machine.updates_behind.load()) + " behind)";
    }
    for (int t = 0; t < kTailers; ++t) {
      const TailerBoard& tailer = board_->tailers[t];
      s += "; tailer " + std::to_string(t) + " at " + std::to_string(tailer.last_id.load()) +
           " on server " + std::to_string(tailer.server.load()) + ", " +
           std::to_string(tailer.updates_behind.load()) + " behind";
    }
    return s;
  }

  void AwaitRecorded(uint64_t batches, const std::string& what) {
    Await([&] { return board_->recorded.load() >= batches; }, std::to_string(batches) + " " + what);
  }

  void AwaitExits(std::vector<ChildProcess>& children, const std::string& what) {
    const auto deadline = Clock::now() + kWait + kWait;
    for (ChildProcess& child : children) {
      const auto left = std::chrono::duration_cast<milliseconds>(deadline - Clock::now());
      const std::optional<int> status = child.WaitFor(std::max(left, milliseconds(1)));
      ASSERT_TRUE(status.has_value())
          << what << " " << child.pid() << " did not end; " << Progress();
      ASSERT_TRUE(ChildProcess::Succeeded(*status))
          << what << " " << child.pid() << " " << ChildProcess::Describe(*status);
    }
  }

  // The head id `server` holds, read as root from the log's meta row.
  static uint64_t HeadOn(const MariaDbSettings& server) {
    std::unique_ptr<sql::Connection> root = testing::ConnectAsRoot(server);
    std::unique_ptr<sql::Statement> statement(root->createStatement());
    std::unique_ptr<sql::ResultSet> rows(statement->executeQuery(
        "SELECT head_id FROM `" + server.database + "`." + kPrefix + "_meta WHERE id = 1"));
    if (!rows->next())
      throw std::runtime_error("no meta row on port " + std::to_string(server.port));
    return rows->getUInt64(1);
  }

  std::string Endpoint(const MariaDbSettings& server) const {
    return set_->AsReader(server).user + "@" + server.host + ":" + std::to_string(server.port);
  }

  // The `skip`th machine name (in a fixed sequence) whose preferred replica is `replica`.
  static std::string MachinePreferring(const std::string& fleet_uri, int replica, size_t skip) {
    const mysql_log::MysqlUri uri = mysql_log::ParseMysqlUri(fleet_uri);
    for (int i = 0; i < 10'000; ++i) {
      const std::string name = "host-" + std::to_string(i);
      if (mysql_log::ReplicaPreference(uri, name)[0] == static_cast<size_t>(replica) &&
          skip-- == 0) {
        return name;
      }
    }
    throw std::runtime_error("too few machine names prefer replica " + std::to_string(replica));
  }

  CacheOptions MachineOptions(const std::string& uri) const {
    CacheOptions options;
    options.state_path = dir_.path() + "/machine-" + std::to_string(machines_.size()) + ".state";
    options.log_uri = uri;
    return options;
  }

  uint64_t seed_ = 0;
  testing::TempDir dir_;
  SharedBoard board_;
  Context context_;
  std::vector<CacheOptions> machines_;
  std::vector<int> preferred_;  // The replica each machine on replicas prefers.
  size_t on_primary_ = 0;       // The machine that reads from the primary alone.
  // Declared after the board and the servers, so that every child is killed and reaped first.
  std::unique_ptr<TestReplicaSet> set_;
  std::vector<ChildProcess> writers_;
  std::vector<ChildProcess> readers_;
};

// Single-threaded replication; replica 0 killed, replica 1 lagging, the primary killed.
TEST_F(FleetOnReplicasTest, StaysCorrectWhileServersFail) {
  FleetPlan plan;
  plan.batches = EnvNumber("WHYCACHE_FLEET_BATCHES", 5000);
  plan.failures = true;
  Run(plan);
}

// Replicas applying in parallel must still make ids visible in id order.
TEST_F(FleetOnReplicasTest, ConservativeParallelReplicationKeepsIdOrder) {
  FleetPlan plan;
  plan.replication = {.parallel_threads = 4, .parallel_mode = "conservative"};
  plan.batches = 1500;
  Run(plan);
}

TEST_F(FleetOnReplicasTest, OptimisticParallelReplicationKeepsIdOrder) {
  FleetPlan plan;
  plan.replication = {.parallel_threads = 4, .parallel_mode = "optimistic"};
  plan.batches = 1500;
  Run(plan);
}

}  // namespace
}  // namespace whycache
