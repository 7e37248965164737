#include "lib/log/file_compaction.h"

#include <fcntl.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <unordered_map>
#include <vector>

#include "lib/format/batch_record.h"
#include "lib/format/erased_prefixes.h"
#include "lib/io/clock.h"
#include "lib/io/crash_point.h"
#include "lib/log/manifest.h"
#include "lib/log/segment_format.h"
#include "whycache/error.h"

namespace whycache::log {
namespace {

// Segments are read and written this much per system call.
constexpr size_t kIoChunk = size_t{1} << 20;
// Progress is reported after about this many bytes.
constexpr uint64_t kProgressStep = uint64_t{4} << 20;

[[noreturn]] void CorruptAt(const std::string& path, uint64_t offset, const std::string& detail) {
  throw Error(Error::Code::kCorruption, path + " at offset " + std::to_string(offset) + ": " +
                                            detail + " (compaction stopped; the log is unchanged)");
}

struct Frame {
  uint64_t offset = 0;
  FrameHeader header;
  std::string_view bytes;  // The whole frame, header included.
};

// The frames of a sealed segment, front to back, read ahead in large chunks.
class SealedSegmentReader {
 public:
  SealedSegmentReader(const std::string& dir, uint64_t number)
      : file_(io::File::Open(dir + "/" + SegmentFileName(number), O_RDONLY)), size_(file_.Size()) {
    std::string header(kSegmentHeaderSize, '\0');
    header.resize(file_.ReadAt(0, header.data(), header.size()));
    CheckSegmentHeader(header, number, file_.path());
  }

  const std::string& path() const { return file_.path(); }

  // Sets *frame to the next batch frame (its bytes valid until the next call) and returns true,
  // or returns false at the seal. Anything else is corruption: the segment is sealed.
  bool Next(Frame* frame) {
    const std::string_view header_bytes = Window(offset_, kFrameHeaderSize);
    if (header_bytes.size() < kFrameHeaderSize) {
      CorruptAt(path(), offset_, "sealed segment ends without its seal");
    }
    std::string error;
    if (ParseFrameHeader(header_bytes, &frame->header, &error) != FrameHeaderStatus::kValid) {
      CorruptAt(path(), offset_, error);
    }
    const uint64_t length = kFrameHeaderSize + frame->header.body_length;
    if (frame->header.type == FrameType::kSeal) {
      if (offset_ + length != size_) CorruptAt(path(), offset_ + length, "data after the seal");
      return false;
    }
    frame->offset = offset_;
    frame->bytes = Window(offset_, length);
    if (frame->bytes.size() < length) CorruptAt(path(), offset_, "segment ends inside a frame");
    offset_ += length;
    return true;
  }

  uint64_t offset() const { return offset_; }

 private:
  // `n` bytes at `offset`, fewer if the file ends first.
  std::string_view Window(uint64_t offset, size_t n) {
    if (offset < buffer_offset_ || offset + n > buffer_offset_ + buffer_.size()) {
      const uint64_t available = size_ > offset ? size_ - offset : 0;
      buffer_.resize(std::min<uint64_t>(available, std::max(n, kIoChunk)));
      buffer_.resize(file_.ReadAt(offset, buffer_.data(), buffer_.size()));
      buffer_offset_ = offset;
    }
    const size_t start = offset - buffer_offset_;
    return std::string_view(buffer_).substr(start, std::min(n, buffer_.size() - start));
  }

  io::File file_;
  uint64_t size_;
  uint64_t offset_ = kSegmentHeaderSize;
  std::string buffer_;
  uint64_t buffer_offset_ = 0;
};

// A new segment file, written front to back and sealed by Finish().
class SegmentWriter {
 public:
  SegmentWriter(const std::string& dir, SegmentInfo info)
      : info_(info),
        file_(
            io::File::Open(dir + "/" + SegmentFileName(info.number), O_WRONLY | O_CREAT | O_TRUNC)),
        buffer_(EncodeSegmentHeader(info.number)) {}

  const SegmentInfo& info() const { return info_; }
  uint64_t size() const { return written_ + buffer_.size(); }

  void Add(std::string_view bytes) {
    buffer_.append(bytes);
    if (buffer_.size() >= kIoChunk) Flush();
  }

  // Appends the seal and makes the file durable.
  void Finish() {
    buffer_.append(EncodeFrameHeader(FrameType::kSeal, 0, 0));
    Flush();
    file_.SyncData();
  }

 private:
  void Flush() {
    const std::string_view pieces[] = {buffer_};
    file_.WriteAt(written_, pieces);
    written_ += buffer_.size();
    buffer_.clear();
  }

  SegmentInfo info_;
  io::File file_;
  std::string buffer_;
  uint64_t written_ = 0;
};

// Which entries below the limit a compaction keeps: learnt in its first pass over them, then
// asked for every entry in both passes, so that what the second pass writes is what the first
// counted. Entries are keyed by what they change: a set or delete by its key, a prefix delete by
// its prefix, apart, since a prefix delete of "a" and a delete of the key "a" do different things.
class Survivors {
 public:
  enum class Fate {
    kKept,
    kSuperseded,  // A newer entry of the range makes it pointless.
    kExpired,     // A tombstone nothing supersedes, written longer ago than the retention.
  };

  // Notes mutation `m` at `at`, `expired` if its update was written before the retention.
  // REQUIRES: calls in increasing order of `at`.
  void Note(Mutation&& m, format::LogPosition at, bool expired) {
    const bool prefix = m.op == Mutation::Op::kErasePrefix;
    if (prefix) erased_.Add(m.key, at);
    (prefix ? prefixes_ : keys_)
        .insert_or_assign(std::move(m.key), Newest{at, expired && m.op != Mutation::Op::kSet});
  }

  // REQUIRES: `m` at `at` was noted.
  Fate Of(const Mutation& m, format::LogPosition at) const {
    const Map& map = m.op == Mutation::Op::kErasePrefix ? prefixes_ : keys_;
    return Decide(m.key, map.at(m.key), at);
  }

  // Calls f(fate, id) for the newest entry of every key and prefix noted: the only ones that
  // can be kept or expire.
  template <typename F>
  void ForEachNewest(F f) const {
    for (const Map* map : {&keys_, &prefixes_}) {
      for (const auto& [key, newest] : *map) f(Decide(key, newest, newest.at), newest.at.id);
    }
  }

 private:
  struct Newest {
    format::LogPosition at;
    bool expired_tombstone = false;
  };
  using Map = std::unordered_map<std::string, Newest>;

  // A set or delete of key K falls to a newer entry of K or a newer prefix delete of a prefix of
  // K; a prefix delete of P to a newer prefix delete of a prefix of P (P included), never to the
  // sets and deletes under P, which it must still undo for machines that applied older history.
  Fate Decide(std::string_view key, const Newest& newest, format::LogPosition at) const {
    if (newest.at != at) return Fate::kSuperseded;
    const std::optional<format::LogPosition> erased = erased_.NewestCovering(key);
    if (erased && *erased > at) return Fate::kSuperseded;
    return newest.expired_tombstone ? Fate::kExpired : Fate::kKept;
  }

  Map keys_;
  Map prefixes_;
  format::ErasedPrefixes erased_;
};

// Takes the next segment number from the manifest, so that no appender creates that segment.
uint64_t ReserveSegmentNumber(const std::string& dir, const io::File& append_lock) {
  io::LockGuard guard(append_lock);
  Manifest m = ReadManifest(dir);
  const uint64_t number = m.next_segment_number++;
  m.generation += 1;
  WriteManifest(dir, m);
  return number;
}

// Removes the segment files `manifest` does not list. Numbers below its next segment number are
// never handed out again, so such a file is garbage: replaced by a compaction, or written by one
// that was interrupted. REQUIRES: the compaction lock is held (no compaction is writing files).
void RemoveUnlistedSegments(const std::string& dir, const Manifest& manifest) {
  std::vector<uint64_t> listed;
  for (const SegmentInfo& s : manifest.segments) listed.push_back(s.number);
  std::sort(listed.begin(), listed.end());
  std::error_code error;
  for (std::filesystem::directory_iterator it(dir, error), last; !error && it != last;
       it.increment(error)) {
    const std::string name = it->path().filename().string();
    uint64_t number = 0;
    const auto [end, ec] = std::from_chars(name.data(), name.data() + name.size(), number);
    if (ec != std::errc() || name != SegmentFileName(number)) continue;
    if (number < manifest.next_segment_number &&
        !std::binary_search(listed.begin(), listed.end(), number)) {
      io::RemoveFile(dir + "/" + name);
    }
  }
  if (error) {
    throw Error(Error::Code::kIOError,
                "cannot list the file log directory " + dir + ": " + error.message());
  }
}

uint64_t SegmentBytes(const std::string& dir, const std::vector<SegmentInfo>& segments) {
  uint64_t bytes = 0;
  for (const SegmentInfo& s : segments) {
    bytes += io::File::Open(dir + "/" + SegmentFileName(s.number), O_RDONLY).Size();
  }
  return bytes;
}

// Reports progress through options.progress at the start, every kProgressStep bytes and at the
// end.
class Progress {
 public:
  Progress(const CompactionOptions& options, uint64_t total) : options_(options), total_(total) {
    if (options_.progress) options_.progress(0, total_);
  }
  void Add(uint64_t bytes) {
    done_ += bytes;
    if (options_.progress && done_ >= reported_ + kProgressStep) {
      reported_ = done_;
      options_.progress(done_, total_);
    }
  }
  void Finish() {
    if (options_.progress) options_.progress(total_, total_);
  }

 private:
  const CompactionOptions& options_;
  const uint64_t total_;
  uint64_t done_ = 0;
  uint64_t reported_ = 0;
};

}  // namespace

CompactionResult CompactSealedSegments(const std::string& dir, const io::File& append_lock,
                                       uint64_t limit, uint64_t segment_bytes,
                                       const CompactionOptions& options) {
  const Manifest before = ReadManifest(dir);
  RemoveUnlistedSegments(dir, before);
  // The prefix of sealed segments holding the ids below the limit (the last one may also hold
  // later ids).
  std::vector<SegmentInfo> range;
  for (size_t i = 0; i + 1 < before.segments.size() && before.segments[i].first_id < limit; ++i) {
    range.push_back(before.segments[i]);
  }
  CompactionResult result;
  result.bytes_before = SegmentBytes(dir, before.segments);
  result.bytes_after = result.bytes_before;
  result.horizon = before.horizon;
  const uint64_t range_bytes = SegmentBytes(dir, range);
  Progress progress(options, 2 * range_bytes);

  // Pass 1: the newest entry of every key below the limit.
  const int64_t expired_before_us =
      io::NowMicros() -
      std::chrono::duration_cast<std::chrono::microseconds>(options.tombstone_retention).count();
  Survivors survivors;
  uint64_t mutations = 0;
  uint64_t last_id = 0;
  for (const SegmentInfo& s : range) {
    SealedSegmentReader reader(dir, s.number);
    uint64_t start = reader.offset();
    for (Frame f; reader.Next(&f);) {
      if (f.header.update_id <= last_id || f.header.update_id < s.first_id) {
        CorruptAt(reader.path(), f.offset,
                  "update id " + std::to_string(f.header.update_id) + " out of order");
      }
      last_id = f.header.update_id;
      Update u = format::DecodeBatchRecord(f.bytes.substr(kFrameHeaderSize), reader.path(),
                                           f.offset + kFrameHeaderSize);
      if (u.id != f.header.update_id) {
        CorruptAt(reader.path(), f.offset,
                  "record of update " + std::to_string(u.id) + " in the frame of update " +
                      std::to_string(f.header.update_id));
      }
      if (u.id < limit) {
        mutations += u.mutations.size();
        const bool expired = u.write_time_us <= expired_before_us;
        for (uint32_t i = 0; i < u.mutations.size(); ++i) {
          survivors.Note(std::move(u.mutations[i]), {u.id, i}, expired);
        }
      }
      progress.Add(reader.offset() - start);
      start = reader.offset();
    }
  }
  // A machine below an expired tombstone's id must resync: it never sees what the tombstone
  // deleted go. One that a newer entry superseded needs no such care: that entry stays, or moves
  // the horizon past both.
  uint64_t dropped_horizon = 0;
  survivors.ForEachNewest([&](Survivors::Fate fate, uint64_t id) {
    if (fate == Survivors::Fate::kKept) ++result.kept;
    if (fate == Survivors::Fate::kExpired) dropped_horizon = std::max(dropped_horizon, id);
  });
  result.removed = mutations - result.kept;
  // Rewriting is worth it to drop entries or to merge segments.
  const uint64_t packed_segments = std::max<uint64_t>(1, range_bytes / segment_bytes + 1);
  if (result.removed == 0 && range.size() <= packed_segments) {
    progress.Finish();
    return result;
  }

  // Pass 2: the surviving mutations, into new segments.
  std::vector<SegmentInfo> written;
  std::optional<SegmentWriter> out;
  uint64_t last_written = 0;
  auto emit = [&](uint64_t id, std::initializer_list<std::string_view> pieces) {
    if (out && out->size() >= segment_bytes) {
      out->Finish();
      written.push_back(out->info());
      out.reset();
    }
    if (!out) {
      const uint64_t first_id = written.empty() ? range.front().first_id : last_written + 1;
      out.emplace(dir, SegmentInfo{ReserveSegmentNumber(dir, append_lock), first_id});
    }
    for (std::string_view p : pieces) out->Add(p);
    last_written = id;
  };
  for (const SegmentInfo& s : range) {
    SealedSegmentReader reader(dir, s.number);
    uint64_t start = reader.offset();
    for (Frame f; reader.Next(&f);) {
      progress.Add(reader.offset() - start);
      start = reader.offset();
      const uint64_t id = f.header.update_id;
      if (id >= limit) {
        emit(id, {f.bytes});
        continue;
      }
      Update u = format::DecodeBatchRecord(f.bytes.substr(kFrameHeaderSize), reader.path(),
                                           f.offset + kFrameHeaderSize);
      std::vector<bool> keep(u.mutations.size());
      size_t kept = 0;
      for (uint32_t i = 0; i < u.mutations.size(); ++i) {
        keep[i] = survivors.Of(u.mutations[i], {id, i}) == Survivors::Fate::kKept;
        kept += keep[i];
      }
      if (kept == u.mutations.size()) {
        emit(id, {f.bytes});
      } else if (kept > 0) {
        std::vector<Mutation> survivors;
        survivors.reserve(kept);
        for (size_t i = 0; i < u.mutations.size(); ++i) {
          if (keep[i]) survivors.push_back(std::move(u.mutations[i]));
        }
        const format::EncodedBatch encoded = format::EncodeBatch(survivors);
        const std::string record_header = format::EncodeRecordHeader(id, u.write_time_us, encoded);
        const std::string frame_header =
            EncodeFrameHeader(FrameType::kBatch, id,
                              static_cast<uint32_t>(record_header.size() + encoded.payload.size()));
        emit(id, {frame_header, record_header, encoded.payload});
      }
    }
  }
  if (out) {
    out->Finish();
    written.push_back(out->info());
  }
  io::SyncDirectory(dir);
  io::CrashPoint("file_compaction.before_manifest");

  Manifest installed;
  {
    io::LockGuard guard(append_lock);
    installed = ReadManifest(dir);
    // Only compactions remove segments, and this one holds the compaction lock.
    if (installed.segments.size() <= range.size() ||
        !std::equal(range.begin(), range.end(), installed.segments.begin())) {
      throw Error(Error::Code::kCorruption,
                  dir + "/" + kManifestFileName +
                      " no longer starts with the segments being compacted: is a compaction "
                      "running without the compaction lock?");
    }
    // The entries rewritten: those below the limit, and none at or after the first id of the
    // segment that follows the range.
    const uint64_t rewritten_below = std::min(limit, installed.segments[range.size()].first_id);
    written.insert(written.end(), installed.segments.begin() + range.size(),
                   installed.segments.end());
    installed.segments = std::move(written);
    installed.horizon = std::max(installed.horizon, dropped_horizon);
    installed.compacted_below = std::max(installed.compacted_below, rewritten_below);
    installed.generation += 1;
    WriteManifest(dir, installed);
  }
  io::CrashPoint("file_compaction.before_remove");
  RemoveUnlistedSegments(dir, installed);
  progress.Finish();
  result.bytes_after = SegmentBytes(dir, installed.segments);
  result.horizon = installed.horizon;
  return result;
}

}  // namespace whycache::log
