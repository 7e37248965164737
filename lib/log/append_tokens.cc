#include "lib/log/append_tokens.h"

#include <fcntl.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <string_view>
#include <utility>

#include "lib/format/byte_reader.h"
#include "lib/format/byte_writer.h"
#include "lib/format/crc32c.h"
#include "whycache/error.h"

namespace whycache::log {
namespace {

constexpr size_t kRecordBytes = 40;
constexpr size_t kCheckedBytes = 32;
// A file of more records than this is rewritten without the expired ones.
constexpr uint64_t kPruneRecords = 65'536;

struct Record {
  std::string token;
  uint64_t id = 0;
  int64_t write_time_us = 0;
};

std::string EncodeRecord(const AppendToken& token, uint64_t id, int64_t write_time_us) {
  std::string out;
  format::ByteWriter writer(&out);
  writer.PutBytes(token.bytes());
  writer.PutFixed64(id);
  writer.PutFixed64(static_cast<uint64_t>(write_time_us));
  writer.PutFixed32(format::Crc32c(out));
  writer.PutFixed32(0);
  return out;
}

Record DecodeRecord(std::string_view bytes, const std::string& path, uint64_t offset) {
  format::ByteReader reader(bytes, path, offset);
  Record r;
  r.token = std::string(reader.ReadBytes(AppendToken::kBytes, "token"));
  r.id = reader.ReadFixed64("update id");
  r.write_time_us = static_cast<int64_t>(reader.ReadFixed64("write time"));
  const uint32_t crc = reader.ReadFixed32("checksum");
  if (crc != format::Crc32c(bytes.substr(0, kCheckedBytes)) || reader.ReadFixed32("zero") != 0) {
    throw Error(Error::Code::kCorruption, "append token file " + path + ": the record at offset " +
                                              std::to_string(offset) +
                                              " fails its checksum; remove the file to forget "
                                              "every token (a retry may then append again)");
  }
  return r;
}

}  // namespace

AppendTokens::AppendTokens(std::string dir, std::chrono::seconds retention)
    : dir_(std::move(dir)), path_(dir_ + "/" + kTokensFileName), retention_(retention) {}

bool AppendTokens::Open(bool create) {
  struct stat st;
  if (stat(path_.c_str(), &st) != 0) {
    if (errno != ENOENT) {
      throw Error(Error::Code::kIOError, "stat " + path_ + ": " + std::strerror(errno));
    }
    if (!create) {
      file_ = io::File();
      ids_.clear();
      loaded_ = 0;
      return false;
    }
  } else if (file_.is_open() && static_cast<uint64_t>(st.st_ino) == inode_) {
    return true;
  }
  file_ = io::File::Open(path_, O_RDWR | O_CREAT);
  struct stat opened;
  if (fstat(file_.fd(), &opened) != 0) {
    throw Error(Error::Code::kIOError, "fstat " + path_ + ": " + std::strerror(errno));
  }
  inode_ = static_cast<uint64_t>(opened.st_ino);
  ids_.clear();
  loaded_ = 0;
  return true;
}

void AppendTokens::LoadNew() {
  const uint64_t size = file_.Size();
  if (size < loaded_) {
    ids_.clear();
    loaded_ = 0;
  }
  const uint64_t end = size - size % kRecordBytes;
  std::string bytes(end - loaded_, '\0');
  if (file_.ReadAt(loaded_, bytes.data(), bytes.size()) != bytes.size()) {
    throw Error(Error::Code::kIOError, "append token file " + path_ + " shrank while read");
  }
  for (size_t at = 0; at < bytes.size(); at += kRecordBytes) {
    Record r = DecodeRecord(std::string_view(bytes).substr(at, kRecordBytes), path_, loaded_ + at);
    ids_[std::move(r.token)] = r.id;
  }
  loaded_ = end;
}

void AppendTokens::DropAfter(uint64_t last_id) {
  if (!Open(/*create=*/false)) return;
  const uint64_t size = file_.Size();
  // A torn record at the end, records of zeros (space a machine crash left allocated but never
  // written), then the records of frames that never completed. An appender drops them before
  // it adds its own, so there are few.
  uint64_t keep = size - size % kRecordBytes;
  while (keep > 0) {
    char bytes[kRecordBytes];
    if (file_.ReadAt(keep - kRecordBytes, bytes, kRecordBytes) != kRecordBytes) break;
    const std::string_view record(bytes, kRecordBytes);
    if (record.find_first_not_of('\0') != std::string_view::npos &&
        DecodeRecord(record, path_, keep - kRecordBytes).id <= last_id) {
      break;
    }
    keep -= kRecordBytes;
  }
  if (keep == size) return;
  file_.Truncate(keep);
  file_.SyncData();
  ids_.clear();
  loaded_ = 0;
}

std::optional<uint64_t> AppendTokens::Find(const AppendToken& token) {
  if (!Open(/*create=*/false)) return std::nullopt;
  LoadNew();
  auto it = ids_.find(std::string(token.bytes()));
  if (it == ids_.end()) return std::nullopt;
  return it->second;
}

void AppendTokens::Add(const AppendToken& token, uint64_t id, int64_t write_time_us, bool sync) {
  const bool existed = io::PathExists(path_);
  Open(/*create=*/true);
  if (!existed) io::SyncDirectory(dir_);
  LoadNew();
  PruneIfLarge(write_time_us);
  const std::string record = EncodeRecord(token, id, write_time_us);
  const std::string_view pieces[] = {record};
  file_.WriteAt(loaded_, pieces);
  if (sync) file_.SyncData();
  loaded_ += kRecordBytes;
  ids_[std::string(token.bytes())] = id;
}

void AppendTokens::PruneIfLarge(int64_t now_us) {
  if (loaded_ / kRecordBytes <= kPruneRecords) return;
  const int64_t cutoff =
      now_us - std::chrono::duration_cast<std::chrono::microseconds>(retention_).count();
  char first[kRecordBytes];
  if (file_.ReadAt(0, first, kRecordBytes) != kRecordBytes ||
      DecodeRecord(std::string_view(first, kRecordBytes), path_, 0).write_time_us >= cutoff) {
    return;
  }
  std::string bytes(loaded_, '\0');
  if (file_.ReadAt(0, bytes.data(), bytes.size()) != bytes.size()) {
    throw Error(Error::Code::kIOError, "append token file " + path_ + " shrank while read");
  }
  // Records are in id order, so about in time order: the expired ones are a prefix.
  size_t first_kept = 0;
  while (first_kept < bytes.size() &&
         DecodeRecord(std::string_view(bytes).substr(first_kept, kRecordBytes), path_, first_kept)
                 .write_time_us < cutoff) {
    first_kept += kRecordBytes;
  }
  if (first_kept == 0) return;
  io::WriteFileAtomically(dir_, kTokensFileName, std::string_view(bytes).substr(first_kept));
  Open(/*create=*/true);
  LoadNew();
}

}  // namespace whycache::log
