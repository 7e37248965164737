// The rows of the suite about the change log and the applier: Update(), apply throughput,
// replication lag, and the file log's appends, tail reads and compaction.
#include <filesystem>
#include <random>
#include <string>
#include <system_error>
#include <vector>

#include "lib/bench/filesystem.h"
#include "lib/bench/replication_lag.h"
#include "lib/bench/sections.h"
#include "lib/bench/timing.h"
#include "lib/bench/workload.h"
#include "whycache/error.h"

namespace whycache::bench {
namespace {

// Opens the log at `uri`, creating it if it is missing.
std::unique_ptr<ChangeLog> CreateLog(const std::string& uri, FsyncPolicy fsync) {
  LogOptions options;
  options.create_if_missing = true;
  options.fsync = fsync;
  return OpenChangeLog(uri, options);
}

// A state file and the files the tree keeps beside it (lock, rebuild).
void RemoveState(const std::string& path) {
  std::error_code ignored;
  for (const char* suffix : {"", ".lock", ".rebuild"}) {
    std::filesystem::remove(path + suffix, ignored);
  }
}

double PerSecond(double count, double seconds) { return count / seconds; }

// The median time of `calls` Update() calls, over the suite's repetitions.
Elapsed TimeUpdates(const SuiteConfig& config, Cache& cache, size_t calls) {
  std::vector<Elapsed> times;
  for (int r = 0; r < config.repetitions; ++r) {
    times.push_back(Time([&] {
      for (size_t i = 0; i < calls; ++i) cache.Update();
    }));
  }
  return MedianOf(times);
}

Figure Repetitions(const SuiteConfig& config) {
  return {"repetitions", "", static_cast<double>(config.repetitions), ""};
}

}  // namespace

Section MeasureUpdateNotDue(const SuiteConfig& config, const std::string& dir) {
  CacheOptions options;
  options.state_path = dir + "/not-due.state";
  options.log_uri = "file:" + dir + "/not-due-log";
  options.poll_interval = std::chrono::hours(1);
  CreateLog(options.log_uri, FsyncPolicy::kNever);
  const std::unique_ptr<Cache> cache = Cache::Open(options);
  cache->UpdateNow();
  cache->Update();  // Claims the first due poll; the next is an hour away.
  const size_t calls = config.update_calls;
  const Elapsed m = TimeUpdates(config, *cache, calls);
  Section s;
  s.key = "update_not_due";
  s.title = "Update(), no poll due";
  s.figures = {
      {"ns", "", m.cpu_seconds * 1e9 / static_cast<double>(calls), "ns"},
      {"wall_ns", "wall", m.wall_seconds * 1e9 / static_cast<double>(calls), "ns"},
      {"calls_per_repetition", "", static_cast<double>(calls), ""},
      Repetitions(config),
  };
  return s;
}

Section MeasureApply(const SuiteConfig& config, const LogUnderTest& log, const std::string& dir) {
  const size_t mutations = config.apply_mutations;
  uint64_t head = 0;
  {
    const std::unique_ptr<ChangeLog> writer = CreateLog(log.uri, FsyncPolicy::kNever);
    std::mt19937_64 rng(1);
    AppendRandomEntries(*writer, mutations, 100, 100, rng);
    head = writer->HeadId();
  }
  std::vector<Elapsed> times;
  for (int r = 0; r < config.repetitions; ++r) {
    CacheOptions options;
    options.state_path = dir + "/apply-" + log.name + ".state";
    options.log_uri = log.uri;
    {
      const std::unique_ptr<Cache> cache = Cache::Open(options);
      uint64_t applied = 0;
      times.push_back(Time([&] { applied = cache->UpdateNow(); }));
      if (applied != head || cache->BeginRead().key_count() < mutations) {
        throw Error(Error::Code::kCorruption,
                    "bench: applying the " + log.name + " log did not give every key written");
      }
    }
    RemoveState(options.state_path);
  }
  const Elapsed m = MedianOf(times);
  Section s;
  s.key = "apply_" + log.name;
  s.title = "apply, " + log.name + " log, 100 B values";
  s.figures = {
      {"mutations_per_s", "", PerSecond(static_cast<double>(mutations), m.wall_seconds),
       "mutations/s"},
      {"mutations_per_cpu_s", "", PerSecond(static_cast<double>(mutations), m.cpu_seconds), ""},
      {"mutations", "", static_cast<double>(mutations), ""},
      {"batch_mutations", "", 100, ""},
      Repetitions(config),
  };
  return s;
}

Section MeasureUpdateDue(const SuiteConfig& config, const LogUnderTest& log,
                         const std::string& dir) {
  CacheOptions options;
  options.state_path = dir + "/due-" + log.name + ".state";
  options.log_uri = log.uri;
  options.poll_interval = std::chrono::milliseconds(0);
  const std::unique_ptr<Cache> cache = Cache::Open(options);
  cache->Set("bench:due", "v");
  cache->UpdateNow();
  const uint64_t polls_before = cache->Stats().polls;
  const size_t calls = config.polls;
  const Elapsed m = TimeUpdates(config, *cache, calls);
  const CacheStats stats = cache->Stats();
  if (stats.polls - polls_before < calls * config.repetitions || !stats.last_error.empty()) {
    throw Error(Error::Code::kUnavailable,
                "bench: Update() on the " + log.name + " log did not poll on every call" +
                    (stats.last_error.empty() ? "" : ": " + stats.last_error));
  }
  Section s;
  s.key = "update_due_nothing_new_" + log.name;
  s.title = "Update(), poll due, nothing new, " + log.name;
  s.figures = {
      {"us", "", m.cpu_seconds * 1e6 / static_cast<double>(calls), "us"},
      {"wall_us", "wall", m.wall_seconds * 1e6 / static_cast<double>(calls), "us"},
      {"calls_per_repetition", "", static_cast<double>(calls), ""},
      Repetitions(config),
  };
  return s;
}

Section MeasureReplicationLag(const SuiteConfig& config, const LogUnderTest& log,
                              const std::string& dir) {
  CacheOptions a;
  a.state_path = dir + "/lag-a-" + log.name + ".state";
  a.log_uri = log.uri;
  CacheOptions b = a;
  b.state_path = dir + "/lag-b-" + log.name + ".state";
  CreateLog(log.uri, FsyncPolicy::kNever);
  std::vector<double> lags_ms;
  {
    ReplicationLagProbe probe(a, b, 3);
    for (int i = 0; i < config.lag_samples; ++i) {
      probe.WaitRandomPhase();
      lags_ms.push_back(probe.SampleMs());
    }
  }
  Section s;
  s.key = "replication_lag_" + log.name;
  s.title = "replication lag A->B, " + log.name + ", " + std::to_string(b.poll_interval.count()) +
            " ms poll";
  s.figures = {
      {"p50_ms", "p50", Percentile(lags_ms, 0.5), "ms"},
      {"p99_ms", "p99", Percentile(lags_ms, 0.99), "ms"},
      {"samples", "samples", static_cast<double>(lags_ms.size()), ""},
      {"poll_interval_ms", "", static_cast<double>(b.poll_interval.count()), ""},
  };
  s.series = {{"samples_ms", lags_ms}};
  return s;
}

Section MeasureFileLogAppend(const SuiteConfig& config, const std::string& dir) {
  std::mt19937_64 rng(1);
  // A few distinct batches, made before the clock starts.
  std::vector<std::vector<Mutation>> batches;
  for (uint64_t i = 0; i < 8; ++i) batches.push_back(SerialBatch(rng, 1000, i));
  std::vector<Elapsed> times;
  for (int r = 0; r < config.repetitions; ++r) {
    const std::string log_dir = dir + "/append-log";
    {
      const std::unique_ptr<ChangeLog> log =
          CreateLog("file:" + log_dir, FsyncPolicy::kEveryAppend);
      times.push_back(Time([&] {
        for (size_t b = 0; b < config.append_batches; ++b) log->Append(batches[b % 8]);
      }));
    }
    std::filesystem::remove_all(log_dir);
  }
  const Elapsed m = MedianOf(times);
  const double keys = static_cast<double>(config.append_batches) * 1000;
  const FilesystemFacts fs = FilesystemOf(dir);
  Section s;
  s.key = "file_log_append";
  s.title = "file log append, 1,000-key batches, fsync on " + fs.type +
            (fs.in_memory ? " (free there: no writable directory on a disk found)" : "");
  s.facts = {{"filesystem", fs.type}};
  s.figures = {
      {"keys_per_s", "", PerSecond(keys, m.wall_seconds), "keys/s"},
      {"us_per_batch", "", m.wall_seconds * 1e6 / static_cast<double>(config.append_batches),
       "us/batch"},
      {"batches_per_repetition", "", static_cast<double>(config.append_batches), ""},
      Repetitions(config),
  };
  return s;
}

Section MeasureFileLogTail(const SuiteConfig& config, const std::string& dir) {
  const size_t mutations = config.tail_mutations;
  const std::string log_dir = dir + "/tail-log";
  {
    const std::unique_ptr<ChangeLog> writer = CreateLog("file:" + log_dir, FsyncPolicy::kNever);
    std::mt19937_64 rng(2);
    for (uint64_t i = 0; i < mutations / 1000; ++i) writer->Append(SerialBatch(rng, 1000, i));
  }
  const size_t written = mutations / 1000 * 1000;
  std::vector<Elapsed> times;
  for (int r = 0; r < config.repetitions; ++r) {
    const std::unique_ptr<ChangeLog> reader = OpenChangeLog("file:" + log_dir);
    size_t read = 0;
    times.push_back(Time([&] { read = ReadAllMutations(*reader, written); }));
    if (read != written) {
      throw Error(Error::Code::kCorruption, "bench: the tail read " + std::to_string(read) +
                                                " of " + std::to_string(written) + " mutations");
    }
  }
  std::filesystem::remove_all(log_dir);
  const Elapsed m = MedianOf(times);
  Section s;
  s.key = "file_log_tail";
  s.title = "file log tail, 1,000-key batches";
  s.figures = {
      {"mutations_per_s", "", PerSecond(static_cast<double>(written), m.wall_seconds),
       "mutations/s"},
      {"mutations", "", static_cast<double>(written), ""},
      Repetitions(config),
  };
  return s;
}

Section MeasureCompaction(const SuiteConfig& config, const std::string& dir) {
  std::mt19937_64 rng(4);
  std::vector<Elapsed> times;
  CompactionResult result;
  for (int r = 0; r < config.repetitions; ++r) {
    const std::string log_dir = dir + "/compact-log";
    {
      const std::unique_ptr<ChangeLog> log = CreateLog("file:" + log_dir, FsyncPolicy::kNever);
      AppendOverwriteHistory(*log, config.compact_mutations, config.compact_keys, rng);
      times.push_back(Time([&] { result = log->Compact(CompactionOptions{}); }));
    }
    std::filesystem::remove_all(log_dir);
    if (result.kept != config.compact_keys) {
      throw Error(Error::Code::kCorruption, "bench: compaction kept " +
                                                std::to_string(result.kept) + " entries, not " +
                                                std::to_string(config.compact_keys));
    }
  }
  const Elapsed m = MedianOf(times);
  Section s;
  s.key = "compaction";
  s.title = "compaction, " + WithThousands(static_cast<double>(config.compact_mutations)) +
            " mutations, " + WithThousands(static_cast<double>(config.compact_keys)) + " keys";
  s.figures = {
      {"mutations_per_s", "",
       PerSecond(static_cast<double>(config.compact_mutations), m.wall_seconds), "mutations/s"},
      {"bytes_before", "before", static_cast<double>(result.bytes_before), "B"},
      {"bytes_after", "after", static_cast<double>(result.bytes_after), "B"},
      {"mutations", "", static_cast<double>(config.compact_mutations), ""},
      {"keys", "", static_cast<double>(config.compact_keys), ""},
      Repetitions(config),
  };
  return s;
}

}  // namespace whycache::bench
