#include "cli/cache_commands.h"

#include <chrono>
#include <filesystem>
#include <iostream>
#include <string>

#include "cli/command_args.h"
#include "cli/exit_status.h"
#include "cli/progress.h"
#include "lib/format/escape.h"
#include "whycache/cache.h"
#include "whycache/error.h"

namespace whycache::cli {
namespace {

using format::EscapeBytes;
using format::JsonString;

// Reading commands work from the state file alone; the log is used when one is given.
std::unique_ptr<Cache> OpenCache(const Invocation& inv) {
  CacheOptions options;
  options.state_path = inv.RequireStatePath();
  options.log_uri = inv.log_uri.value_or("");
  return Cache::Open(options);
}

}  // namespace

int RunGet(const Invocation& inv) {
  CommandArgs args("get", inv.args, {"--raw"}, {});
  args.ExpectPositional(1, 1, "one KEY");
  const std::string& key = args.positional()[0];
  auto cache = OpenCache(inv);
  ReadTransaction txn = cache->BeginRead();
  std::optional<std::string_view> value = txn.Get(key);
  if (!value) {
    std::cerr << "whycache: key '" << EscapeBytes(key) << "' not found in "
              << inv.RequireStatePath() << " (applied id " << txn.applied_id() << ")\n";
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
  CommandArgs args("scan", inv.args, {"--keys-only", "--json"}, {"--limit"});
  args.ExpectPositional(0, 1, "at most one PREFIX");
  const std::string prefix = args.positional().empty() ? "" : args.positional()[0];
  const uint64_t limit = args.Number("--limit", UINT64_MAX);
  const bool keys_only = args.Has("--keys-only");
  const bool json = args.Has("--json");
  auto cache = OpenCache(inv);
  ReadTransaction txn = cache->BeginRead();
  uint64_t printed = 0;
  txn.Scan(prefix, [&](std::string_view key, std::string_view value) {
    if (printed >= limit) return false;
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
    std::cout << cache->UpdateNow() << "\n";
  }
  return kExitOk;
}

int RunStats(const Invocation& inv) {
  CommandArgs args("stats", inv.args, {"--json"}, {});
  args.ExpectPositional(0, 0, "no arguments besides --json");
  auto cache = OpenCache(inv);
  const CacheStats s = cache->Stats();
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
      {"polls", s.polls},
      {"poll_errors", s.poll_errors},
      {"batches_applied", s.batches_applied},
      {"mutations_applied", s.mutations_applied},
      {"apply_us", s.apply_us},
      {"resyncs", s.resyncs},
  };
  const std::pair<const char*, const std::string&> notes[] = {
      {"last_error", s.last_error},
      {"resync_snapshot_unused", s.resync_snapshot_unused},
  };
  if (args.Has("--json")) {
    std::cout << "{";
    for (const auto& [name, value] : figures) std::cout << "\"" << name << "\":" << value << ",";
    const char* separator = "";
    for (const auto& [name, text] : notes) {
      std::cout << separator << "\"" << name << "\":" << JsonString(text);
      separator = ",";
    }
    std::cout << "}\n";
  } else {
    const auto print = [](std::string label, const auto& value) {
      label.resize(24, ' ');
      std::cout << label << value << "\n";
    };
    for (const auto& [name, value] : figures) print(name, value);
    for (const auto& [name, text] : notes) {
      if (!text.empty()) print(name, text);
    }
  }
  return kExitOk;
}

int RunCheck(const Invocation& inv) {
  CommandArgs args("check", inv.args, {"--against-log"}, {});
  args.ExpectPositional(0, 0, "no arguments besides --against-log");
  const std::string& state = inv.RequireStatePath();
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
    const std::string difference = cache->CheckAgainstLog();
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
    PrintSnapshotInfo(
        "restored", file,
        cache->RestoreSnapshot(file, TerminalProgress("restore"), {.force = args.Has("--force")}));
    return kExitOk;
  }
  throw Error(Error::Code::kInvalidArgument,
              "snapshot: unknown action '" + action + "': use create, restore or info");
}

}  // namespace whycache::cli
