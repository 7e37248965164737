#include "lib/log/file_log.h"

#include <fcntl.h>

#include <algorithm>
#include <filesystem>
#include <optional>
#include <system_error>

#include "lib/format/batch_record.h"
#include "lib/io/clock.h"
#include "lib/io/crash_point.h"
#include "lib/log/dataset_id.h"
#include "lib/log/file_compaction.h"
#include "lib/log/manifest.h"
#include "lib/log/segment_format.h"
#include "whycache/error.h"

namespace whycache::log {
namespace {

constexpr const char* kLockFileName = "LOCK";
constexpr const char* kCompactionLockFileName = "COMPACTION_LOCK";
// How many times a reader looks a segment up again in a newer manifest because a compaction
// removed it after the reader read the manifest; each retry needs another manifest write meanwhile.
constexpr int kMaxManifestAttempts = 100;
constexpr const char* kDatasetFileName = "DATASET";
constexpr size_t kMaxDatasetIdBytes = 64;
// Reads ahead this much of a segment per system call.
constexpr size_t kReadChunk = size_t{1} << 20;
// ReadAfter stops adding updates once their records hold this many bytes. Small enough that the
// decoded updates of one call fit in memory the allocator reuses from the previous call (larger
// calls spent much of their time faulting in fresh pages), large enough to amortize the call.
constexpr size_t kMaxReadBytes = size_t{4} << 20;

[[noreturn]] void CorruptAt(const std::string& path, uint64_t offset, const std::string& detail) {
  throw Error(Error::Code::kCorruption,
              path + " at offset " + std::to_string(offset) + ": " + detail +
                  " (the file log is damaged here; nothing after it is read)");
}

// True if every byte of `file` from `offset` to `size` is zero.
bool AllZeroFrom(const File& file, uint64_t offset, uint64_t size) {
  std::string buf;
  while (offset < size) {
    buf.resize(std::min<uint64_t>(kReadChunk, size - offset));
    const size_t got = file.ReadAt(offset, buf.data(), buf.size());
    if (got == 0) break;
    if (std::string_view(buf.data(), got).find_first_not_of('\0') != std::string_view::npos) {
      return false;
    }
    offset += got;
  }
  return true;
}

// Reads the manifest of `dir` and returns open(manifest), which opens segments it lists. If a
// segment is gone when open() gets to it, a compaction removed it after the manifest was read:
// open() runs again with the newer manifest.
template <typename Open>
auto WithManifest(const std::string& dir, Open open) {
  for (int attempt = 1;; ++attempt) {
    const Manifest m = ReadManifest(dir);
    try {
      return open(m);
    } catch (const Error& e) {
      if (e.code() != Error::Code::kIOError || attempt == kMaxManifestAttempts ||
          ReadManifest(dir).generation == m.generation) {
        throw;
      }
    }
  }
}

}  // namespace

FileLogOptions FileLogOptions::From(const LogOptions& options) {
  FileLogOptions o;
  o.create_if_missing = options.create_if_missing;
  o.fsync = options.fsync;
  return o;
}

FileLog::FileLog(std::string dir, FileLogOptions options)
    : dir_(std::move(dir)), options_(std::move(options)), tokens_(dir_, options_.token_retention) {}

std::unique_ptr<FileLog> FileLog::Open(const std::string& dir, FileLogOptions options) {
  if (dir.empty()) throw Error(Error::Code::kInvalidArgument, "file log directory is empty");
  std::error_code error;
  std::string abs = std::filesystem::absolute(dir, error).lexically_normal().string();
  if (error) {
    throw Error(Error::Code::kIOError,
                "cannot resolve the file log directory " + dir + ": " + error.message());
  }
  while (abs.size() > 1 && abs.back() == '/') abs.pop_back();
  if (options.create_if_missing) {
    if (!PathExists(std::filesystem::path(abs).parent_path().string())) {
      throw Error(Error::Code::kUnavailable,
                  "cannot create file log " + abs + ": its parent directory does not exist");
    }
    CreateDirectory(abs);
    Initialize(abs);
  } else if (!PathExists(abs)) {
    throw Error(Error::Code::kUnavailable, "file log " + abs +
                                               " does not exist: run `whycache --log file:" + abs +
                                               " init` to create it");
  }
  ReadManifest(abs);
  return std::unique_ptr<FileLog>(new FileLog(std::move(abs), std::move(options)));
}

void FileLog::Initialize(const std::string& dir) {
  const File lock = File::Open(dir + "/" + kLockFileName, O_RDWR | O_CREAT);
  LockGuard guard(lock);
  if (PathExists(dir + "/" + kManifestFileName)) return;
  // Before the manifest: a log is initialized once its manifest exists.
  WriteFileAtomically(dir, kDatasetFileName, NewDatasetId());
  CreateSegment(dir, 1);
  Manifest m;
  m.generation = 1;
  m.horizon = 0;
  m.next_segment_number = 2;
  m.segments.push_back({.number = 1, .first_id = 1});
  WriteManifest(dir, m);
}

void FileLog::CreateSegment(const std::string& dir, uint64_t number) {
  WriteFileAtomically(dir, SegmentFileName(number), EncodeSegmentHeader(number));
}

void FileLog::OpenSegment(const Manifest& manifest, size_t index, Cursor& cursor) const {
  const SegmentInfo& info = manifest.segments[index];
  const std::string path = dir_ + "/" + SegmentFileName(info.number);
  File file = File::Open(path, O_RDONLY);
  std::string header(kSegmentHeaderSize, '\0');
  header.resize(file.ReadAt(0, header.data(), header.size()));
  CheckSegmentHeader(header, info.number, path);
  cursor.segment = info.number;
  cursor.file = std::move(file);
  cursor.offset = kSegmentHeaderSize;
  cursor.last_id = info.first_id - 1;
  cursor.has_successor = index + 1 < manifest.segments.size();
}

FileLog::Move FileLog::MoveToSuccessor(Cursor& cursor) const {
  return WithManifest(dir_, [&](const Manifest& m) {
    for (size_t i = 0; i < m.segments.size(); ++i) {
      if (m.segments[i].number != cursor.segment) continue;
      if (i + 1 == m.segments.size()) return Move::kNone;
      const uint64_t last_id = cursor.last_id;
      OpenSegment(m, i + 1, cursor);
      if (cursor.last_id < last_id) {
        CorruptAt(cursor.file.path(), 0,
                  "segment starts at update " + std::to_string(cursor.last_id + 1) +
                      " but its predecessor holds update " + std::to_string(last_id));
      }
      return Move::kMoved;
    }
    Relocate(m, cursor);
    return cursor.last_id < m.horizon ? Move::kMovedBelowHorizon : Move::kMoved;
  });
}

void FileLog::Relocate(const Manifest& manifest, Cursor& cursor) const {
  const uint64_t last_id = cursor.last_id;
  size_t index = 0;
  while (index + 1 < manifest.segments.size() &&
         manifest.segments[index + 1].first_id <= last_id + 1) {
    ++index;
  }
  OpenSegment(manifest, index, cursor);
  if (cursor.last_id >= last_id) return;
  // Skip the complete, valid frames up to last_id; whatever stops the skip (a later update, the
  // seal, the end, damage) is the business of the caller's next read.
  const uint64_t size = cursor.file.Size();
  // Each iteration passes a frame: the file's size bounds the count.
  while (cursor.offset + kFrameHeaderSize <= size) {
    char bytes[kFrameHeaderSize];
    if (cursor.file.ReadAt(cursor.offset, bytes, sizeof(bytes)) < sizeof(bytes)) break;
    FrameHeader header;
    std::string error;
    if (ParseFrameHeader(std::string_view(bytes, sizeof(bytes)), &header, &error) !=
            FrameHeaderStatus::kValid ||
        header.type != FrameType::kBatch || header.update_id > last_id) {
      break;
    }
    const uint64_t end = cursor.offset + kFrameHeaderSize + header.body_length;
    if (end > size) break;
    cursor.offset = end;
  }
  cursor.last_id = last_id;
}

FileLog::ScanEnd FileLog::ScanHeaders(Cursor& cursor, bool truncate_torn) const {
  const File& file = cursor.file;
  const uint64_t size = file.Size();
  // A segment the manifest lists a successor for ends with a seal: appending to it, or cutting
  // it, would fork the log.
  auto end_of_data = [&] {
    if (cursor.has_successor) {
      CorruptAt(file.path(), cursor.offset,
                "segment ends without its seal but a later one follows");
    }
    return ScanEnd::kEndOfData;
  };
  // Each iteration consumes one frame, so the loop ends within size / kFrameHeaderSize steps.
  while (cursor.offset < size) {
    auto torn = [&] {
      end_of_data();
      if (truncate_torn) {
        // Cursors hold segments read-only (readers may lack write permission).
        const File rw = File::Open(file.path(), O_WRONLY);
        rw.Truncate(cursor.offset);
        rw.SyncData();
      }
      return ScanEnd::kEndOfData;
    };
    char bytes[kFrameHeaderSize];
    const size_t got = file.ReadAt(cursor.offset, bytes, sizeof(bytes));
    if (got < kFrameHeaderSize) return torn();
    FrameHeader header;
    std::string error;
    switch (ParseFrameHeader(std::string_view(bytes, got), &header, &error)) {
      case FrameHeaderStatus::kValid:
        break;
      case FrameHeaderStatus::kAllZero:
        if (AllZeroFrom(file, cursor.offset, size)) return torn();
        CorruptAt(file.path(), cursor.offset, error);
      case FrameHeaderStatus::kInvalid:
        CorruptAt(file.path(), cursor.offset, error);
    }
    const uint64_t end = cursor.offset + kFrameHeaderSize + header.body_length;
    if (end > size) return torn();
    if (header.type == FrameType::kSeal) {
      if (end != size) CorruptAt(file.path(), end, "data after the segment's seal");
      // The cursor stays at the seal. When the segment has no successor yet, the next scan must
      // find the seal again: past it, it would look like the end of an active segment, and an
      // append there would land behind the seal, where no reader looks.
      return ScanEnd::kSealed;
    }
    if (header.update_id <= cursor.last_id) {
      CorruptAt(file.path(), cursor.offset,
                "update id " + std::to_string(header.update_id) + " follows update id " +
                    std::to_string(cursor.last_id));
    }
    cursor.offset = end;
    cursor.last_id = header.update_id;
  }
  return end_of_data();
}

void FileLog::SyncTailLocked() {
  // The manifest changes rarely (rollover); one stat per append notices when it did, so that an
  // appender whose segment has since been sealed knows the seal must be there.
  const FileStamp stamp = StampOf(dir_ + "/" + kManifestFileName);
  if (!tail_.file.is_open() || stamp != tail_manifest_stamp_) {
    const Manifest m = ReadManifest(dir_);
    tail_manifest_stamp_ = stamp;
    size_t index = m.segments.size() - 1;
    if (tail_.file.is_open()) {
      while (index > 0 && m.segments[index].number != tail_.segment) --index;
      if (m.segments[index].number == tail_.segment) {
        tail_.has_successor = index + 1 < m.segments.size();
      } else {
        // A compaction removed it. The lock keeps the segments of `m` from being removed.
        Relocate(m, tail_);
      }
    } else {
      OpenSegment(m, index, tail_);
    }
  }
  // Each round moves to a later segment; a log has far fewer than this many.
  for (int round = 0; round < 1'000'000; ++round) {
    if (ScanHeaders(tail_, /*truncate_torn=*/true) == ScanEnd::kEndOfData) return;
    if (MoveToSuccessor(tail_) == Move::kNone) {
      // An appender died between sealing the segment and publishing its successor.
      RollOverLocked(/*already_sealed=*/true);
      return;
    }
  }
  throw Error(Error::Code::kCorruption, "file log " + dir_ + " has too many segments to scan");
}

void FileLog::RollOverLocked(bool already_sealed) {
  if (!already_sealed) {
    const File& rw = AppendFile();
    const std::string seal = EncodeFrameHeader(FrameType::kSeal, 0, 0);
    const std::string_view pieces[] = {seal};
    rw.WriteAt(tail_.offset, pieces);
    rw.SyncData();
    tail_.offset += seal.size();
  }
  io::CrashPoint("file_log.rollover.after_seal");
  Manifest m = ReadManifest(dir_);
  if (m.segments.back().number != tail_.segment) {
    throw Error(Error::Code::kCorruption, dir_ + "/" + kManifestFileName +
                                              " does not end with the sealed segment " +
                                              SegmentFileName(tail_.segment));
  }
  const uint64_t number = m.next_segment_number;
  CreateSegment(dir_, number);
  io::CrashPoint("file_log.rollover.before_manifest");
  m.segments.push_back({.number = number, .first_id = tail_.last_id + 1});
  m.next_segment_number = number + 1;
  m.generation += 1;
  WriteManifest(dir_, m);
  const uint64_t last_id = tail_.last_id;
  OpenSegment(m, m.segments.size() - 1, tail_);
  tail_.last_id = last_id;
}

const File& FileLog::AppendLock() {
  if (!lock_file_.is_open()) lock_file_ = File::Open(dir_ + "/" + kLockFileName, O_RDWR | O_CREAT);
  return lock_file_;
}

const File& FileLog::AppendFile() {
  if (append_segment_ != tail_.segment || !append_file_.is_open()) {
    append_file_ = File::Open(tail_.file.path(), O_WRONLY);
    append_segment_ = tail_.segment;
  }
  return append_file_;
}

uint64_t FileLog::Append(std::span<const Mutation> batch) {
  return AppendWithToken(batch, nullptr);
}

uint64_t FileLog::Append(std::span<const Mutation> batch, const AppendToken& token) {
  return AppendWithToken(batch, &token);
}

uint64_t FileLog::AppendWithToken(std::span<const Mutation> batch, const AppendToken* token) {
  // Validate and compress before taking the lock: other appenders wait while it is held.
  const format::EncodedBatch encoded = format::EncodeBatch(batch);
  LockGuard guard(AppendLock());
  SyncTailLocked();
  // Every appender, with a token or not, is about to take the id after tail_.last_id: a record
  // left with that id by an append that died before its frame must go first.
  tokens_.DropAfter(tail_.last_id);
  const bool sync = options_.fsync == FsyncPolicy::kEveryAppend;
  if (token != nullptr) {
    if (std::optional<uint64_t> id = tokens_.Find(*token)) {
      // The earlier attempt may have failed in its sync. Sealed segments were synced when
      // sealed; the active one is synced here.
      if (sync) AppendFile().SyncData();
      return *id;
    }
  }
  if (tail_.offset >= options_.segment_bytes) RollOverLocked(/*already_sealed=*/false);

  const uint64_t id = tail_.last_id + 1;
  const int64_t write_time_us = io::NowMicros();
  const std::string record_header = format::EncodeRecordHeader(id, write_time_us, encoded);
  const uint64_t body_length = record_header.size() + encoded.payload.size();
  const std::string frame_header =
      EncodeFrameHeader(FrameType::kBatch, id, static_cast<uint32_t>(body_length));
  // Before the frame: a frame on disk always has its token on disk.
  if (token != nullptr) tokens_.Add(*token, id, write_time_us, sync);
  if (options_.before_commit) options_.before_commit();
  io::CrashPoint("file_log.append.before_write");

  const File& rw = AppendFile();
  const std::string_view pieces[] = {frame_header, record_header, encoded.payload};
  try {
    rw.WriteAt(tail_.offset, pieces);
  } catch (const Error&) {
    // Nobody can have read an incomplete frame: remove it so the segment stays clean.
    rw.Truncate(tail_.offset);
    throw;
  }
  // Once the frame is complete readers may have applied it, so it stays even if the sync fails;
  // a retry with the same token finds it.
  tail_.offset += kFrameHeaderSize + body_length;
  tail_.last_id = id;
  if (options_.after_write) options_.after_write();
  io::CrashPoint("file_log.append.before_sync");
  if (sync) rw.SyncData();
  return id;
}

uint64_t FileLog::HeadId() {
  if (!tail_.file.is_open()) {
    WithManifest(dir_, [&](const Manifest& m) { OpenSegment(m, m.segments.size() - 1, tail_); });
  }
  for (int round = 0; round < 1'000'000; ++round) {
    if (ScanHeaders(tail_, /*truncate_torn=*/false) == ScanEnd::kEndOfData) break;
    if (MoveToSuccessor(tail_) == Move::kNone) break;
  }
  return tail_.last_id;
}

uint64_t FileLog::Horizon() { return ReadManifest(dir_).horizon; }

uint64_t FileLog::CompactedBelow() { return ReadManifest(dir_).compacted_below; }

std::string FileLog::DatasetId() {
  if (dataset_id_.empty()) {
    dataset_id_ = ReadWholeFile(dir_ + "/" + kDatasetFileName, kMaxDatasetIdBytes);
    if (dataset_id_.empty()) {
      throw Error(Error::Code::kCorruption,
                  "file log " + dir_ + " has an empty " + kDatasetFileName + " file");
    }
  }
  return dataset_id_;
}

std::string FileLog::Describe() const { return "file:" + dir_; }

CompactionResult FileLog::Compact(const CompactionOptions& options) {
  const File compaction_lock = File::Open(dir_ + "/" + kCompactionLockFileName, O_RDWR | O_CREAT);
  LockGuard compacting(compaction_lock);
  uint64_t limit = 0;
  {
    LockGuard guard(AppendLock());
    SyncTailLocked();
    const uint64_t head = tail_.last_id;
    limit = options.before_id == 0 ? head + 1 : std::min(options.before_id, head + 1);
    // Compaction rewrites only sealed segments: seal the active one if it holds history below
    // the limit. Its successor starts at head + 1, so the head id survives whatever is dropped.
    const Manifest m = ReadManifest(dir_);
    if (tail_.offset > kSegmentHeaderSize && m.segments.back().first_id < limit) {
      RollOverLocked(/*already_sealed=*/false);
    }
  }
  return CompactSealedSegments(dir_, AppendLock(), limit, options_.segment_bytes, options);
}

void FileLog::PositionReader(uint64_t after_id) {
  WithManifest(dir_, [&](const Manifest& m) {
    size_t index = 0;
    while (index + 1 < m.segments.size() && m.segments[index + 1].first_id <= after_id + 1) {
      ++index;
    }
    OpenSegment(m, index, reader_);
  });
  read_buffer_.clear();
}

std::string_view FileLog::ReadWindow(uint64_t offset, size_t n, uint64_t size) {
  if (offset >= read_buffer_offset_ && offset + n <= read_buffer_offset_ + read_buffer_.size()) {
    return std::string_view(read_buffer_).substr(offset - read_buffer_offset_, n);
  }
  const uint64_t available = size > offset ? size - offset : 0;
  const size_t want = static_cast<size_t>(std::min<uint64_t>(
      available, std::max<uint64_t>(n, std::min<uint64_t>(kReadChunk, available))));
  read_buffer_.resize(want);
  read_buffer_.resize(reader_.file.ReadAt(offset, read_buffer_.data(), want));
  read_buffer_offset_ = offset;
  return std::string_view(read_buffer_).substr(0, std::min(n, read_buffer_.size()));
}

std::vector<Update> FileLog::ReadAfter(uint64_t after_id, size_t max_updates) {
  std::vector<Update> out;
  if (max_updates == 0) return out;
  // A read from 0 starts a replay, which the caller checks against the horizon it read just
  // before: the cursor must come from a manifest at least that new. A cursor left at 0 by an
  // earlier read of an empty log may sit in a segment a compaction has since replaced, and
  // reading on there, then in the replacement, would mix the old history with the new.
  if (!reader_.file.is_open() || after_id == 0 || after_id < reader_.last_id) {
    PositionReader(after_id);
  }
  // Bytes read ahead may belong to a torn tail that an appender has since replaced: start
  // every call from the file.
  read_buffer_.clear();
  uint64_t size = reader_.file.Size();
  size_t bytes = 0;
  // A frame that fails validation at the end of the active segment is re-read once: it may be
  // a torn tail that an appender truncated and overwrote while this reader was reading it.
  bool retried = false;
  auto retry = [&] {
    if (reader_.has_successor || retried) return false;
    retried = true;
    read_buffer_.clear();
    size = reader_.file.Size();
    return true;
  };
  try {
    // Each iteration consumes a frame, moves to the next segment or returns; the bytes of the
    // log bound the count.
    while (out.size() < max_updates && bytes < kMaxReadBytes) {
      const uint64_t offset = reader_.offset;
      const std::string& path = reader_.file.path();
      if (offset >= size) {
        if (reader_.has_successor) CorruptAt(path, offset, "segment ends without its seal");
        break;
      }
      const std::string_view header_bytes = ReadWindow(offset, kFrameHeaderSize, size);
      if (header_bytes.size() < kFrameHeaderSize) {
        if (reader_.has_successor) CorruptAt(path, offset, "segment ends inside a frame header");
        break;
      }
      FrameHeader header;
      std::string error;
      const FrameHeaderStatus status = ParseFrameHeader(header_bytes, &header, &error);
      if (status == FrameHeaderStatus::kAllZero && !reader_.has_successor &&
          AllZeroFrom(reader_.file, offset, size)) {
        break;
      }
      if (status != FrameHeaderStatus::kValid) {
        if (retry()) continue;
        CorruptAt(path, offset, error);
      }
      const uint64_t end = offset + kFrameHeaderSize + header.body_length;
      if (end > size) {
        if (reader_.has_successor) CorruptAt(path, offset, "segment ends inside a frame body");
        break;
      }
      if (header.type == FrameType::kSeal) {
        const Move move = MoveToSuccessor(reader_);
        if (move == Move::kNone) break;
        read_buffer_.clear();
        size = reader_.file.Size();
        retried = false;
        // Updates read before the compaction, followed by compacted ones that may lack deletes
        // they need, would be applied as one: return the former alone. The caller then finds its
        // position below the horizon.
        if (move == Move::kMovedBelowHorizon && !out.empty()) break;
        continue;
      }
      if (header.update_id <= reader_.last_id) {
        if (retry()) continue;
        CorruptAt(path, offset,
                  "update id " + std::to_string(header.update_id) + " follows update id " +
                      std::to_string(reader_.last_id));
      }
      if (header.update_id > after_id) {
        const std::string_view body =
            ReadWindow(offset + kFrameHeaderSize, header.body_length, size);
        Update update;
        try {
          update = format::DecodeBatchRecord(body, path, offset + kFrameHeaderSize);
        } catch (const Error&) {
          if (retry()) continue;
          throw;
        }
        if (update.id != header.update_id) {
          if (retry()) continue;
          CorruptAt(path, offset,
                    "record of update " + std::to_string(update.id) + " in the frame of update " +
                        std::to_string(header.update_id));
        }
        out.push_back(std::move(update));
        bytes += header.body_length;
      }
      reader_.offset = end;
      reader_.last_id = header.update_id;
      retried = false;
    }
    // A large frame grew the buffer; do not hold on to that memory between polls.
    if (read_buffer_.capacity() > 2 * kReadChunk) std::string().swap(read_buffer_);
  } catch (const Error& e) {
    // Return what was read before the damage; the next call starts at the damaged frame and
    // throws, so the caller stops exactly there.
    if (e.code() == Error::Code::kCorruption && !out.empty()) return out;
    throw;
  }
  return out;
}

}  // namespace whycache::log
