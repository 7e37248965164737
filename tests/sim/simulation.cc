#include "tests/sim/simulation.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <deque>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <stdexcept>
#include <thread>

#include "lib/snapshot/snapshot_file.h"
#include "tests/sim/sim_crash_points.h"
#include "tests/sim/sim_invariants.h"
#include "tests/sim/sim_model.h"
#include "tests/sim/sim_reboot.h"
#include "tests/support/child_process.h"
#include "whycache/cache.h"
#include "whycache/error.h"

namespace whycache::sim {
namespace {

using std::chrono::milliseconds;
using Clock = std::chrono::steady_clock;

constexpr int kWriters = 3;
constexpr int kMachines = 4;
// Only failures wait this long: a healthy machine reaches the head within milliseconds.
constexpr milliseconds kReachHeadTimeout{10'000};
constexpr milliseconds kChildTimeout{60'000};
constexpr size_t kRecentSteps = 20;
constexpr size_t kOpsLogLines = 100'000;
// A snapshot's body follows a header of this size (lib/snapshot/snapshot_file.h).
constexpr uint64_t kSnapshotHeaderBytes = 256;

std::string EnvOr(const char* name, const std::string& fallback) {
  const char* v = std::getenv(name);
  return v == nullptr || *v == '\0' ? fallback : std::string(v);
}

uint64_t EnvNumber(const char* name, uint64_t fallback) {
  const std::string text = EnvOr(name, "");
  if (text.empty()) return fallback;
  size_t used = 0;
  const uint64_t value = std::stoull(text, &used, 0);
  if (used != text.size()) throw std::invalid_argument(std::string(name) + "=" + text);
  return value;
}

struct Machine {
  MachineRecord record;
  CacheOptions options;
  std::unique_ptr<Cache> cache;   // Polls, writes, snapshots: the machine's working handle.
  std::unique_ptr<Cache> reader;  // Only reads: it must follow what the other handle does.

  void Open() {
    cache = Cache::Open(options);
    reader = Cache::Open(options);
  }
  void Close() {
    reader.reset();
    cache.reset();
  }
};

class Simulation {
 public:
  Simulation(SimLog& log, const std::string& dir, const SimConfig& config)
      : log_(log),
        dir_(dir),
        config_(config),
        steps_(config.seed, kWriters, kMachines, CrashPointsFor(config.log_name)),
        observer_(log_.OpenWriter()) {
    for (int i = 0; i < kWriters; ++i) writers_.push_back(log_.OpenWriter());
    for (int i = 0; i < kMachines; ++i) {
      Machine& m = machines_.emplace_back();
      m.record.name = "m" + std::to_string(i);
      m.options.state_path = dir_ + "/" + m.record.name + ".state";
      m.options.log_uri = log_.uri();
      m.options.poll_interval = milliseconds(1);
      m.Open();
    }
  }

  SimResult Run() {
    SimResult result;
    const Clock::time_point deadline = Clock::now() + config_.time_limit;
    for (uint64_t n = 0; n < config_.steps; ++n) {
      if (Clock::now() >= deadline) {
        result.stopped_by_time_limit = true;
        break;
      }
      const Step step = steps_.Next();
      std::string line = "#" + std::to_string(n) + " " + Describe(step);
      std::string failure;
      try {
        line += " -> " + Execute(step);
        CheckEveryMachine();
      } catch (const SimFailure& e) {
        failure = e.what();
      } catch (const std::exception& e) {
        const bool on_machine = step.kind != StepKind::kAppend && step.kind != StepKind::kCompact &&
                                step.kind != StepKind::kDamageSnapshot;
        failure = std::string("unexpected error") +
                  (on_machine ? " on machine m" + std::to_string(step.machine) : "") + ": " +
                  e.what();
      }
      ++result.steps_run;
      if (!failure.empty()) line += " -> FAILED";
      Record(line);
      if (!failure.empty()) {
        Report(n, step, failure, &result);
        return result;
      }
    }
    try {
      Drain();
    } catch (const std::exception& e) {
      Report(result.steps_run, std::nullopt, e.what(), &result);
    }
    return result;
  }

  uint64_t crash_steps() const { return crash_steps_; }
  const std::map<std::string, uint64_t>& crash_points_fired() const { return fired_; }

 private:
  std::string Execute(const Step& s) {
    if (config_.skip.contains(s.kind)) return "skipped (WHYCACHE_SIM_SKIP)";
    Machine& m = machines_[s.machine];
    switch (s.kind) {
      case StepKind::kAppend:
        return Acknowledge(writers_[s.writer]->Append(s.batches[0]), s.batches[0]);
      case StepKind::kMachineWrite:
        return Acknowledge(m.cache->Write(s.batches[0]), s.batches[0]);
      case StepKind::kUpdateNow: {
        const uint64_t applied = m.cache->UpdateNow();
        CheckAtHead(m.record, applied, oracle_, "UpdateNow()");
        CheckAtHead(m.record, m.cache->AppliedId(), oracle_, "UpdateNow() then AppliedId()");
        return "at " + std::to_string(applied);
      }
      case StepKind::kWaitFor:
        return WaitFor(m, s.per_mille);
      case StepKind::kUpdate:
        return UpdateUntilHead(m, "Update()");
      case StepKind::kCompact: {
        std::string out = Compact(s);
        CheckCompactedLogKeepsItsMeaning("after the compaction");
        return out;
      }
      case StepKind::kSnapshot: {
        const SnapshotInfo info = m.cache->CreateSnapshot(SlotPath(s.snapshot_slot));
        if (!oracle_.Acknowledged(info.applied_id)) {
          throw SimFailure("snapshot of " + m.record.name + " claims applied id " +
                           std::to_string(info.applied_id) + ", never acknowledged");
        }
        CheckNoTemporaryFiles(SlotPath(s.snapshot_slot));
        return "at " + std::to_string(info.applied_id);
      }
      case StepKind::kRestore:
        return Restore(m, s.snapshot_slot);
      case StepKind::kBootstrap:
        return Bootstrap(m, s.snapshot_slot);
      case StepKind::kReopen:
      case StepKind::kReopenChunked:
        m.Close();
        m.options.resync_snapshot = s.use_resync_snapshot ? SlotPath(0) : "";
        m.options.poll_interval = milliseconds(s.poll_interval_ms);
        m.options.max_updates_per_poll = s.max_updates_per_poll;
        m.Open();
        return "reopened";
      case StepKind::kReboot: {
        m.Close();
        const std::string error = RewriteAsPreviousBoot(m.options.state_path, s.boot_id);
        if (!error.empty()) throw SimFailure("simulating a reboot: " + error);
        Acknowledge(writers_[s.writer]->Append(s.batches[0]), s.batches[0]);
        m.Open();
        // Monitoring must not call a machine that has not polled since it booted up to date.
        const CacheStats stats = m.cache->Stats();
        if (stats.lag_us == 0) {
          throw SimFailure("machine " + m.record.name + ": after a reboot, before any poll, at " +
                           "applied id " + std::to_string(stats.applied_id) + " with head " +
                           std::to_string(oracle_.head()) + ", Stats() says lag_us 0");
        }
        return UpdateUntilHead(m, "Update() after a reboot");
      }
      case StepKind::kDamageSnapshot:
        return DamageSnapshot(s);
      case StepKind::kKillApply:
        return KillApplier(m, s);
      case StepKind::kServerRestart:
        return RestartServer(m);
      case StepKind::kCheck:
        return Check(m);
      case StepKind::kCrashAtPoint:
        return CrashAtPoint(m, s);
      case StepKind::kCount:
        break;
    }
    throw std::logic_error("unknown step kind");
  }

  // The library's checks on a state the oracle found right. A state below the log's horizon
  // cannot be checked against the compacted log: saying so (kBusy) is an answer, not a failure.
  std::string Check(Machine& m) {
    const uint64_t applied = CheckMachineState(*m.cache, oracle_, &m.record);
    m.cache->Verify();
    try {
      CheckLibraryCheckAgrees(m.record, applied, m.cache->CheckAgainstLog());
    } catch (const Error& e) {
      if (e.code() != Error::Code::kBusy) throw;
      return "below the horizon at " + std::to_string(applied) + ": " + e.what();
    }
    return "ok at " + std::to_string(applied);
  }

  std::string Acknowledge(uint64_t id, const std::vector<Mutation>& batch) {
    const uint64_t previous = oracle_.head();
    if (!oracle_.Acknowledge(id, batch)) {
      throw SimFailure("the log acknowledged id " + std::to_string(id) + ", not above " +
                       std::to_string(previous) + " acknowledged before it");
    }
    return "id " + std::to_string(id);
  }

  std::string WaitFor(Machine& m, uint32_t per_mille) {
    const uint64_t target =
        oracle_.batches() == 0 ? 0 : oracle_.IdAt(per_mille * oracle_.batches() / 1000);
    if (!m.cache->WaitFor(target, kReachHeadTimeout)) {
      throw SimFailure("machine " + m.record.name + ": WaitFor(" + std::to_string(target) +
                       ") timed out at applied id " + std::to_string(m.cache->AppliedId()));
    }
    const uint64_t applied = m.cache->AppliedId();
    if (applied < target) {
      throw SimFailure("machine " + m.record.name + ": WaitFor(" + std::to_string(target) +
                       ") returned true at applied id " + std::to_string(applied));
    }
    return "waited for " + std::to_string(target) + ", at " + std::to_string(applied);
  }

  // The per-request call, repeated as requests would: its poll schedule must bring the
  // machine to the head.
  std::string UpdateUntilHead(Machine& m, const std::string& how) {
    const Clock::time_point deadline = Clock::now() + kReachHeadTimeout;
    uint64_t calls = 0;
    for (;;) {
      m.cache->Update();
      ++calls;
      const uint64_t applied = m.cache->AppliedId();
      if (applied == oracle_.head()) return "at head after " + std::to_string(calls) + " calls";
      if (Clock::now() >= deadline) {
        const CacheStats stats = m.cache->Stats();
        throw SimFailure("machine " + m.record.name + ": " + how + " called " +
                         std::to_string(calls) + " times in 10 s left it at applied id " +
                         std::to_string(applied) + ", head is " + std::to_string(oracle_.head()) +
                         " (polls " + std::to_string(stats.polls) + ", lag_us " +
                         std::to_string(stats.lag_us) + ", last_error \"" + stats.last_error +
                         "\")");
      }
      std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
  }

  CompactionOptions CompactionOptionsOf(const Step& s) const {
    CompactionOptions options;
    if (s.per_mille < 1000 && oracle_.batches() > 0) {
      options.before_id = oracle_.IdAt(s.per_mille * oracle_.batches() / 1000);
    }
    options.tombstone_retention = s.tombstone_retention;
    return options;
  }

  std::string Compact(const Step& s) {
    const CompactionOptions options = CompactionOptionsOf(s);
    const CompactionResult r = log_.OpenCompactor(s.token_retention)->Compact(options);
    return "before_id " + std::to_string(options.before_id) + ": removed " +
           std::to_string(r.removed) + ", kept " + std::to_string(r.kept) + ", horizon " +
           std::to_string(r.horizon);
  }

  std::string Restore(Machine& m, int slot) {
    const std::string path = SlotPath(slot);
    if (!std::filesystem::exists(path)) return "no snapshot in the slot yet";
    try {
      return "restored id " + std::to_string(m.cache->RestoreSnapshot(path).applied_id);
    } catch (const Error& e) {
      // Refusing (a snapshot below the horizon, or older than the state) leaves the state as
      // it was, which the checks after the step verify.
      return std::string("refused: ") + e.what();
    }
  }

  // A new machine takes the place of `m`, filled from a snapshot.
  std::string Bootstrap(Machine& m, int slot) {
    m.Close();
    std::filesystem::remove(m.options.state_path);
    std::filesystem::remove(m.options.state_path + ".bad");
    m.record.highest_seen = 0;
    m.Open();
    return Restore(m, slot);
  }

  // Flips one byte of a snapshot's body: its header still checks out.
  std::string DamageSnapshot(const Step& s) {
    const std::string path = SlotPath(s.snapshot_slot);
    if (!std::filesystem::exists(path)) return "no snapshot in the slot yet";
    const uint64_t size = std::filesystem::file_size(path);
    if (size <= kSnapshotHeaderBytes) return "no body to damage";
    const uint64_t offset =
        kSnapshotHeaderBytes + s.per_mille * (size - kSnapshotHeaderBytes) / 1000;
    std::fstream file(path, std::ios::in | std::ios::out | std::ios::binary);
    file.seekg(static_cast<std::streamoff>(offset));
    char byte = 0;
    file.get(byte);
    byte ^= 0x5a;
    file.seekp(static_cast<std::streamoff>(offset));
    file.put(byte);
    if (!file) throw std::runtime_error("cannot damage " + path);
    return "flipped the byte at offset " + std::to_string(offset) + " of " + std::to_string(size);
  }

  // A child process of the machine applies a backlog a few batches per poll and says so
  // through a pipe once it has begun; it is killed (SIGKILL) right after.
  std::string KillApplier(Machine& m, const Step& s) {
    std::vector<uint64_t> backlog;
    for (const std::vector<Mutation>& batch : s.batches) {
      const uint64_t id = writers_[s.writer]->Append(batch);
      Acknowledge(id, batch);
      backlog.push_back(id);
    }
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0) throw std::runtime_error("pipe2 failed");
    CacheOptions options = m.options;
    options.max_updates_per_poll = s.max_updates_per_poll;
    whycache::testing::ChildProcess child([&] {
      close(fds[0]);
      auto cache = Cache::Open(options);
      cache->WaitFor(backlog.front(), kChildTimeout);
      if (write(fds[1], "a", 1) != 1) return 2;
      for (size_t i = 1;; i = std::min(i + 1, backlog.size() - 1)) {
        cache->WaitFor(backlog[i], kChildTimeout);
      }
    });
    close(fds[1]);
    pollfd ready = {fds[0], POLLIN, 0};
    const int polled = poll(&ready, 1, static_cast<int>(kChildTimeout.count()));
    char byte = 0;
    const bool applying = polled == 1 && read(fds[0], &byte, 1) == 1;
    close(fds[0]);
    child.Signal(SIGKILL);
    const int status = child.Wait();
    if (!applying) {
      throw SimFailure("machine " + m.record.name +
                       ": the child never began applying its backlog: " +
                       whycache::testing::ChildProcess::Describe(status));
    }
    if (!WIFSIGNALED(status)) {
      throw SimFailure("machine " + m.record.name + ": the applying child " +
                       whycache::testing::ChildProcess::Describe(status));
    }
    return "killed once it had begun applying ids " + std::to_string(backlog.front()) + ".." +
           std::to_string(backlog.back());
  }

  // While the server is down, a machine keeps serving what it has; once it is back, every
  // handle reconnects by itself.
  std::string RestartServer(Machine& m) {
    if (!log_.CanRestartServer()) return "skipped (the log has no server this test started)";
    log_.KillServer();
    std::string outcome = "server killed; ";
    try {
      try {
        m.cache->UpdateNow();
        outcome += "UpdateNow() returned;";
      } catch (const Error& e) {
        if (e.code() != Error::Code::kUnavailable) throw;
        outcome += "UpdateNow() unavailable;";
      }
      CheckMachineState(*m.cache, oracle_, &m.record);
    } catch (...) {
      log_.StartServer();  // The next seed of this process needs it.
      throw;
    }
    log_.StartServer();
    return outcome + " server started";
  }

  // A child runs the operation that passes the step's crash point, armed to die there; then the
  // test checks what the operation promises for a crash at that place.
  std::string CrashAtPoint(Machine& m, const Step& s) {
    switch (s.crash_point.op) {
      case CrashOp::kAppend:
        return CrashAppending(s);
      case CrashOp::kCompact:
        return CrashCompacting(s);
      case CrashOp::kSnapshot:
        return CrashSnapshotting(m, s);
      case CrashOp::kRestore:
        return CrashRestoring(m, s);
      case CrashOp::kPoll:
        return CrashPolling(m, s);
    }
    throw std::logic_error("unknown crash operation");
  }

  std::string RunCrashChild(const Step& s, const std::function<void()>& operation) {
    const CrashOutcome c =
        RunChildUntilCrash(s.crash_point.name, s.crash_nth, operation, kChildTimeout);
    ++crash_steps_;
    if (!c.fired) return "the child finished without reaching the point; ";
    ++fired_[std::string(s.crash_point.name)];
    return "the child died at the point; ";
  }

  // A writer died appending: the batch is in the log whole or not at all, and the test learns
  // which by reading; once there it is history like any acknowledged batch. A writer that had a
  // token retries with it, as the caller of an append of unknown outcome would: it must get the
  // batch's id if the batch is there, and append it once if not.
  std::string CrashAppending(const Step& s) {
    const std::vector<Mutation>& batch = s.batches[0];
    const AppendToken token = AppendToken::Random();
    const uint64_t head = oracle_.head();
    std::string out = RunCrashChild(s, [&] {
      std::unique_ptr<ChangeLog> writer = log_.OpenWriter();
      if (s.with_token) {
        writer->Append(batch, token);
      } else {
        writer->Append(batch);
      }
    });
    const std::vector<Update> after = observer_->ReadAfter(head, 2);
    std::optional<uint64_t> landed;
    if (!after.empty()) {
      if (after.size() > 1 || after[0].mutations != batch) {
        throw SimFailure("after a writer died at " + std::string(s.crash_point.name) +
                         ", the log holds past the acknowledged head " + std::to_string(head) +
                         " " + std::to_string(after.size()) + " update(s), the first (id " +
                         std::to_string(after[0].id) + ") with " +
                         std::to_string(after[0].mutations.size()) + " of its mutations, not " +
                         "the writer's batch of " + std::to_string(batch.size()) + " whole");
      }
      landed = after[0].id;
      Acknowledge(*landed, batch);
      out += "the batch is in the log as id " + std::to_string(*landed);
    } else {
      out += "the batch is not in the log";
    }
    if (!s.with_token) return out;
    const uint64_t id = writers_[s.writer]->Append(batch, token);
    if (landed && id != *landed) {
      throw SimFailure("a retry with the token of the batch that landed as id " +
                       std::to_string(*landed) + " before its writer died at " +
                       std::string(s.crash_point.name) + " returned id " + std::to_string(id));
    }
    if (!landed) Acknowledge(id, batch);
    return out + "; the retry with its token got id " + std::to_string(id);
  }

  // A compactor died: every replay of the log from its start still gives the oracle's state,
  // and compacting again finishes on what it left.
  std::string CrashCompacting(const Step& s) {
    const CompactionOptions options = CompactionOptionsOf(s);
    std::string out =
        RunCrashChild(s, [&] { log_.OpenCompactor(s.token_retention)->Compact(options); });
    CheckReplayFrom(0, "after a compactor died at " + std::string(s.crash_point.name));
    out += "compacted again: " + Compact(s);
    CheckCompactedLogKeepsItsMeaning("after compacting again what a compactor that died at " +
                                     std::string(s.crash_point.name) + " left");
    return out;
  }

  // A machine died writing a snapshot: the slot holds a snapshot whose state is the oracle's at
  // its id, or one that says it is unreadable; never a wrong state.
  std::string CrashSnapshotting(Machine& m, const Step& s) {
    const std::string path = SlotPath(s.snapshot_slot);
    std::string out = RunCrashChild(s, [&] { Cache::Open(m.options)->CreateSnapshot(path); });
    if (!std::filesystem::exists(path)) return out + "no snapshot in the slot";
    State state;
    snapshot::SnapshotInfo info;
    try {
      info = snapshot::ReadSnapshot(
          path, [&](std::string_view k, std::string_view v) { state.emplace(k, v); });
    } catch (const Error& e) {
      return out + "the slot's snapshot is refused: " + e.what();
    }
    const std::string where = "after a machine died at " + std::string(s.crash_point.name) +
                              ", snapshot slot " + std::to_string(s.snapshot_slot) + " at id " +
                              std::to_string(info.applied_id) + ": ";
    if (!oracle_.Acknowledged(info.applied_id)) throw SimFailure(where + "never acknowledged");
    const std::string difference = FirstDifference(oracle_.StateAt(info.applied_id), state);
    if (!difference.empty()) throw SimFailure(where + difference);
    return out + "the slot holds a right snapshot at id " + std::to_string(info.applied_id);
  }

  // A process of the machine died rebuilding its state file (a restore of a snapshot of its
  // own state): the machine's handles read a right state, and it polls on to the head.
  std::string CrashRestoring(Machine& m, const Step& s) {
    const std::string path = dir_ + "/crash-restore.snap";
    std::string out = RunCrashChild(s, [&] {
      std::unique_ptr<Cache> cache = Cache::Open(m.options);
      // At the head, so that the snapshot is not below the log's horizon (then it would be
      // refused, with no rebuild to crash in).
      cache->UpdateNow();
      cache->CreateSnapshot(path);
      cache->RestoreSnapshot(path);
    });
    CheckMachineState(*m.cache, oracle_, &m.record);
    CheckAtHead(m.record, m.cache->UpdateNow(), oracle_,
                "UpdateNow() after a rebuild died at " + std::string(s.crash_point.name));
    return out + "the machine polled to the head";
  }

  // A process of the machine died polling a backlog: the machine polls on to the head.
  std::string CrashPolling(Machine& m, const Step& s) {
    uint64_t last = 0;
    for (const std::vector<Mutation>& batch : s.batches) {
      last = writers_[s.writer]->Append(batch);
      Acknowledge(last, batch);
    }
    CacheOptions options = m.options;
    options.max_updates_per_poll = s.max_updates_per_poll;
    std::string out = RunCrashChild(s, [&] {
      std::unique_ptr<Cache> cache = Cache::Open(options);
      for (size_t polls = 0; polls < s.batches.size() && cache->AppliedId() < last; ++polls) {
        cache->UpdateNow();
      }
    });
    CheckAtHead(m.record, m.cache->UpdateNow(), oracle_,
                "UpdateNow() after a poll died at " + std::string(s.crash_point.name));
    return out + "the machine polled to the head";
  }

  // After a compaction, machines at id 0, at the first acknowledged id at or above the horizon,
  // and halfway from there to the head each reach the oracle's head state by applying the log.
  void CheckCompactedLogKeepsItsMeaning(const std::string& when) {
    CheckReplayFrom(0, when);
    const size_t first = oracle_.IndexAtOrAbove(observer_->Horizon());
    if (first == oracle_.batches()) return;
    CheckReplayFrom(oracle_.IdAt(first), when);
    CheckReplayFrom(oracle_.IdAt((first + oracle_.batches() - 1) / 2), when);
  }

  // A machine at acknowledged id `from` (0, or at or above the log's horizon; one below it
  // would resync) that applies the log after it, as a polling machine does, reaches the
  // oracle's state at its head.
  void CheckReplayFrom(uint64_t from, const std::string& when) {
    constexpr int kAttempts = 3;
    for (int attempt = 0; attempt < kAttempts; ++attempt) {
      const uint64_t horizon = observer_->Horizon();
      if (from != 0 && from < horizon) return;
      State state = oracle_.StateAt(from);
      uint64_t last = from;
      bool below_horizon = false;
      // Every read returns at least one update or ends the replay.
      for (;;) {
        const std::vector<Update> page = observer_->ReadAfter(last, SIZE_MAX);
        if (last > 0) {
          const uint64_t now = observer_->Horizon();
          if (last < now && now != horizon) {
            below_horizon = true;
            break;
          }
        }
        if (page.empty()) break;
        for (const Update& u : page) ApplyBatch(u.mutations, &state);
        last = page.back().id;
      }
      if (below_horizon) continue;
      if (last > oracle_.head() || (last != 0 && !oracle_.Acknowledged(last))) {
        throw SimFailure(when + ": a replay from id " + std::to_string(from) + " ends at id " +
                         std::to_string(last) + ", never acknowledged (head " +
                         std::to_string(oracle_.head()) + ")");
      }
      const std::string difference = FirstDifference(oracle_.StateAt(oracle_.head()), state);
      if (!difference.empty()) {
        throw SimFailure(when + ": a replay from id " + std::to_string(from) + " to id " +
                         std::to_string(last) + " (horizon " + std::to_string(horizon) +
                         ") differs from the oracle at the head " + std::to_string(oracle_.head()) +
                         ": " + difference);
      }
      return;
    }
    throw SimFailure(when + ": the horizon moved under " + std::to_string(kAttempts) +
                     " replays from id " + std::to_string(from) + ", with no compaction running");
  }

  // Once a snapshot is written, no temporary file of its path is left, not even those of
  // writers that died (crash_at_point): they are as large as the snapshot.
  void CheckNoTemporaryFiles(const std::string& path) const {
    const std::string prefix = std::filesystem::path(path).filename().string() + ".tmp";
    for (const auto& entry : std::filesystem::directory_iterator(dir_)) {
      const std::string name = entry.path().filename().string();
      if (name.starts_with(prefix)) {
        throw SimFailure("a snapshot was written to " + path + ", and " + name + " remains");
      }
    }
  }

  std::string SlotPath(int slot) const { return dir_ + "/slot" + std::to_string(slot) + ".snap"; }

  void CheckEveryMachine() {
    for (Machine& m : machines_) {
      CheckMachineState(*m.cache, oracle_, &m.record);
      CheckMachineState(*m.reader, oracle_, &m.record);
    }
  }

  // At the end every machine catches up and every check holds.
  void Drain() {
    for (Machine& m : machines_) {
      CheckAtHead(m.record, m.cache->UpdateNow(), oracle_, "UpdateNow() at the end");
      const uint64_t applied = CheckMachineState(*m.cache, oracle_, &m.record);
      if (!config_.skip.contains(StepKind::kCheck)) {
        CheckLibraryCheckAgrees(m.record, applied, m.cache->CheckAgainstLog());
      }
    }
  }

  void Record(const std::string& line) {
    ops_.push_back(line);
    if (ops_.size() > kOpsLogLines) ops_.pop_front();
  }

  // Fills result->failure with what broke and how to replay it, and result->ops_tail with the
  // steps that led there; the whole ops log goes to the test's outputs when Bazel runs it.
  void Report(uint64_t step_number, const std::optional<Step>& step, const std::string& failure,
              SimResult* result) {
    const std::string seed = std::to_string(config_.seed);
    result->failure = "simulation FAILED on the " + config_.log_name + " log: seed " + seed +
                      ", step " + std::to_string(step_number) + " (" +
                      (step ? std::string(StepName(step->kind)) : std::string("final catch-up")) +
                      ")\n  " + failure + "\n  replay: WHYCACHE_SIM_SEED=" + seed +
                      " WHYCACHE_SIM_STEPS=" + std::to_string(step_number + 1);
    std::string& tail = result->ops_tail;
    tail = "last steps of seed " + seed + " on the " + config_.log_name + " log:\n";
    for (size_t i = ops_.size() > kRecentSteps ? ops_.size() - kRecentSteps : 0; i < ops_.size();
         ++i) {
      tail += "  " + ops_[i] + "\n";
    }
    const std::string outputs = EnvOr("TEST_UNDECLARED_OUTPUTS_DIR", "");
    if (!outputs.empty()) {
      const std::string path = outputs + "/sim-" + config_.log_name + "-seed" + seed + ".ops.txt";
      std::ofstream file(path);
      for (const std::string& line : ops_) file << line << "\n";
      tail += "whole ops log: " + path + "\n";
    }
  }

  SimLog& log_;
  const std::string dir_;
  const SimConfig config_;
  Oracle oracle_;
  StepGenerator steps_;
  std::unique_ptr<ChangeLog> observer_;  // Reads the log to learn what a crash left there.
  std::vector<std::unique_ptr<ChangeLog>> writers_;
  std::vector<Machine> machines_;
  std::deque<std::string> ops_;  // The most recent steps and their outcomes.
  uint64_t crash_steps_ = 0;
  std::map<std::string, uint64_t> fired_;  // Children killed at each crash point.
};

}  // namespace

std::vector<uint64_t> SeedsFromEnv(uint64_t first, uint64_t default_count) {
  if (!EnvOr("WHYCACHE_SIM_SEED", "").empty()) return {EnvNumber("WHYCACHE_SIM_SEED", 0)};
  std::vector<uint64_t> seeds;
  for (uint64_t i = 0, n = EnvNumber("WHYCACHE_SIM_SEEDS", default_count); i < n; ++i) {
    seeds.push_back(first + i);
  }
  return seeds;
}

SimConfig ConfigFromEnv(const std::string& log_name, uint64_t seed, uint64_t default_steps,
                        std::chrono::seconds default_time_limit) {
  SimConfig config;
  config.log_name = log_name;
  config.seed = seed;
  config.steps = EnvNumber("WHYCACHE_SIM_STEPS", default_steps);
  config.time_limit = std::chrono::seconds(
      EnvNumber("WHYCACHE_SIM_TIME_LIMIT_S", static_cast<uint64_t>(default_time_limit.count())));
  const std::string skip = EnvOr("WHYCACHE_SIM_SKIP", "");
  for (size_t begin = 0; begin < skip.size();) {
    size_t end = skip.find(',', begin);
    if (end == std::string::npos) end = skip.size();
    const std::string name = skip.substr(begin, end - begin);
    const std::optional<StepKind> kind = StepKindNamed(name);
    if (!kind) throw std::invalid_argument("WHYCACHE_SIM_SKIP: no step kind named " + name);
    config.skip.insert(*kind);
    begin = end + 1;
  }
  return config;
}

SimResult RunSimulation(SimLog& log, const std::string& dir, const SimConfig& config) {
  Simulation simulation(log, dir, config);
  SimResult result = simulation.Run();
  result.crash_steps = simulation.crash_steps();
  result.crash_points_fired = simulation.crash_points_fired();
  return result;
}

}  // namespace whycache::sim
