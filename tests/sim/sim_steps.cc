#include "tests/sim/sim_steps.h"

#include <array>
#include <cstdio>

namespace whycache::sim {
namespace {

constexpr std::array<std::string_view, static_cast<size_t>(StepKind::kCount)> kNames = {
    "append",          "machine_write", "update_now",     "wait_for", "update",         "compact",
    "snapshot",        "restore",       "bootstrap",      "reopen",   "reopen_chunked", "reboot",
    "damage_snapshot", "kill_apply",    "server_restart", "check",    "crash_at_point"};

// Relative frequencies, in StepKind order. Appends dominate so that the log keeps growing and
// compactions have history to rewrite; the rare kinds are the expensive ones.
constexpr std::array<uint32_t, static_cast<size_t>(StepKind::kCount)> kWeights = {
    380, 40, 120, 60, 60, 60, 30, 20, 10, 20, 10, 10, 8, 6, 4, 20, 18};

// Long shared prefixes with NUL bytes inside, and keys that are prefixes of other keys.
const std::string kHotPrefix = std::string("hot\0", 4) + std::string(40, 'p') + '\0';
const std::string kColdPrefix = std::string("cold\0", 5) + std::string(24, '\0') + "q";
constexpr int kHotKeys = 12;
constexpr int kColdKeys = 40;

// Runs of one byte longer than kRun are written once with their length: "p{40}".
constexpr size_t kRun = 5;

std::string AppendEscaped(std::string out, std::string_view bytes, size_t limit) {
  for (size_t i = 0; i < bytes.size();) {
    if (out.size() >= limit) return out + "...(" + std::to_string(bytes.size()) + " bytes)";
    const unsigned char c = static_cast<unsigned char>(bytes[i]);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c >= 0x20 && c < 0x7f) {
      out += static_cast<char>(c);
    } else {
      char hex[5];
      std::snprintf(hex, sizeof(hex), "\\x%02x", c);
      out += hex;
    }
    size_t run = 1;
    while (i + run < bytes.size() && bytes[i + run] == bytes[i]) ++run;
    if (run > kRun) {
      out += "{" + std::to_string(run) + "}";
    } else {
      run = 1;
    }
    i += run;
  }
  return out;
}

std::string DescribeBatch(const std::vector<Mutation>& batch) {
  constexpr size_t kShown = 4;
  std::string out = "[";
  for (size_t i = 0; i < batch.size(); ++i) {
    if (i > 0) out += ", ";
    if (i == kShown) {
      out += "... " + std::to_string(batch.size() - kShown) + " more";
      break;
    }
    const Mutation& m = batch[i];
    switch (m.op) {
      case Mutation::Op::kSet:
        out += "set " + Quote(m.key) + "=" + AppendEscaped("\"", m.value, 24) + "\"";
        break;
      case Mutation::Op::kDelete:
        out += "del " + Quote(m.key);
        break;
      case Mutation::Op::kErasePrefix:
        out += "del_prefix " + Quote(m.key);
        break;
    }
  }
  return out + "]";
}

}  // namespace

std::string_view StepName(StepKind kind) { return kNames[static_cast<size_t>(kind)]; }

std::optional<StepKind> StepKindNamed(std::string_view name) {
  for (size_t i = 0; i < kNames.size(); ++i) {
    if (kNames[i] == name) return static_cast<StepKind>(i);
  }
  return std::nullopt;
}

std::string Quote(std::string_view bytes) { return AppendEscaped("\"", bytes, 400) + "\""; }

std::string Describe(const Step& s) {
  std::string out(StepName(s.kind));
  const std::string machine = " m" + std::to_string(s.machine);
  switch (s.kind) {
    case StepKind::kAppend:
      return out + " w" + std::to_string(s.writer) + " " + DescribeBatch(s.batches[0]);
    case StepKind::kMachineWrite:
      return out + machine + " " + DescribeBatch(s.batches[0]);
    case StepKind::kWaitFor:
      return out + machine + " at " + std::to_string(s.per_mille) + "/1000 of the history";
    case StepKind::kCompact:
      return out + " before " +
             (s.per_mille >= 1000 ? std::string("all") : std::to_string(s.per_mille) + "/1000") +
             " tombstone_retention=" + std::to_string(s.tombstone_retention.count()) +
             "s token_retention=" + std::to_string(s.token_retention.count()) + "s";
    case StepKind::kDamageSnapshot:
      return out + " slot " + std::to_string(s.snapshot_slot) + " at " +
             std::to_string(s.per_mille) + "/1000 of its body";
    case StepKind::kSnapshot:
    case StepKind::kRestore:
    case StepKind::kBootstrap:
      return out + machine + " slot " + std::to_string(s.snapshot_slot);
    case StepKind::kReopen:
    case StepKind::kReopenChunked:
      return out + machine + " poll_interval=" + std::to_string(s.poll_interval_ms) +
             "ms max_updates_per_poll=" + std::to_string(s.max_updates_per_poll) +
             (s.use_resync_snapshot ? " resync_snapshot=slot0" : "");
    case StepKind::kKillApply:
      return out + machine + " backlog " + std::to_string(s.batches.size()) +
             " max_updates_per_poll=" + std::to_string(s.max_updates_per_poll);
    case StepKind::kServerRestart:
      return out + machine;
    case StepKind::kCrashAtPoint: {
      out += " " + std::string(s.crash_point.name) + " reach " + std::to_string(s.crash_nth) +
             ": " + std::string(CrashOpName(s.crash_point.op));
      switch (s.crash_point.op) {
        case CrashOp::kAppend:
          return out + " w" + std::to_string(s.writer) + (s.with_token ? " with a token " : " ") +
                 DescribeBatch(s.batches[0]);
        case CrashOp::kCompact: {
          Step compact = s;
          compact.kind = StepKind::kCompact;
          return out + Describe(compact).substr(StepName(StepKind::kCompact).size());
        }
        case CrashOp::kSnapshot:
          return out + machine + " slot " + std::to_string(s.snapshot_slot);
        case CrashOp::kRestore:
          return out + machine;
        case CrashOp::kPoll:
          return out + machine + " backlog " + std::to_string(s.batches.size()) +
                 " max_updates_per_poll=" + std::to_string(s.max_updates_per_poll);
      }
      return out;
    }
    default:
      return out + machine;
  }
}

StepGenerator::StepGenerator(uint64_t seed, int writers, int machines,
                             std::vector<CrashPointSpec> crash_points)
    : rng_(seed), writers_(writers), machines_(machines), crash_points_(std::move(crash_points)) {
  if (!crash_points_.empty()) next_crash_point_ = Below(crash_points_.size());
}

std::string StepGenerator::Key() {
  // Most keys come from a small hot set, so deletes and re-sets of a key collide often.
  if (Below(10) < 7) {
    const uint64_t n = Below(kHotKeys);
    // Three of them are prefixes of one another.
    if (n < 3) return kHotPrefix.substr(0, kHotPrefix.size() - 2 + n);
    return kHotPrefix + static_cast<char>('a' + n) + std::string(n % 3, '\0');
  }
  const uint64_t n = Below(kColdKeys);
  return kColdPrefix + static_cast<char>(n) + std::string(1, '\0') + std::to_string(n % 7);
}

std::string StepGenerator::Value() {
  const uint64_t shape = Below(20);
  if (shape == 0) return "";  // Empty, yet present: unlike a delete.
  std::string v = "v" + std::to_string(++values_made_);
  if (shape == 1) v += std::string("\0\x01\xff", 3) + std::string(Below(300), 'b');
  return v;
}

std::string StepGenerator::Prefix() {
  switch (Below(8)) {
    case 0:
    case 1:
    case 2:
      // A key's own bytes: the key, and for the nested hot keys the longer ones too.
      return Key();
    case 3:
      return kHotPrefix + static_cast<char>('a' + Below(kHotKeys));
    case 4:
      return kColdPrefix + static_cast<char>(Below(kColdKeys));
    case 5:
      return Below(2) == 0 ? kHotPrefix : kColdPrefix;
    case 6:
      return std::string(Below(2) == 0 ? "hot" : "cold");
    default:
      return std::string("none\0", 5) + static_cast<char>('0' + Below(10));
  }
}

std::vector<Mutation> StepGenerator::Batch() {
  const uint64_t size = Below(4) == 0 ? 2 + Below(7) : 1;
  std::vector<Mutation> batch;
  for (uint64_t i = 0; i < size; ++i) {
    const uint64_t prefix_op = Below(32);
    if (prefix_op == 0) {
      batch.push_back(Mutation::ErasePrefix(Prefix()));
      continue;
    }
    if (prefix_op == 1) {
      // Sets under the prefix (the key equal to it among them) on both sides of its delete: the
      // one before goes with it, the one after stays.
      const std::string prefix = Prefix();
      const std::array<std::string, 3> tails = {"", std::string(1, '\0'), "z"};
      batch.push_back(Mutation::Set(prefix + tails[Below(3)], Value()));
      batch.push_back(Mutation::ErasePrefix(prefix));
      batch.push_back(Mutation::Set(prefix + tails[Below(3)], Value()));
      continue;
    }
    std::string key = Key();
    if (Below(3) == 0) {
      batch.push_back(Mutation::Delete(std::move(key)));
    } else {
      batch.push_back(Mutation::Set(std::move(key), Value()));
    }
    // The same key again in the same batch: the later mutation must win.
    if (Below(5) == 0) {
      std::string again = batch.back().key;
      batch.push_back(Below(2) == 0 ? Mutation::Delete(std::move(again))
                                    : Mutation::Set(std::move(again), Value()));
    }
  }
  return batch;
}

std::vector<std::vector<Mutation>> StepGenerator::Backlog(bool multi_key) {
  std::vector<std::vector<Mutation>> backlog;
  for (uint64_t i = 0, n = 20 + Below(40); i < n; ++i) {
    std::vector<Mutation> batch = Batch();
    if (multi_key && batch.size() == 1) batch.push_back(Mutation::Set(Key(), Value()));
    backlog.push_back(std::move(batch));
  }
  return backlog;
}

void StepGenerator::CompactionSettings(Step* s) {
  // All history, anywhere, or just below the head: there it drops the tombstones that
  // machines a few updates behind still need, and they must resync.
  switch (Below(3)) {
    case 0:
      s->per_mille = 1000;
      break;
    case 1:
      s->per_mille = static_cast<uint32_t>(Below(1000));
      break;
    default:
      s->per_mille = static_cast<uint32_t>(950 + Below(50));
      break;
  }
  // Retentions are 0 or far longer than any run, so whether an entry counts as expired
  // does not depend on how fast the machine runs. Tombstones below the token retention
  // (0 against an hour) is the case that once brought deleted keys back.
  constexpr std::array<std::chrono::seconds, 3> kRetentions = {
      std::chrono::seconds(0), std::chrono::hours(1), std::chrono::hours(24 * 365)};
  s->tombstone_retention = kRetentions[Below(2) == 0 ? 0 : Below(3)];
  s->token_retention = kRetentions[Below(2) == 0 ? 0 : Below(3)];
}

Step StepGenerator::Next() {
  uint32_t total = 0;
  for (uint32_t w : kWeights) total += w;
  if (crash_points_.empty()) total -= kWeights[static_cast<size_t>(StepKind::kCrashAtPoint)];
  uint64_t pick = Below(total);
  size_t kind = 0;
  while (pick >= kWeights[kind]) pick -= kWeights[kind++];

  Step s;
  s.kind = static_cast<StepKind>(kind);
  s.writer = static_cast<int>(Below(writers_));
  s.machine = static_cast<int>(Below(machines_));
  switch (s.kind) {
    case StepKind::kAppend:
    case StepKind::kMachineWrite:
      s.batches.push_back(Batch());
      break;
    case StepKind::kWaitFor:
      s.per_mille = static_cast<uint32_t>(Below(1000));
      break;
    case StepKind::kCompact:
      CompactionSettings(&s);
      break;
    case StepKind::kDamageSnapshot:
      s.per_mille = static_cast<uint32_t>(Below(1000));
      [[fallthrough]];
    case StepKind::kSnapshot:
    case StepKind::kRestore:
    case StepKind::kBootstrap:
      // Half of them on the resync snapshot, so that it is often recent enough to be used.
      s.snapshot_slot = static_cast<int>(Below(2) == 0 ? 0 : Below(kSnapshotSlots));
      break;
    case StepKind::kReopen:
    case StepKind::kReopenChunked:
      s.use_resync_snapshot = Below(2) == 0;
      s.poll_interval_ms = static_cast<int>(1 + Below(3));
      s.max_updates_per_poll = s.kind == StepKind::kReopen ? 100'000 : 1 + Below(16);
      break;
    case StepKind::kKillApply:
      // Large values make each batch slow to apply, so the child is killed while applying.
      for (uint64_t i = 0, n = 20 + Below(40); i < n; ++i) {
        std::vector<Mutation> batch = Batch();
        batch.push_back(Mutation::Set(std::string("big\0", 4) + static_cast<char>('0' + Below(4)),
                                      Value() + std::string(4096 + Below(16384), 'x')));
        s.batches.push_back(std::move(batch));
      }
      s.max_updates_per_poll = 1 + Below(4);
      break;
    case StepKind::kCrashAtPoint:
      s.crash_point = crash_points_[next_crash_point_++ % crash_points_.size()];
      s.crash_nth = static_cast<uint32_t>(1 + Below(s.crash_point.max_nth));
      switch (s.crash_point.op) {
        case CrashOp::kAppend:
          s.batches.push_back(Batch());
          s.with_token = Below(2) == 0;
          break;
        case CrashOp::kCompact:
          CompactionSettings(&s);
          // All history, with expired tombstones to drop, so that the compaction passes every
          // point (sealing the active segment, raising the horizon) whatever the token
          // retention.
          s.per_mille = 1000;
          s.tombstone_retention = std::chrono::seconds(0);
          break;
        case CrashOp::kSnapshot:
          s.snapshot_slot = static_cast<int>(Below(kSnapshotSlots));
          break;
        case CrashOp::kRestore:
          break;
        case CrashOp::kPoll:
          // Batches of several rows, polled a few at a time: a read's first page ends inside
          // a batch, and a second statement reads it whole.
          s.batches = Backlog(/*multi_key=*/true);
          s.max_updates_per_poll = 2 + Below(3);
          break;
      }
      break;
    case StepKind::kReboot:
      s.boot_id = rng_() | 1;
      // Written while the machine is down, so that it has something to poll for.
      s.batches.push_back(Batch());
      break;
    default:
      break;
  }
  return s;
}

}  // namespace whycache::sim
