#include "cli/cache_commands.h"

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <iostream>
#include <string>
#include <system_error>

#include "cli/command_args.h"
#include "cli/exit_status.h"
#include "cli/progress.h"
#include "lib/format/escape.h"
#include "whycache/cache.h"
#include "whycache/error.h"
#include "whycache/prometheus.h"

namespace whycache::cli {
namespace {

using format::EscapeBytes;
using format::JsonString;

// How long `stats` waits for a log that does not answer before it reports it unreachable.
constexpr std::chrono::milliseconds kStatsLogBudget{1000};

// Reading commands work from the state file alone; the log is used when one is given.
std::unique_ptr<Cache> OpenCache(const Invocation& inv) {
  CacheOptions options;
  options.state_path = inv.RequireStatePath();
  options.log_uri = inv.log_uri.value_or("");
  return Cache::Open(options);
}

// The state that get and scan read. With a log given, what the log has that the state lacks is
// applied first, unless --no-update: a newcomer's `set` then `get` finds the value. A log that
// cannot be reached is reported on stderr and the state read as it is, as the library serves
// it meanwhile. Sets `*stale` to why the state was not brought up to date ("" if it was).
std::unique_ptr<Cache> OpenForReading(const Invocation& inv, const CommandArgs& args,
                                      std::string* stale) {
  auto cache = OpenCache(inv);
  if (!inv.log_uri || inv.log_uri->empty()) {
    *stale =
        "not updated: no log given; `whycache update` with --log URI (or WHYCACHE_LOG) applies "
        "the log's newer updates";
  } else if (args.Has("--no-update")) {
    *stale = "read with --no-update; the log's head was " +
             std::to_string(cache->Stats().log_head_id) +
             " at the last poll: run `whycache update` to apply newer updates";
  } else {
    try {
      cache->UpdateNow();
    } catch (const Error& e) {
      std::cerr << "whycache: warning: reading " << inv.RequireStatePath()
                << " as it is, without the log's newest updates: " << e.what() << "\n";
      *stale = "not updated from the log, see above; `whycache update` retries";
    }
  }
  return cache;
}

// UpdateNow() applies everything in one call. On a terminal the same work is done one poll at a
// time (each applies at most CacheOptions::max_updates_per_poll updates) to draw how far it got.
uint64_t UpdateShowingProgress(Cache& cache, const std::string& log_uri) {
  const ProgressCallback progress = TerminalProgress("update", ProgressUnit::kUpdates);
  if (!progress) return cache.UpdateNow();
  const uint64_t start = cache.AppliedId();
  const uint64_t head = OpenChangeLog(log_uri, LogOptions{})->HeadId();
  if (head <= start) return cache.UpdateNow();
  // A poll that applies nothing for this long (the log waits out a gap in its ids) leaves the
  // rest to UpdateNow().
  constexpr auto kStepTimeout = std::chrono::seconds(10);
  for (uint64_t applied = start; applied < head; applied = cache.AppliedId()) {
    progress(std::max(applied, start) - start, head - start);
    if (!cache.WaitFor(applied + 1, kStepTimeout)) break;
  }
  const uint64_t applied = cache.UpdateNow();
  progress(head - start, head - start);
  return applied;
}

}  // namespace

int RunGet(const Invocation& inv) {
  CommandArgs args("get", inv.args, {"--raw", "--no-update"}, {});
  args.ExpectPositional(1, 1, "one KEY");
  const std::string& key = args.positional()[0];
  std::string stale;
  auto cache = OpenForReading(inv, args, &stale);
  ReadTransaction txn = cache->BeginRead();
  std::optional<std::string_view> value = txn.Get(key);
  if (!value) {
    std::cerr << "whycache: key '" << EscapeBytes(key) << "' not found in "
              << inv.RequireStatePath() << " (applied id " << txn.applied_id()
              << (stale.empty() ? "" : "; ") << stale << ")\n";
    return kExitNotFound;
  }
  if (args.Has("--raw")) {
    std::cout.write(value->data(), static_cast<std::streamsize>(value->size()));
  } else {
    std::cout << EscapeBytes(*value) << "\n";
  }
  return kExitOk;
}

int RunScan(const Invocation& inv) {
  CommandArgs args("scan", inv.args, {"--keys-only", "--json", "--no-update"}, {"--limit"});
  args.ExpectPositional(0, 1, "at most one PREFIX");
  const std::string prefix = args.positional().empty() ? "" : args.positional()[0];
  const uint64_t limit = args.Number("--limit", UINT64_MAX);
  const bool keys_only = args.Has("--keys-only");
  const bool json = args.Has("--json");
  std::string stale;
  auto cache = OpenForReading(inv, args, &stale);
  ReadTransaction txn = cache->BeginRead();
  uint64_t printed = 0;
  txn.Scan(prefix, [&](std::string_view key, std::string_view value) {
    // Output that failed (a reader gone, a full disk) ends the scan; main reports which.
    if (printed >= limit || !std::cout) return false;
    if (json) {
      std::cout << "{\"key\":" << JsonString(key);
      if (!keys_only) std::cout << ",\"value\":" << JsonString(value);
      std::cout << "}\n";
    } else {
      std::cout << EscapeBytes(key);
      if (!keys_only) std::cout << "\t" << EscapeBytes(value);
      std::cout << "\n";
    }
    ++printed;
    return true;
  });
  return kExitOk;
}

int RunUpdate(const Invocation& inv) {
  CommandArgs args("update", inv.args, {}, {"--wait-for", "--timeout-ms"});
  args.ExpectPositional(0, 0, "no arguments besides --wait-for ID and --timeout-ms MS");
  CacheOptions options;
  options.state_path = inv.RequireStatePath();
  options.log_uri = inv.RequireLogUri();
  auto cache = Cache::Open(options);
  if (auto target = args.Option("--wait-for")) {
    const uint64_t id = args.Number("--wait-for", 0);
    const auto timeout = std::chrono::milliseconds(args.Number("--timeout-ms", 10'000));
    if (!cache->WaitFor(id, timeout)) {
      throw Error(Error::Code::kTimedOut, "update " + std::to_string(id) +
                                              " was not applied within " +
                                              std::to_string(timeout.count()) + " ms (applied id " +
                                              std::to_string(cache->AppliedId()) +
                                              "); check that the id exists with `whycache tail`");
    }
    std::cout << cache->AppliedId() << "\n";
  } else {
    std::cout << UpdateShowingProgress(*cache, options.log_uri) << "\n";
  }
  return kExitOk;
}

// Where this machine reads the log from now and how far that server is behind the primary:
// `stats` asks the log once (a read of its head, which also samples the lag) rather than show
// what some poll of another process saw. Empty with *error set when the log cannot be read.
ChangeLog::ReadServer AskReadServer(const std::string& log_uri, std::string* error) {
  try {
    std::unique_ptr<ChangeLog> log = OpenChangeLog(log_uri, {.reconnect_budget = kStatsLogBudget});
    log->HeadId();
    return log->CurrentReadServer();
  } catch (const Error& e) {
    *error = e.what();
    return {};
  }
}

int RunStats(const Invocation& inv) {
  CommandArgs args("stats", inv.args, {"--json", "--prometheus"}, {});
  args.ExpectPositional(0, 0, "no arguments besides --json or --prometheus");
  if (args.Has("--json") && args.Has("--prometheus")) {
    throw Error(Error::Code::kInvalidArgument,
                "stats: choose one of --json and --prometheus (see whycache stats --help)");
  }
  auto cache = OpenCache(inv);
  CacheStats s = cache->Stats();
  std::string read_server_error;
  if (inv.log_uri && !inv.log_uri->empty()) {
    s.read_server = AskReadServer(*inv.log_uri, &read_server_error);
  }
  if (args.Has("--prometheus")) {
    std::cout << PrometheusText(s, inv.RequireStatePath());
    return kExitOk;
  }
  const std::pair<const char*, uint64_t> figures[] = {
      {"keys", s.keys},
      {"applied_id", s.applied_id},
      {"log_head_id", s.log_head_id},
      {"ids_behind", s.ids_behind},
      {"lag_us", static_cast<uint64_t>(s.lag_us)},
      {"bytes_used", s.bytes_used},
      {"file_bytes", s.file_bytes},
      {"oldest_pinned_version", s.oldest_pinned_version},
      {"oldest_pin_age_us", static_cast<uint64_t>(s.oldest_pin_age_us)},
      {"reader_slots_in_use", s.reader_slots_in_use},
      {"reader_slots", s.reader_slots},
      {"polls", s.polls},
      {"poll_errors", s.poll_errors},
      {"batches_applied", s.batches_applied},
      {"mutations_applied", s.mutations_applied},
      {"apply_us", s.apply_us},
      {"resyncs", s.resyncs},
  };
  const ChangeLog::ReadServer& reads = s.read_server;
  const std::string role = reads.server.empty() ? "" : reads.on_primary ? "primary" : "replica";
  const bool lag_measured = !reads.server.empty() && reads.updates_behind >= 0;
  const std::pair<const char*, const std::string&> notes[] = {
      {"last_error", s.last_error},
      {"resync_snapshot_unused", s.resync_snapshot_unused},
      {"read_barrier", s.read_barrier},
      {"prefixes_error", s.prefixes_error},
      {"read_server", reads.server},
      {"read_server_role", role},
      {"read_server_lag_unmeasured", reads.lag_unmeasured},
      {"read_server_last_failover", reads.last_failover},
      {"read_server_error", read_server_error},
  };
  // Update ids the read server is behind the primary; JSON null when not measured.
  const std::string behind = lag_measured ? std::to_string(reads.updates_behind) : "";
  if (args.Has("--json")) {
    std::cout << "{";
    for (const auto& [name, value] : figures) std::cout << "\"" << name << "\":" << value << ",";
    const char* separator = "";
    for (const auto& [name, text] : notes) {
      std::cout << separator << "\"" << name << "\":" << JsonString(text);
      separator = ",";
    }
    std::cout << ",\"read_server_updates_behind\":" << (lag_measured ? behind : "null");
    std::cout << ",\"prefixes\":[";
    separator = "";
    for (const PrefixReadStats& p : s.prefixes) {
      std::cout << separator << "{\"prefix\":" << JsonString(p.prefix)
                << ",\"hits\":" << p.machine_hits << ",\"misses\":" << p.machine_misses << "}";
      separator = ",";
    }
    std::cout << "]}\n";
  } else {
    const auto print = [](std::string label, const auto& value) {
      label.resize(24, ' ');
      std::cout << label << value << "\n";
    };
    for (const auto& [name, value] : figures) print(name, value);
    for (const auto& [name, text] : notes) {
      if (!text.empty()) print(name, text);
    }
    if (lag_measured) print("read_server_updates_behind", behind);
    for (const PrefixReadStats& p : s.prefixes) {
      print("prefix " + EscapeBytes(p.prefix), "hits " + std::to_string(p.machine_hits) +
                                                   " misses " + std::to_string(p.machine_misses));
    }
  }
  return kExitOk;
}

int RunCheck(const Invocation& inv) {
  CommandArgs args("check", inv.args, {"--against-log"}, {});
  args.ExpectPositional(0, 0, "no arguments besides --against-log");
  const std::string& state = inv.RequireStatePath();
  // Opening without the log would say to give the log, which does not help here: check never
  // creates the file it is to check.
  std::error_code ignored;
  if (!std::filesystem::exists(state, ignored)) {
    throw Error(
        Error::Code::kInvalidArgument,
        "check: state file " + state +
            " does not exist: nothing to check (`whycache update` with the log creates it)");
  }
  // Opened without the log first: opening with it would replace a damaged file, not report it.
  CacheOptions options;
  options.state_path = state;
  try {
    Cache::Open(options)->Verify();
  } catch (const Error& e) {
    if (e.code() != Error::Code::kCorruption && e.code() != Error::Code::kIncompatible) throw;
    std::cout << "damaged: " << e.what() << "\n";
    return kExitCheckFailed;
  }
  if (args.Has("--against-log")) {
    options.log_uri = inv.RequireLogUri();
    auto cache = Cache::Open(options);
    const std::string difference =
        cache->CheckAgainstLog(TerminalProgress("check", ProgressUnit::kUpdates));
    if (!difference.empty()) {
      std::cout << "state file " << state << " at update " << cache->AppliedId()
                << " differs from the log replayed: " << difference << "\n";
      return kExitCheckFailed;
    }
  }
  std::cout << "ok\n";
  return kExitOk;
}

namespace {

// A snapshot below the log's horizon, or one the log cannot bring up to the state's id, is an
// input file that cannot serve this state, like one of another dataset: exit 5, not the usage
// error of the library's kInvalidArgument.
SnapshotInfo Restore(Cache& cache, const std::string& path, const RestoreOptions& options) {
  try {
    return cache.RestoreSnapshot(path, TerminalProgress("restore"), options);
  } catch (const Error& e) {
    if (e.code() != Error::Code::kInvalidArgument) throw;
    throw Error(Error::Code::kIncompatible, e.what());
  }
}

void PrintSnapshotInfo(const char* what, const std::string& path, const SnapshotInfo& info) {
  std::cout << what << " " << path << ": update " << info.applied_id << ", " << info.key_count
            << " keys, " << info.raw_bytes << " bytes of keys and values, " << info.file_bytes
            << " bytes on disk, format " << info.format_version << ", horizon " << info.horizon
            << ", dataset " << info.dataset_id << "\n";
}

}  // namespace

int RunSnapshot(const Invocation& inv) {
  CommandArgs args("snapshot", inv.args, {"--force"}, {});
  args.ExpectPositional(2, 2, "create FILE, restore [--force] FILE or info FILE");
  const std::string& action = args.positional()[0];
  const std::string& file = args.positional()[1];
  if (args.Has("--force") && action != "restore") {
    throw Error(Error::Code::kInvalidArgument, "snapshot " + action + ": --force is for restore");
  }
  if (action == "info") {
    PrintSnapshotInfo("snapshot", file, VerifySnapshot(file));
    return kExitOk;
  }
  if (action == "create") {
    // The snapshot is renamed over FILE: a device, pipe or directory there would be replaced.
    std::error_code ignored;
    const auto status = std::filesystem::status(file, ignored);
    if (std::filesystem::exists(status) && !std::filesystem::is_regular_file(status)) {
      throw Error(Error::Code::kInvalidArgument,
                  "snapshot create: " + file +
                      " exists and is not a regular file; name a new file or an old snapshot");
    }
    auto cache = OpenCache(inv);
    PrintSnapshotInfo("created", file, cache->CreateSnapshot(file, TerminalProgress("snapshot")));
    return kExitOk;
  }
  if (action == "restore") {
    CacheOptions options;
    options.state_path = inv.RequireStatePath();
    options.log_uri = inv.RequireLogUri();
    auto cache = Cache::Open(options);
    PrintSnapshotInfo("restored", file, Restore(*cache, file, {.force = args.Has("--force")}));
    return kExitOk;
  }
  throw Error(Error::Code::kInvalidArgument,
              "snapshot: unknown action '" + action + "': use create, restore or info");
}

}  // namespace whycache::cli
