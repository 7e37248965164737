#include "cli/demo_results.h"

#include <fstream>

#include "whycache/error.h"

namespace whycache::cli::demo {
namespace {

void Finish(const std::string& path, std::ofstream& out) {
  out << "\n";
  out.close();
  if (!out.good()) {
    throw Error(Error::Code::kIOError, "demo: cannot write " + path + " (is the disk full?)");
  }
}

}  // namespace

void WriteResult(const std::string& path, const ReaderResult& r) {
  std::ofstream out(path);
  out << r.requests << " " << r.reads << " " << r.hits << " " << r.seconds << " " << r.cpu_seconds
      << " " << r.update_median_ns << " " << r.update_mean_ns << " " << r.clock_pair_ns << " "
      << r.heartbeats_missed;
  for (double lag : r.lags_ms) out << " " << lag;
  Finish(path, out);
}

void WriteResult(const std::string& path, const WriterResult& r) {
  std::ofstream out(path);
  out << r.batches << " " << r.mutations << " " << r.append_p50_ms << " " << r.append_p99_ms;
  Finish(path, out);
}

void WriteResult(const std::string& path, const CompactorResult& r) {
  std::ofstream out(path);
  const CompactionResult& c = r.compaction;
  out << r.head << " " << c.removed << " " << c.kept << " " << c.bytes_before << " "
      << c.bytes_after << " " << c.horizon << " " << r.ms;
  Finish(path, out);
}

std::optional<ReaderResult> ReadReaderResult(const std::string& path) {
  std::ifstream in(path);
  ReaderResult r;
  if (!(in >> r.requests >> r.reads >> r.hits >> r.seconds >> r.cpu_seconds >> r.update_median_ns >>
        r.update_mean_ns >> r.clock_pair_ns >> r.heartbeats_missed)) {
    return std::nullopt;
  }
  for (double lag; in >> lag;) r.lags_ms.push_back(lag);
  return r;
}

std::optional<WriterResult> ReadWriterResult(const std::string& path) {
  std::ifstream in(path);
  WriterResult r;
  if (!(in >> r.batches >> r.mutations >> r.append_p50_ms >> r.append_p99_ms)) return std::nullopt;
  return r;
}

std::optional<CompactorResult> ReadCompactorResult(const std::string& path) {
  std::ifstream in(path);
  CompactorResult r;
  CompactionResult& c = r.compaction;
  if (!(in >> r.head >> c.removed >> c.kept >> c.bytes_before >> c.bytes_after >> c.horizon >>
        r.ms)) {
    return std::nullopt;
  }
  return r;
}

}  // namespace whycache::cli::demo
