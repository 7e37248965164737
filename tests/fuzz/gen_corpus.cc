// Writes the seed corpus of every fuzz target: valid inputs made by the project's own writers,
// so that fuzzing starts from the structures the decoders must accept.
//
// Usage: gen_corpus OUT_DIR (writes OUT_DIR/<target>/<seed>, replacing files of those names).
#include <fcntl.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "lib/format/batch_record.h"
#include "lib/format/compression.h"
#include "lib/io/posix_file.h"
#include "lib/log/file_log.h"
#include "lib/log/manifest.h"
#include "lib/log/mysql/row_codec.h"
#include "lib/log/segment_format.h"
#include "lib/snapshot/snapshot_file.h"
#include "lib/tree/tree.h"
#include "tests/fuzz/fuzz_util.h"
#include "whycache/error.h"

namespace whycache::fuzz {
namespace {

// Control bytes (fuzz_util.h): bit 0 fixes checksums, the bits above pick a decoder or variant.
// Valid seeds need no fix-up, except where the harness changes the file (mutants that set bit 0
// get theirs).
std::string Mode(int mode, bool fix_checksums = false) {
  return std::string(1, static_cast<char>(mode << 1 | (fix_checksums ? 1 : 0)));
}

class Corpus {
 public:
  explicit Corpus(std::string dir) : dir_(std::move(dir)) {}

  void Add(const std::string& target, const std::string& name, std::string_view bytes) {
    std::filesystem::create_directories(dir_ + "/" + target);
    WriteFile(dir_ + "/" + target + "/" + name, bytes);
  }

 private:
  std::string dir_;
};

std::string ReadAll(const std::string& path) { return io::ReadWholeFile(path, size_t{1} << 30); }

std::vector<Mutation> SmallBatch() {
  return {Mutation::Set("user:1", "alice"), Mutation::Delete("user:2"),
          Mutation::Set("", std::string("\0\xff", 2))};
}

// Over kCompressionThreshold and compressible: its record holds a zstd frame.
std::vector<Mutation> LargeBatch() {
  std::vector<Mutation> batch;
  for (int i = 0; i < 64; ++i) {
    batch.push_back(Mutation::Set("flag:" + std::to_string(i), std::string(100, 'a' + i % 3)));
  }
  return batch;
}

void AddRecords(Corpus& corpus) {
  corpus.Add("record", "small", Mode(0) + format::EncodeBatchRecord(7, 1234, SmallBatch()));
  corpus.Add("record", "compressed", Mode(0) + format::EncodeBatchRecord(8, -1, LargeBatch()));
  const Mutation row_mutations[] = {Mutation::Set("k", "v"), Mutation::Delete("gone"),
                                    Mutation::Set("big", std::string(5000, 'x'))};
  int n = 0;
  for (const Mutation& m : row_mutations) {
    mysql_log::StoredValue stored;
    mysql_log::EncodeValue(m, &stored);
    std::string row;
    row.push_back(static_cast<char>(m.op));
    row.push_back(static_cast<char>(stored.encoding));
    row.push_back(static_cast<char>(m.key.size()));
    row.append(4, '\0');
    PutFixed32At(row, 3, stored.checksum);
    row += m.key;
    row += stored.bytes;
    corpus.Add("record", "row" + std::to_string(n++), Mode(2) + row);
  }
  corpus.Add("record", "zstd", Mode(3) + format::ZstdCompress(std::string(3000, 'z') + "end"));
}

void AddSegmentPieces(Corpus& corpus) {
  corpus.Add("segment", "segment_header", Mode(0) + log::EncodeSegmentHeader(1));
  corpus.Add("segment", "batch_frame",
             Mode(1) + log::EncodeFrameHeader(log::FrameType::kBatch, 9, 100));
  corpus.Add("segment", "seal_frame",
             Mode(1) + log::EncodeFrameHeader(log::FrameType::kSeal, 0, 0));
  log::Manifest m;
  m.generation = 3;
  m.horizon = 10;
  m.next_segment_number = 9;
  m.segments = {{.number = 4, .first_id = 1}, {.number = 7, .first_id = 11}};
  corpus.Add("segment", "manifest", Mode(2) + log::EncodeManifest(m));
}

void AddFileLogs(Corpus& corpus, const std::string& scratch) {
  log::FileLogOptions options;
  options.create_if_missing = true;
  options.fsync = FsyncPolicy::kNever;
  // Every append after the first starts a new segment: segment 1 is sealed.
  options.segment_bytes = 64;
  const std::string sealed = scratch + "/sealed";
  auto sealed_log = log::FileLog::Open(sealed, options);
  sealed_log->Append(SmallBatch());
  sealed_log->Append(LargeBatch());
  corpus.Add("file_log", "sealed", Mode(1) + ReadAll(sealed + "/" + log::SegmentFileName(1)));

  options.segment_bytes = uint64_t{1} << 20;
  const std::string active = scratch + "/active";
  auto active_log = log::FileLog::Open(active, options);
  active_log->Append(SmallBatch());
  active_log->Append(LargeBatch());
  active_log->Append(std::vector<Mutation>{Mutation::Delete("user:1")});
  corpus.Add("file_log", "active", Mode(0) + ReadAll(active + "/" + log::SegmentFileName(1)));
  corpus.Add("file_log", "empty", Mode(0) + log::EncodeSegmentHeader(1));
  // What an appender killed between sealing a segment and publishing its successor leaves.
  corpus.Add(
      "file_log", "sealed_without_successor",
      Mode(0) + log::EncodeSegmentHeader(1) + log::EncodeFrameHeader(log::FrameType::kSeal, 0, 0));
}

void AddSnapshots(Corpus& corpus, const std::string& scratch) {
  const std::string path = scratch + "/snapshot";
  const std::vector<std::pair<std::string, std::string>> entries = {
      {"", "empty key"}, {"a", ""}, {"b", std::string(2000, 'b')}, {"c\xff", "last"}};
  snapshot::WriteSnapshot(path, "dataset-1", 12, 3, entries.size(), [&](const auto& emit) {
    for (const auto& [k, v] : entries) emit(k, v);
  });
  corpus.Add("snapshot", "four_entries", Mode(0) + ReadAll(path));
  snapshot::WriteSnapshot(path, "", 0, 0, 0, [](const auto&) {});
  corpus.Add("snapshot", "empty", Mode(0) + ReadAll(path));
}

// A state file's tail beyond its allocated space is zero: the harness pads it back to whole
// pages, and the seed asks it to fix the size in the header.
std::string TrimZeros(std::string file) {
  file.erase(file.find_last_not_of('\0') + 1);
  return file;
}

void AddStateFiles(Corpus& corpus, const std::string& scratch) {
  tree::TreeOptions options;
  options.initial_file_bytes = 0;
  options.reader_slots = 1;
  const std::string empty = scratch + "/empty.state";
  tree::Tree::Open(empty, options);
  corpus.Add("state_file", "empty", Mode(0, true) + TrimZeros(ReadAll(empty)));

  const std::string path = scratch + "/small.state";
  auto t = tree::Tree::Open(path, options);
  {
    // Keys that share prefixes of every length, and fan-outs that need each node kind.
    auto w = t->BeginWrite();
    for (int i = 0; i < 60; ++i) w->Put(std::string(1, static_cast<char>(i * 4)), "v");
    for (int i = 0; i < 20; ++i) w->Put("user:" + std::to_string(i), std::to_string(i * i));
    w->Put("user:", "end leaf");
    w->Put("long:" + std::string(100, 'p'), std::string(300, 'q'));
    w->Commit(5);
  }
  {
    auto w = t->BeginWrite();
    w->Erase("user:3");
    w->Put("user:4", "changed");
    w->Commit(6);
  }
  t->Verify();
  t.reset();
  corpus.Add("state_file", "small", Mode(0, true) + TrimZeros(ReadAll(path)));
}

void AddUris(Corpus& corpus) {
  using namespace std::literals;
  // Arguments are separated by NUL bytes.
  const std::string_view command_lines[] = {
      "--log\0mysql://app@db1:3306/flags?table=wc&socket=/run/mysqld.sock&defaults-file=my.cnf\0"
      "get\0key"sv,
      "--state=s.state\0--log=file:///var/lib/log\0scan\0--limit\0"
      "10"sv,
      "mysql://app@db1/flags?table=wc&socket=s.sock"sv,
      "file:relative/dir"sv,
      "file://localhost/abs/dir"sv,
  };
  int n = 0;
  for (std::string_view line : command_lines) corpus.Add("uri", "uri" + std::to_string(n++), line);
}

}  // namespace
}  // namespace whycache::fuzz

int main(int argc, char** argv) {
  using namespace whycache::fuzz;
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s OUT_DIR\n", argv[0]);
    return 2;
  }
  try {
    Corpus corpus(argv[1]);
    AddRecords(corpus);
    AddSegmentPieces(corpus);
    AddFileLogs(corpus, ScratchDir());
    AddSnapshots(corpus, ScratchDir());
    AddStateFiles(corpus, ScratchDir());
    AddUris(corpus);
  } catch (const whycache::Error& e) {
    std::fprintf(stderr, "gen_corpus: %s\n", e.what());
    return 1;
  }
  return 0;
}
