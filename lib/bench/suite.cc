#include "lib/bench/suite.h"

#include <stdlib.h>

#include <chrono>
#include <filesystem>
#include <memory>

#include "lib/bench/environment.h"
#include "lib/bench/filesystem.h"
#include "lib/bench/loaded_cache.h"
#include "lib/bench/mysql_scratch_log.h"
#include "lib/bench/sections.h"
#include "lib/io/temp_dir.h"

namespace whycache::bench {
namespace {

std::array<double, 3> LoadAverage() {
  std::array<double, 3> load{};
  if (getloadavg(load.data(), 3) != 3) load = {};
  return load;
}

// A fresh subdirectory of the run's scratch directory, one per measurement, so that each
// leaves nothing in the way of the next.
std::string Subdirectory(const io::TempDir& scratch, const std::string& name) {
  const std::string dir = scratch.File(name);
  std::filesystem::create_directories(dir);
  return dir;
}

// Where the fsync row's files go: a directory on a disk, because fsync on tmpfs is free.
std::string DiskParent(const SuiteConfig& config) {
  const char* tmpdir = getenv("TMPDIR");
  std::error_code ignored;
  return FirstDiskDirectory({config.scratch_parent, tmpdir != nullptr ? tmpdir : "", "/var/tmp",
                             std::filesystem::current_path(ignored).string()});
}

Section NotMeasured(const std::string& key, const std::string& title, const std::string& why) {
  Section s;
  s.key = key;
  s.title = title;
  s.not_measured = why;
  return s;
}

}  // namespace

SuiteConfig FullSuite() {
  SuiteConfig c;
  c.mode = "full";
  c.repetitions = 5;
  c.get_keys = 1'000'000;
  c.large_get_keys = 10'000'000;
  c.gets_per_repetition = 300'000;
  c.update_calls = 2'000'000;
  c.polls = 5'000;
  c.apply_mutations = 200'000;
  c.lag_samples = 200;
  c.compact_mutations = 1'000'000;
  c.compact_keys = 10'000;
  c.append_batches = 200;
  c.tail_mutations = 1'000'000;
  return c;
}

SuiteConfig QuickSuite() {
  SuiteConfig c;
  c.mode = "quick";
  c.repetitions = 3;
  c.get_keys = 200'000;
  c.large_get_keys = 300'000;
  c.gets_per_repetition = 200'000;
  c.update_calls = 2'000'000;
  c.polls = 1'000;
  c.apply_mutations = 50'000;
  c.lag_samples = 30;
  c.compact_mutations = 200'000;
  c.compact_keys = 2'000;
  c.append_batches = 50;
  c.tail_mutations = 200'000;
  return c;
}

SuiteConfig SmokeSuite() {
  SuiteConfig c;
  c.mode = "smoke";
  c.repetitions = 2;
  c.get_keys = 2'000;
  c.large_get_keys = 4'000;
  c.gets_per_repetition = 5'000;
  c.update_calls = 10'000;
  c.polls = 50;
  c.apply_mutations = 2'000;
  c.lag_samples = 4;
  c.compact_mutations = 2'000;
  c.compact_keys = 20;
  c.append_batches = 3;
  c.tail_mutations = 3'000;
  return c;
}

Report RunSuite(const SuiteConfig& config,
                const std::function<void(const std::string&)>& progress) {
  const auto start = std::chrono::steady_clock::now();
  Report report;
  report.mode = config.mode;
  report.repetitions = config.repetitions;
  report.date = UtcNow();
  report.build = ThisBuild();
  report.machine = ThisMachine();
  report.load_before = LoadAverage();
  // State files belong on a tmpfs.
  const io::TempDir scratch(
      config.scratch_parent.empty() ? io::TmpDirOr("/dev/shm") : config.scratch_parent,
      "whycache-bench-");
  report.directory = scratch.path();
  report.filesystem = FilesystemOf(scratch.path());
  auto add = [&](const std::string& what, const std::function<Section()>& measure) {
    progress(what);
    report.sections.push_back(measure());
  };

  for (const auto& [keys, value_bytes] :
       {std::pair{config.get_keys, size_t{100}}, std::pair{config.large_get_keys, size_t{16}}}) {
    add("point gets, " + WithThousands(static_cast<double>(keys)) + " keys", [&] {
      return MeasurePointGets(config, keys, value_bytes,
                              Subdirectory(scratch, "get-" + std::to_string(value_bytes)));
    });
  }
  {
    const std::string dir = Subdirectory(scratch, "cache");
    progress("loading a machine of " + WithThousands(static_cast<double>(config.get_keys)) +
             " keys");
    const LoadedCache machine(dir, config.get_keys, 100, 7);
    add("gets through the Cache", [&] { return MeasureCacheGets(config, machine); });
    add("snapshots", [&] { return MeasureSnapshots(config, machine, dir); });
  }
  add("Update() when no poll is due",
      [&] { return MeasureUpdateNotDue(config, Subdirectory(scratch, "not-due")); });

  // Lag, then poll, then apply: each row runs against the log the previous rows wrote.
  auto log_rows = [&](const LogUnderTest& log) {
    const std::string dir = Subdirectory(scratch, log.name + "-machines");
    add("replication lag on the " + log.name + " log",
        [&] { return MeasureReplicationLag(config, log, dir); });
    add("Update() polling the " + log.name + " log",
        [&] { return MeasureUpdateDue(config, log, dir); });
    add("applying the " + log.name + " log", [&] { return MeasureApply(config, log, dir); });
  };
  log_rows({"file", "file:" + scratch.File("file-log")});
  if (config.mysql_uri.empty()) {
    const std::string why = "not measured: pass --log mysql://USER@HOST:PORT/DATABASE";
    report.sections.push_back(
        NotMeasured("replication_lag_mysql", "replication lag A->B, mysql", why));
    report.sections.push_back(
        NotMeasured("update_due_nothing_new_mysql", "Update(), poll due, nothing new, mysql", why));
    report.sections.push_back(NotMeasured("apply_mysql", "apply, mysql log, 100 B values", why));
  } else {
    const MysqlScratchLog mysql(config.mysql_uri);
    log_rows({"mysql", mysql.uri()});
  }

  add("file log appends", [&] {
    const std::string disk_parent = DiskParent(config);
    if (disk_parent.empty()) return MeasureFileLogAppend(config, Subdirectory(scratch, "append"));
    const io::TempDir disk(disk_parent, "whycache-bench-");
    Section s = MeasureFileLogAppend(config, disk.path());
    s.title += " in " + disk_parent;
    s.facts.emplace_back("directory", disk_parent);
    return s;
  });
  add("file log tail", [&] { return MeasureFileLogTail(config, Subdirectory(scratch, "tail")); });
  add("file log compaction",
      [&] { return MeasureCompaction(config, Subdirectory(scratch, "compact")); });

  report.load_after = LoadAverage();
  report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return report;
}

}  // namespace whycache::bench
