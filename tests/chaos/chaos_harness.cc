#include "tests/chaos/chaos_harness.h"

#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <new>
#include <optional>
#include <random>
#include <stdexcept>
#include <thread>

#include "gtest/gtest.h"
#include "tests/cache/cache_test_util.h"
#include "tests/support/child_process.h"
#include "tests/support/temp_dir.h"
#include "whycache/cache.h"
#include "whycache/error.h"

namespace whycache::testing {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

// Each batch sets (or deletes) all keys of one group to the same value: a reader that sees the
// keys of a group differ saw part of a batch.
constexpr int kGroups = 64;
constexpr int kGroupKeys = 4;
constexpr int kMaxLabels = 8;
constexpr uint64_t kMaxRecords = uint64_t{1} << 20;
constexpr int kMaxSlots = 16;
constexpr int kMachines = 3;
constexpr int kLaggingMachine = 2;
constexpr char kMachineNames[] = "ABC";
constexpr int kMinKills = 5;
constexpr int kMinKillsInside = 3;
// How long a kill waits for its victim to enter its operation (the lagging applier enters it
// every few seconds).
constexpr milliseconds kAnnounceWait(20'000);
// How far a run may go past its duration to contain everything it must.
constexpr std::chrono::seconds kOverrun(120);

// An id a writer got back from Write(), and the token its batch carried.
struct WriteRecord {
  std::atomic<uint32_t> complete;  // Set last: a writer killed while filling it leaves it 0.
  uint32_t label;
  uint64_t id;
  uint64_t spawn;
  uint64_t seq;
};

enum Counter {
  kReads,
  kCompactions,
  kSnapshotsCreated,
  kSnapshotsRestored,
  kRestoresRefused,
  kResyncs,
  kCounterCount
};

// Memory shared by the parent and every child (an anonymous shared mapping made before the
// first fork): what the children did survives their SIGKILL, and it lives in no filesystem the
// run fills or makes read-only.
struct Board {
  std::atomic<uint32_t> stop;
  std::atomic<uint32_t> label;  // The disruption under way, + 1 (0: none).
  std::atomic<uint32_t> busy[kMaxSlots];
  std::atomic<uint64_t> counters[kCounterCount];
  std::atomic<uint64_t> refused[kMaxLabels];
  std::atomic<uint64_t> compactions_refused[kMaxLabels];
  std::atomic<uint64_t> returned[kMaxLabels];  // Ids writers got back and recorded, by label.
  std::atomic<uint64_t> next_record;
  WriteRecord records[kMaxRecords];
};

class Busy {
 public:
  explicit Busy(std::atomic<uint32_t>& flag) : flag_(flag) { flag_.store(1); }
  ~Busy() { flag_.store(0); }

 private:
  std::atomic<uint32_t>& flag_;
};

std::string GroupKey(int group, int index) {
  char key[32];
  std::snprintf(key, sizeof key, "grp:%02d:%d", group, index);
  return key;
}

std::string TokenKey(uint64_t spawn, uint64_t seq) {
  return "tok:" + std::to_string(spawn) + ":" + std::to_string(seq);
}

bool IsToken(const std::string& key) { return key.rfind("tok:", 0) == 0; }

// What a child knows about its place in the run.
struct ChildContext {
  Board* board = nullptr;
  int slot = 0;
  uint64_t spawn = 0;  // Unique per spawned process, for its tokens and random seed.
  pid_t parent = 0;
  Clock::time_point give_up;
  const CacheOptions* machines = nullptr;
  std::string snapshot_path;

  // Children also stop if the parent is gone or the run overran by far, so none outlives it.
  bool Running() const {
    return board->stop.load() == 0 && getppid() == parent && Clock::now() < give_up;
  }
  std::atomic<uint32_t>& busy() const { return board->busy[slot]; }
  void Count(Counter counter) const { board->counters[counter].fetch_add(1); }
};

int Violation(const ChildContext& c, const std::string& what) {
  std::fprintf(stderr, "reader in slot %d: %s\n", c.slot, what.c_str());
  return 1;
}

int RunReader(const ChildContext& c, int machine) {
  auto cache = Cache::Open(c.machines[machine]);
  std::mt19937_64 rng(c.spawn);
  uint64_t last_applied = 0;
  while (c.Running()) {
    {
      Busy busy(c.busy());
      cache->Update();
      ReadTransaction txn = cache->BeginRead();
      // Machine B goes back in time when a snapshot is restored onto it; A only goes forward.
      if (machine == 0 && txn.applied_id() < last_applied) {
        return Violation(c, "applied id went back from " + std::to_string(last_applied) + " to " +
                                std::to_string(txn.applied_id()));
      }
      last_applied = txn.applied_id();
      const int group = static_cast<int>(rng() % kGroups);
      const std::optional<std::string_view> held = txn.Get(GroupKey(group, 0));
      const std::string copy(held.value_or(""));
      for (int i = 1; i < kGroupKeys; ++i) {
        if (txn.Get(GroupKey(group, i)) != held) {
          return Violation(c, "part of a batch: " + GroupKey(group, i) + " differs from " +
                                  GroupKey(group, 0) + " at id " +
                                  std::to_string(txn.applied_id()));
        }
      }
      std::map<std::string, std::vector<std::string>> groups;
      txn.Scan("grp:", [&](std::string_view key, std::string_view value) {
        groups[std::string(key.substr(0, 7))].emplace_back(value);
        return true;
      });
      for (const auto& [prefix, values] : groups) {
        if (values.size() != kGroupKeys || values != std::vector(kGroupKeys, values[0])) {
          return Violation(c, "scan shows part of a batch in group " + prefix);
        }
      }
      int scanned = 0;
      txn.Scan("user:1", [&](std::string_view, std::string_view) { return ++scanned < 20; });
      if (held && *held != copy) return Violation(c, "a held view changed inside its transaction");
    }
    c.Count(kReads);
    std::this_thread::sleep_for(milliseconds(1));
  }
  return 0;
}

int RunApplier(const ChildContext& c, int machine) {
  auto cache = Cache::Open(c.machines[machine]);
  std::mt19937_64 rng(c.spawn);
  while (c.Running()) {
    {
      Busy busy(c.busy());
      try {
        cache->UpdateNow();
      } catch (const Error& e) {
        // The log's server is down; anything else is a failure.
        if (e.code() != Error::Code::kUnavailable) throw;
      }
    }
    // Machine C catches up now and then: compaction raises the horizon past it meanwhile, so
    // its UpdateNow() resyncs (and is killed while it does).
    std::this_thread::sleep_for(milliseconds(machine == kLaggingMachine ? 500 + rng() % 2500 : 5));
  }
  return 0;
}

// Whether a failed write or compaction is one the run provokes: a server down, a directory
// that is read-only or full. One while nothing is disturbed is shown, since it should be rare.
bool Provoked(const ChildContext& c, uint32_t label, const Error& e) {
  if (e.code() != Error::Code::kUnavailable && e.code() != Error::Code::kIOError) return false;
  if (label == 0) std::fprintf(stderr, "slot %d, undisturbed: %s\n", c.slot, e.what());
  return true;
}

int RunWriter(const ChildContext& c, int machine) {
  auto cache = Cache::Open(c.machines[machine]);
  std::mt19937_64 rng(c.spawn * 7919);
  for (uint64_t seq = 0; c.Running(); ++seq) {
    std::vector<Mutation> batch = RandomBatch(rng);
    const std::string token = TokenKey(c.spawn, seq);
    batch.push_back(Mutation::Set(token, ""));
    const int group = static_cast<int>(rng() % kGroups);
    const bool erase = rng() % 5 == 0;
    for (int i = 0; i < kGroupKeys; ++i) {
      batch.push_back(erase ? Mutation::Delete(GroupKey(group, i))
                            : Mutation::Set(GroupKey(group, i), token));
    }
    uint64_t id = 0;
    const uint32_t label = c.board->label.load();
    {
      Busy busy(c.busy());
      try {
        id = cache->Write(batch);
      } catch (const Error& e) {
        if (!Provoked(c, label, e)) throw;
        c.board->refused[label].fetch_add(1);
        std::this_thread::sleep_for(milliseconds(20));
        continue;
      }
    }
    const uint64_t index = c.board->next_record.fetch_add(1);
    if (index >= kMaxRecords) {
      std::fprintf(stderr, "writer: more than %" PRIu64 " writes to record\n", kMaxRecords);
      return 1;
    }
    WriteRecord& record = c.board->records[index];
    record.label = label;
    record.id = id;
    record.spawn = c.spawn;
    record.seq = seq;
    record.complete.store(1);
    c.board->returned[label].fetch_add(1);
    std::this_thread::sleep_for(milliseconds(1));
  }
  return 0;
}

int RunCompactor(const ChildContext& c) {
  auto cache = Cache::Open(c.machines[0]);
  std::mt19937_64 rng(c.spawn);
  while (c.Running()) {
    CompactionOptions compaction;
    // A short retention drops tombstones and so raises the horizon: machines must resync.
    compaction.tombstone_retention = std::chrono::seconds(1);
    compaction.before_id = rng() % 2 == 0 ? 0 : cache->AppliedId();
    const uint32_t label = c.board->label.load();
    {
      Busy busy(c.busy());
      try {
        cache->Compact(compaction);
        c.Count(kCompactions);
      } catch (const Error& e) {
        if (!Provoked(c, label, e)) throw;
        c.board->compactions_refused[label].fetch_add(1);
      }
    }
    std::this_thread::sleep_for(milliseconds(200 + rng() % 200));
  }
  return 0;
}

int RunSnapshotter(const ChildContext& c) {
  auto a = Cache::Open(c.machines[0]);
  auto b = Cache::Open(c.machines[1]);
  while (c.Running()) {
    {
      // A snapshot records the log's horizon, so it cannot be made while the server is down.
      const uint32_t label = c.board->label.load();
      Busy busy(c.busy());
      try {
        a->CreateSnapshot(c.snapshot_path);
        c.Count(kSnapshotsCreated);
      } catch (const Error& e) {
        if (!Provoked(c, label, e)) throw;
      }
    }
    {
      Busy busy(c.busy());
      try {
        b->RestoreSnapshot(c.snapshot_path);
        c.Count(kSnapshotsRestored);
      } catch (const Error& e) {
        // Refused when compaction raised the horizon past the snapshot since it was made, or
        // when the log cannot be asked for its horizon.
        if (e.code() != Error::Code::kInvalidArgument && e.code() != Error::Code::kUnavailable) {
          throw;
        }
        c.Count(kRestoresRefused);
      }
    }
    std::this_thread::sleep_for(milliseconds(300));
  }
  return 0;
}

// Opens machine `m` in a fresh process and checks it against the log replayed.
int CheckMachine(const ChildContext& c, int m, const Model& model, uint64_t head) {
  auto cache = Cache::Open(c.machines[m]);
  const auto start = Clock::now();
  cache->UpdateNow();
  const auto first_update = std::chrono::duration_cast<milliseconds>(Clock::now() - start);
  // A dead process's lock would make this wait for its holder forever.
  if (first_update > milliseconds(10'000)) {
    std::fprintf(stderr, "machine %d: the first UpdateNow took %lld ms\n", m,
                 static_cast<long long>(first_update.count()));
    return 2;
  }
  for (int i = 0; i < 1000 && cache->AppliedId() < head; ++i) cache->UpdateNow();
  cache->Verify();
  const std::string difference = FirstDifference(model, ScanAll(*cache));
  if (!difference.empty()) {
    std::fprintf(stderr, "machine %d differs from the log replayed: %s\n", m, difference.c_str());
    return 3;
  }
  const std::string against = cache->CheckAgainstLog();
  if (!against.empty()) {
    std::fprintf(stderr, "machine %d: CheckAgainstLog: %s\n", m, against.c_str());
    return 4;
  }
  const CacheStats stats = cache->Stats();
  c.board->counters[kResyncs].fetch_add(stats.resyncs);
  std::printf("machine %c: first UpdateNow %lld ms, applied id %" PRIu64 ", %" PRIu64
              " keys, %" PRIu64 " resyncs, %" PRIu64 " state bytes\n",
              kMachineNames[m], static_cast<long long>(first_update.count()), stats.applied_id,
              stats.keys, stats.resyncs, stats.file_bytes);
  return 0;
}

struct BoardDeleter {
  void operator()(Board* board) const {
    board->~Board();
    munmap(board, sizeof(Board));
  }
};

struct Slot {
  Role role;
  int machine;
  std::unique_ptr<ChildProcess> process;
};

}  // namespace

const char* RoleName(Role role) {
  switch (role) {
    case Role::kReader:
      return "reader";
    case Role::kApplier:
      return "applier";
    case Role::kWriter:
      return "writer";
    case Role::kCompactor:
      return "compactor";
    case Role::kSnapshotter:
      return "snapshotter";
  }
  return "?";
}

void ExpectNothingBrokeOrLost(const ChaosReport& report) {
  for (const std::string& failure : report.failures) ADD_FAILURE() << failure;
  EXPECT_EQ(report.machines_equal, kMachines);
  for (int r = 0; r < kRoleCount; ++r) {
    EXPECT_GE(report.kills[r], kMinKills) << RoleName(static_cast<Role>(r));
  }
  EXPECT_GE(report.kills_inside[static_cast<int>(Role::kWriter)], kMinKillsInside);
  EXPECT_GE(report.kills_inside[static_cast<int>(Role::kApplier)], kMinKillsInside);
  EXPECT_GT(report.compactions, 0u);
  EXPECT_GT(report.snapshots_restored, 0u);
  uint64_t returned = 0;
  for (uint64_t n : report.writes_returned) returned += n;
  EXPECT_EQ(report.ids_verified, returned);
}

std::chrono::milliseconds ChaosDuration(std::chrono::milliseconds fallback) {
  const char* seconds = std::getenv("CHAOS_SECONDS");
  if (seconds == nullptr || *seconds == '\0') return fallback;
  return milliseconds(static_cast<int64_t>(std::stod(seconds) * 1000));
}

std::string ChaosReport::Summary(const std::vector<Disruption>& disruptions) const {
  std::string out = "kills (inside an operation / all):";
  for (int r = 0; r < kRoleCount; ++r) {
    out += std::string(" ") + RoleName(static_cast<Role>(r)) + " " +
           std::to_string(kills_inside[r]) + "/" + std::to_string(kills[r]);
  }
  out += "; log writers restarted for disruptions: " + std::to_string(log_writer_restarts) + "\n";
  for (size_t i = 0; i < writes_returned.size(); ++i) {
    out += "writes while " + (i == 0 ? std::string("undisturbed") : disruptions[i - 1].name) +
           ": " + std::to_string(writes_returned[i]) + " returned an id, " +
           std::to_string(writes_refused[i]) + " refused; compactions refused " +
           std::to_string(compactions_refused[i]) + "\n";
  }
  out += "reads " + std::to_string(reads) + "; compactions " + std::to_string(compactions) +
         "; snapshots created " + std::to_string(snapshots_created) + ", restored " +
         std::to_string(snapshots_restored) + " (refused " + std::to_string(restores_refused) +
         "); resyncs " + std::to_string(resyncs) + "\n";
  out += "a compaction after the run took " + std::to_string(final_compaction_ms) + " ms\n";
  out += "log: head id " + std::to_string(log_head) + ", " + std::to_string(log_updates) +
         " updates after compaction; returned ids found with their token: " +
         std::to_string(ids_verified) +
         "; machines equal to the log replayed: " + std::to_string(machines_equal) + "/" +
         std::to_string(kMachines) + "\n";
  return out;
}

ChaosReport RunChaos(const ChaosOptions& options) {
  if (options.disruptions.size() + 1 > kMaxLabels) {
    throw std::invalid_argument("RunChaos: too many disruptions");
  }
  ChaosReport report;
  report.writes_returned.assign(options.disruptions.size() + 1, 0);
  report.writes_refused.assign(options.disruptions.size() + 1, 0);
  report.compactions_refused.assign(options.disruptions.size() + 1, 0);
  TempDir dir;
  CacheOptions machines[kMachines];
  for (int m = 0; m < kMachines; ++m) {
    machines[m].state_path = dir.File(std::string(1, kMachineNames[m]) + ".state");
    machines[m].log_uri = options.log->uri();
    machines[m].poll_interval = milliseconds(20);
  }
  // The machines exist before the first kill, so that every process has a state to serve
  // while the log is unreachable.
  for (const CacheOptions& m : machines) Cache::Open(m)->UpdateNow();

  void* memory =
      mmap(nullptr, sizeof(Board), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (memory == MAP_FAILED) throw std::runtime_error("mmap of the shared board failed");
  std::unique_ptr<Board, BoardDeleter> board(new (memory) Board());

  // Machine A runs two readers and an applier, machine B a reader and an applier, machine C
  // an applier that lags.
  const std::pair<Role, int> layout[] = {
      {Role::kReader, 0},      {Role::kReader, 0},
      {Role::kReader, 1},      {Role::kApplier, 0},
      {Role::kApplier, 1},     {Role::kWriter, 0},
      {Role::kWriter, 1},      {Role::kCompactor, 0},
      {Role::kSnapshotter, 0}, {Role::kApplier, kLaggingMachine},
  };
  std::vector<Slot> slots;
  for (const auto& [role, machine] : layout) slots.push_back({role, machine, nullptr});
  const Clock::time_point start = Clock::now();
  ChildContext context;
  context.board = board.get();
  context.parent = getpid();
  context.give_up = start + options.duration + std::chrono::seconds(120);
  context.machines = machines;
  context.snapshot_path = dir.File("a.snapshot");
  int current_disruption = -1;

  auto spawn = [&](size_t index) {
    Slot& slot = slots[index];
    board->busy[index].store(0);
    ++context.spawn;
    ChildContext c = context;
    c.slot = static_cast<int>(index);
    const int disruption = current_disruption;
    slot.process = std::make_unique<ChildProcess>([&, c, disruption] {
      if (options.child_setup) options.child_setup();
      if ((slot.role == Role::kWriter || slot.role == Role::kCompactor) &&
          options.log_writer_setup) {
        options.log_writer_setup(disruption);
      }
      switch (slot.role) {
        case Role::kReader:
          return RunReader(c, slot.machine);
        case Role::kApplier:
          return RunApplier(c, slot.machine);
        case Role::kWriter:
          return RunWriter(c, slot.machine);
        case Role::kCompactor:
          return RunCompactor(c);
        case Role::kSnapshotter:
          return RunSnapshotter(c);
      }
      return 1;
    });
  };
  auto failed = [&](size_t index, int status) {
    report.failures.push_back(std::string(RoleName(slots[index].role)) + " in slot " +
                              std::to_string(index) + " " + ChildProcess::Describe(status));
  };
  // Returns whether the kill landed inside the process's operation: the busy flag a process
  // clears when its operation returns is still set once it is dead.
  auto kill = [&](size_t index) {
    slots[index].process->Signal(SIGKILL);
    const int status = slots[index].process->Wait();
    // None ends before it is told to stop: one that did before the kill failed.
    if (!WIFSIGNALED(status) || WTERMSIG(status) != SIGKILL) failed(index, status);
    return board->busy[index].load() != 0;
  };
  // Waits until the process says it is inside its operation, then kills it there. A process
  // that returns from its operation in the moment between makes the kill land outside; the
  // run goes on until enough kills landed inside.
  auto kill_inside = [&](size_t index) {
    const Clock::time_point until = Clock::now() + kAnnounceWait;
    while (board->busy[index].load() == 0 && Clock::now() < until) {
      if (slots[index].process->WaitFor(milliseconds(0))) break;  // Ended: kill() reports it.
      std::this_thread::yield();
    }
    return kill(index);
  };
  auto is_log_writer = [&](size_t i) {
    return slots[i].role == Role::kWriter || slots[i].role == Role::kCompactor;
  };
  // Changes what is under way. With `restart_log_writers`, no writer or compactor lives across
  // the change, so each one's results belong to one condition of the log's storage.
  auto change = [&](const std::function<void()>& action, int disruption, bool restart) {
    if (restart) {
      for (size_t i = 0; i < slots.size(); ++i) {
        if (is_log_writer(i)) kill(i);
      }
    }
    // The label covers the whole disturbance: set before it begins, cleared once it is over.
    if (disruption >= 0) board->label.store(static_cast<uint32_t>(disruption + 1));
    if (action) action();
    if (disruption < 0) board->label.store(0);
    current_disruption = disruption;
    if (restart) {
      for (size_t i = 0; i < slots.size(); ++i) {
        if (!is_log_writer(i)) continue;
        spawn(i);
        ++report.log_writer_restarts;
      }
    }
  };

  for (size_t i = 0; i < slots.size(); ++i) spawn(i);
  std::mt19937_64 rng(options.seed);
  std::vector<int> phase(options.disruptions.size(), 0);  // 0 to come, 1 under way, 2 over.
  // What every run must contain, whatever the scheduler does: the run goes on past its
  // duration until each is there (up to kOverrun, after which the expectations fail).
  auto needs_kills = [&](Role role) {
    const int r = static_cast<int>(role);
    const bool inside = role == Role::kWriter || role == Role::kApplier;
    return report.kills[r] < kMinKills || (inside && report.kills_inside[r] < kMinKillsInside);
  };
  auto complete = [&] {
    for (int r = 0; r < kRoleCount; ++r) {
      if (needs_kills(static_cast<Role>(r))) return false;
    }
    return board->counters[kCompactions].load() > 0 &&
           board->counters[kSnapshotsRestored].load() > 0 &&
           std::all_of(phase.begin(), phase.end(), [](int p) { return p == 2; });
  };
  for (int tick = 0; tick < 1'000'000; ++tick) {
    const double elapsed = std::chrono::duration<double>(Clock::now() - start) /
                           std::chrono::duration<double>(options.duration);
    const bool overtime = elapsed >= 1;
    if (overtime && (complete() || Clock::now() - start > options.duration + kOverrun)) break;
    // A writer in a disruption waiting for its first refused write is left to make it.
    bool awaiting_refusal = false;
    for (size_t d = 0; d < options.disruptions.size(); ++d) {
      const Disruption& disruption = options.disruptions[d];
      // A disruption begins once writes succeeded undisturbed, and ends once one was refused
      // under it, so that every run holds both.
      if (phase[d] == 0 && elapsed >= disruption.start && board->returned[0].load() > 0) {
        change(disruption.begin, static_cast<int>(d), disruption.restart_log_writers);
        phase[d] = 1;
      } else if (phase[d] == 1 && elapsed >= disruption.end) {
        if (board->refused[d + 1].load() > 0) {
          change(disruption.finish, -1, disruption.restart_log_writers);
          phase[d] = 2;
        } else {
          awaiting_refusal = true;
        }
      }
    }
    for (size_t i = 0; i < slots.size(); ++i) {
      if (std::optional<int> status = slots[i].process->WaitFor(milliseconds(0))) {
        failed(i, *status);
        spawn(i);
      }
    }
    // Time for the processes to get on with their work between kills.
    std::this_thread::sleep_for(milliseconds(60 + rng() % 190));
    // Roles in turn, so each is killed as often; past the duration only those still short of
    // their kills, and no writer while a disruption waits for a refused write.
    const Role role = static_cast<Role>(tick % kRoleCount);
    if (overtime && !needs_kills(role)) continue;
    if (awaiting_refusal && role == Role::kWriter) continue;
    std::vector<size_t> candidates;
    for (size_t i = 0; i < slots.size(); ++i) {
      if (slots[i].role == role) candidates.push_back(i);
    }
    const size_t victim = candidates[rng() % candidates.size()];
    ++report.kills[static_cast<int>(role)];
    const bool inside =
        role == Role::kWriter || role == Role::kApplier ? kill_inside(victim) : kill(victim);
    if (inside) ++report.kills_inside[static_cast<int>(role)];
    spawn(victim);
  }
  for (size_t d = 0; d < options.disruptions.size(); ++d) {
    if (phase[d] == 1 && options.disruptions[d].finish) options.disruptions[d].finish();
  }

  board->stop.store(1);
  for (size_t i = 0; i < slots.size(); ++i) {
    const std::optional<int> status = slots[i].process->WaitFor(milliseconds(30'000));
    if (!status) {
      report.failures.push_back(std::string(RoleName(slots[i].role)) + " in slot " +
                                std::to_string(i) + " did not stop within 30 s");
    } else if (!ChildProcess::Succeeded(*status)) {
      failed(i, *status);
    }
  }
  report.reads = board->counters[kReads].load();
  report.compactions = board->counters[kCompactions].load();
  report.snapshots_created = board->counters[kSnapshotsCreated].load();
  report.snapshots_restored = board->counters[kSnapshotsRestored].load();
  report.restores_refused = board->counters[kRestoresRefused].load();
  for (size_t l = 0; l < report.writes_refused.size(); ++l) {
    report.writes_refused[l] = board->refused[l].load();
    report.compactions_refused[l] = board->compactions_refused[l].load();
  }

  // No compactor left the compaction lock held: a fresh compaction runs to its end.
  {
    const Clock::time_point compaction_start = Clock::now();
    ChildProcess compactor([&] {
      Cache::Open(machines[0])->Compact({});
      return 0;
    });
    const std::optional<int> status = compactor.WaitFor(milliseconds(60'000));
    if (!status) {
      report.failures.push_back("a compaction after the run did not finish within 60 s");
    } else if (!ChildProcess::Succeeded(*status)) {
      report.failures.push_back("a compaction after the run " + ChildProcess::Describe(*status));
    }
    report.final_compaction_ms =
        std::chrono::duration_cast<milliseconds>(Clock::now() - compaction_start).count();
  }

  // The log: ids strictly increasing, each token in one update only.
  std::unique_ptr<ChangeLog> log = options.log->Open({});
  Model model;
  std::map<std::string, uint64_t> token_ids;
  for (uint64_t after = 0;;) {
    const std::vector<Update> page = log->ReadAfter(after, 4096);
    if (page.empty()) break;
    for (const Update& update : page) {
      if (update.id <= after) {
        report.failures.push_back("log: update " + std::to_string(update.id) + " follows " +
                                  std::to_string(after));
      }
      after = update.id;
      ++report.log_updates;
      ApplyToModel(update, &model);
      for (const Mutation& m : update.mutations) {
        if (!IsToken(m.key)) continue;
        const auto [it, inserted] = token_ids.emplace(m.key, update.id);
        if (!inserted) {
          report.failures.push_back("log: batch " + m.key + " appended twice, as updates " +
                                    std::to_string(it->second) + " and " +
                                    std::to_string(update.id));
        }
      }
    }
  }
  report.log_head = log->HeadId();

  // Every id a writer got back: its batch is that update.
  const uint64_t records = std::min(board->next_record.load(), kMaxRecords);
  for (uint64_t i = 0; i < records; ++i) {
    const WriteRecord& record = board->records[i];
    if (record.complete.load() == 0) continue;  // Killed between Write() and recording it.
    ++report.writes_returned[record.label];
    const std::string token = TokenKey(record.spawn, record.seq);
    const auto it = token_ids.find(token);
    if (it == token_ids.end()) {
      report.failures.push_back("lost write: Write() returned id " + std::to_string(record.id) +
                                " for batch " + token + ", which the log does not hold");
    } else if (it->second != record.id) {
      report.failures.push_back("batch " + token + " is update " + std::to_string(it->second) +
                                " but Write() returned " + std::to_string(record.id));
    } else {
      ++report.ids_verified;
    }
  }

  for (int m = 0; m < kMachines; ++m) {
    ChildContext c = context;
    ChildProcess check([&] { return CheckMachine(c, m, model, report.log_head); });
    const std::optional<int> status = check.WaitFor(milliseconds(60'000));
    if (!status) {
      report.failures.push_back(std::string("machine ") + kMachineNames[m] +
                                ": the final check did not finish within 60 s (a lock held?)");
    } else if (!ChildProcess::Succeeded(*status)) {
      report.failures.push_back(std::string("machine ") + "AB"[m] + " check " +
                                ChildProcess::Describe(*status));
    } else {
      ++report.machines_equal;
    }
  }
  report.resyncs = board->counters[kResyncs].load();
  return report;
}

}  // namespace whycache::testing
