#include "lib/snapshot/snapshot_file.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zstd.h>

#include <array>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <exception>
#include <filesystem>
#include <memory>
#include <mutex>
#include <system_error>
#include <thread>

#include "lib/format/byte_reader.h"
#include "lib/format/byte_writer.h"
#include "lib/format/crc32c.h"
#include "lib/io/crash_point.h"
#include "lib/io/posix_file.h"
#include "whycache/error.h"
#include "whycache/limits.h"
#include "whycache/version.h"

namespace whycache::snapshot {
namespace {

constexpr char kMagic[8] = {'W', 'H', 'Y', 'S', 'N', 'A', 'P', '\0'};
constexpr size_t kHeaderCrcOffset = kHeaderBytes - 4;
constexpr size_t kChunkBytes = size_t{1} << 20;
constexpr int kCompressionLevel = 1;  // Snapshots are made often and must be cheap to make.
constexpr int kCompressionWorkers = 1;
constexpr uint64_t kProgressStep = uint64_t{4} << 20;
// Buffers between the decoding thread and the parser. At zstd's suggested 128 KiB, waking the
// other thread for every buffer took about 1% of a restore; at 1 MiB it does not show.
constexpr size_t kDecodeBuffers = 4;
constexpr size_t kDecodeBufferBytes = size_t{1} << 20;

[[noreturn]] void ThrowCorrupt(const std::string& path, const std::string& detail) {
  throw Error(Error::Code::kCorruption,
              "snapshot " + path + " is not usable: " + detail +
                  "; make a new one with `whycache snapshot create` on a healthy machine");
}

std::string EncodeHeader(const SnapshotInfo& info, uint64_t body_bytes, uint32_t body_crc) {
  std::string h;
  format::ByteWriter w(&h);
  w.PutBytes(std::string_view(kMagic, sizeof kMagic));
  w.PutFixed32(kSnapshotFormatVersion);
  w.PutU8(static_cast<uint8_t>(info.dataset_id.size()));
  std::string id = info.dataset_id;
  id.resize(kMaxDatasetIdBytes, '\0');
  w.PutBytes(id);
  w.PutFixed64(info.applied_id);
  w.PutFixed64(info.horizon);
  w.PutFixed64(info.key_count);
  w.PutFixed64(info.raw_bytes);
  w.PutFixed64(body_bytes);
  w.PutFixed32(body_crc);
  h.resize(kHeaderCrcOffset, '\0');
  w.PutFixed32(format::Crc32c(h));
  return h;
}

struct Header {
  SnapshotInfo info;
  uint64_t body_bytes = 0;
  uint32_t body_crc = 0;
};

Header ReadHeader(const io::File& file) {
  const std::string& path = file.path();
  const uint64_t size = file.Size();
  std::string bytes(kHeaderBytes, '\0');
  if (file.ReadAt(0, bytes.data(), kHeaderBytes) < kHeaderBytes) {
    ThrowCorrupt(path,
                 "it is " + std::to_string(size) + " bytes long, shorter than a snapshot header");
  }
  format::ByteReader r(bytes, path);
  if (r.ReadBytes(sizeof kMagic, "magic") != std::string_view(kMagic, sizeof kMagic)) {
    ThrowCorrupt(path, "it does not start with the snapshot magic number");
  }
  Header h;
  h.info.format_version = r.ReadFixed32("format version");
  // The checksum comes first: a damaged version field is damage, and only an intact header of
  // another version is another whycache's snapshot.
  const uint32_t stored_crc =
      format::ByteReader(std::string_view(bytes).substr(kHeaderCrcOffset), path, kHeaderCrcOffset)
          .ReadFixed32("header checksum");
  if (format::Crc32c(std::string_view(bytes).substr(0, kHeaderCrcOffset)) != stored_crc) {
    ThrowCorrupt(path, "its header checksum does not match (damaged header" +
                           (h.info.format_version == kSnapshotFormatVersion
                                ? std::string(")")
                                : ", or a format version " + std::to_string(h.info.format_version) +
                                      " that this whycache does not know)"));
  }
  if (h.info.format_version != kSnapshotFormatVersion) {
    throw Error(Error::Code::kIncompatible, "snapshot " + path + " has format version " +
                                                std::to_string(h.info.format_version) +
                                                "; this whycache reads version " +
                                                std::to_string(kSnapshotFormatVersion) +
                                                ": make the snapshot with a matching whycache");
  }
  const uint8_t id_length = r.ReadU8("dataset id length");
  if (id_length > kMaxDatasetIdBytes) ThrowCorrupt(path, "its dataset id length is invalid");
  h.info.dataset_id =
      std::string(r.ReadBytes(kMaxDatasetIdBytes, "dataset id").substr(0, id_length));
  h.info.applied_id = r.ReadFixed64("applied id");
  h.info.horizon = r.ReadFixed64("horizon");
  h.info.key_count = r.ReadFixed64("key count");
  h.info.raw_bytes = r.ReadFixed64("raw bytes");
  h.body_bytes = r.ReadFixed64("body bytes");
  h.body_crc = r.ReadFixed32("body checksum");
  h.info.file_bytes = size;
  if (h.info.file_bytes != kHeaderBytes + h.body_bytes) {
    ThrowCorrupt(path, "it is " + std::to_string(h.info.file_bytes) +
                           " bytes long but its header "
                           "says " +
                           std::to_string(kHeaderBytes + h.body_bytes) +
                           " (truncated or appended to)");
  }
  return h;
}

// Splits the decompressed stream into entries, carrying partial ones across chunks, and checks
// every entry against the limits and the key order. Entries are parsed where they lie in the
// decoded buffer: only an entry split across two buffers is copied.
class EntryParser {
 public:
  EntryParser(const std::string& path,
              const std::function<void(std::string_view, std::string_view)>& visit)
      : path_(path), visit_(visit) {}

  // REQUIRES: `data` stays valid until the call returns; views of it handed to `visit` do not
  // outlive it.
  void Feed(std::string_view data) {
    if (!pending_.empty()) {
      MoveRestOfCarriedEntry(&data);
      if (Parse(pending_) == 0) return;  // Still incomplete: all of `data` went into it.
      pending_.clear();
    }
    pending_.assign(data.substr(Parse(data)));
  }

  uint64_t count() const { return count_; }
  uint64_t raw_bytes() const { return raw_bytes_; }
  bool empty() const { return pending_.empty(); }
  uint64_t stream_offset() const { return stream_offset_; }

  [[noreturn]] void Fail(uint64_t offset, const std::string& detail) const {
    ThrowCorrupt(path_, "body stream offset " + std::to_string(offset) + ": " + detail);
  }

 private:
  // Where an entry lies in the buffer holding it.
  struct Extent {
    size_t key_at, key_length, value_at, value_length;
  };

  // Locates the entry starting at buf[at] (`buf` begins at stream_offset_). False when `buf`
  // ends before it does, with *need set to a size of `buf` that would locate more of it.
  bool Locate(std::string_view buf, size_t at, Extent* e, size_t* need) const {
    size_t p = at;
    return LocateField(buf, &p, kMaxKeyBytes, "key length", &e->key_at, &e->key_length, need) &&
           LocateField(buf, &p, kMaxValueBytes, "value length", &e->value_at, &e->value_length,
                       need);
  }

  // Locates the length-prefixed field at buf[*p] and moves *p past it; false, with *need set as
  // for Locate, when `buf` ends first.
  bool LocateField(std::string_view buf, size_t* p, uint64_t max, const char* what,
                   size_t* field_at, size_t* length, size_t* need) const {
    uint64_t n;
    // The lengths of small entries take a byte each: decoded here, without the general loop.
    if (*p < buf.size() && static_cast<uint8_t>(buf[*p]) < 0x80 &&
        static_cast<uint8_t>(buf[*p]) <= max) {
      n = static_cast<uint8_t>(buf[(*p)++]);
    } else if (!ReadVarint(buf, *p, &n, max, what)) {
      *need = buf.size() + 1;
      return false;
    }
    *field_at = *p;
    *length = n;
    if (buf.size() - *p < n) {
      *need = *p + n;
      return false;
    }
    *p += n;
    return true;
  }

  // Visits the whole entries at the start of `buf`, which begins at stream_offset_, and returns
  // their bytes.
  size_t Parse(std::string_view buf) {
    const uint64_t count_before = count_;
    size_t pos = 0;
    Extent e;
    size_t need;
    while (Locate(buf, pos, &e, &need)) {
      const std::string_view key = buf.substr(e.key_at, e.key_length);
      const std::string_view value = buf.substr(e.value_at, e.value_length);
      if (count_ > 0 && key <= last_key_) {
        Fail(stream_offset_ + e.key_at, "keys are not in increasing order");
      }
      last_key_ = key;
      if (visit_) visit_(key, value);
      ++count_;
      raw_bytes_ += e.key_length + e.value_length;
      pos = e.value_at + e.value_length;
    }
    // The next buffer replaces this one: the last key is kept for the order check.
    if (count_ > count_before) {
      last_key_copy_.assign(last_key_);
      last_key_ = last_key_copy_;
    }
    stream_offset_ += pos;
    return pos;
  }

  // Moves bytes from the front of *data to the entry carried in pending_, until it is whole or
  // *data is empty: a byte at a time while its lengths are incomplete, then what it lacks.
  void MoveRestOfCarriedEntry(std::string_view* data) {
    Extent e;
    size_t need;
    while (!data->empty() && !Locate(pending_, 0, &e, &need)) {
      const size_t take = std::min(need - pending_.size(), data->size());
      pending_.append(data->substr(0, take));
      data->remove_prefix(take);
    }
  }

  // False when the varint at buf[p] is not complete yet; throws when it is malformed or above
  // `max`. `buf` begins at stream_offset_.
  bool ReadVarint(std::string_view buf, size_t& p, uint64_t* value, uint64_t max,
                  const char* what) const {
    uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (p >= buf.size()) return false;
      const uint8_t byte = static_cast<uint8_t>(buf[p++]);
      v |= uint64_t{byte & 0x7fu} << shift;
      if (byte < 0x80) {
        if (v > max) {
          Fail(stream_offset_ + p, std::string(what) + " " + std::to_string(v) +
                                       " is above the limit of " + std::to_string(max));
        }
        *value = v;
        return true;
      }
    }
    Fail(stream_offset_ + p, std::string("malformed ") + what);
  }

  const std::string& path_;
  const std::function<void(std::string_view, std::string_view)>& visit_;
  std::string pending_;        // The start of an entry the last buffer ended in.
  std::string_view last_key_;  // In the buffer being parsed, or last_key_copy_.
  std::string last_key_copy_;
  uint64_t stream_offset_ = 0;  // Of the first byte not yet parsed (pending_'s first).
  uint64_t count_ = 0;
  uint64_t raw_bytes_ = 0;
};

// Reads body bytes from `off` into `chunk`, up to its size. The file size was checked against
// the header, so reading nothing means the file was truncated since.
size_t ReadBodyChunk(const io::File& file, const Header& h, uint64_t off, std::string& chunk) {
  const size_t n = file.ReadAt(kHeaderBytes + off, chunk.data(),
                               std::min<uint64_t>(chunk.size(), h.body_bytes - off));
  if (n == 0) ThrowCorrupt(file.path(), "the body ends early");
  return n;
}

// Decompresses the body on a thread of its own while the caller parses the previous output:
// restoring is bound by parsing and building the tree, and zstd would otherwise add to that.
// The output goes through a ring of kDecodeBuffers buffers; the one the caller holds stays
// counted in `filled_`, so the thread never writes it.
class BodyDecoder {
 public:
  struct Output {
    std::string bytes = std::string(kDecodeBufferBytes, '\0');
    size_t size = 0;
    uint64_t body_done = 0;  // Compressed bytes consumed to produce it, for progress.
  };

  BodyDecoder(const io::File& file, const Header& h)
      : file_(file), h_(h), thread_([this] { Run(); }) {}

  // Stops and joins the thread, which may still be decoding when the caller stops early.
  ~BodyDecoder() {
    {
      std::lock_guard lock(mu_);
      stopped_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }

  // The next output in stream order, valid until the next call; null at the end of the body.
  // Rethrows the thread's error only once all output made before it was taken, so that errors
  // are reported in stream order.
  const Output* Next() {
    std::unique_lock lock(mu_);
    if (holding_) {
      holding_ = false;
      head_ = (head_ + 1) % kDecodeBuffers;
      --filled_;
      cv_.notify_all();
    }
    cv_.wait(lock, [&] { return filled_ > 0 || finished_; });
    if (filled_ == 0) {
      if (error_) std::rethrow_exception(error_);
      return nullptr;
    }
    holding_ = true;
    return &ring_[head_];
  }

 private:
  void Run() {
    std::exception_ptr error;
    try {
      Decode();
    } catch (...) {
      error = std::current_exception();
    }
    {
      std::lock_guard lock(mu_);
      error_ = error;
      finished_ = true;
    }
    cv_.notify_all();
  }

  void Decode() {
    std::unique_ptr<ZSTD_DCtx, decltype(&ZSTD_freeDCtx)> dctx(ZSTD_createDCtx(), ZSTD_freeDCtx);
    if (!dctx) throw Error(Error::Code::kIOError, "zstd: out of memory");
    std::string chunk(kChunkBytes, '\0');
    size_t last_result = 0;
    for (uint64_t off = 0; off < h_.body_bytes;) {
      const size_t n = ReadBodyChunk(file_, h_, off, chunk);
      ZSTD_inBuffer in{chunk.data(), n, 0};
      while (in.pos < in.size) {
        Output* output = Claim();
        if (output == nullptr) return;
        ZSTD_outBuffer out{output->bytes.data(), output->bytes.size(), 0};
        last_result = ZSTD_decompressStream(dctx.get(), &out, &in);
        if (ZSTD_isError(last_result)) {
          ThrowCorrupt(file_.path(), "body byte " + std::to_string(off + in.pos) + ": " +
                                         ZSTD_getErrorName(last_result));
        }
        if (out.pos > 0) Publish(output, out.pos, off + in.pos);
      }
      off += n;
    }
    // Flush what zstd still holds.
    for (int i = 0; i < 1 << 16 && last_result != 0; ++i) {
      Output* output = Claim();
      if (output == nullptr) return;
      ZSTD_inBuffer in{nullptr, 0, 0};
      ZSTD_outBuffer out{output->bytes.data(), output->bytes.size(), 0};
      last_result = ZSTD_decompressStream(dctx.get(), &out, &in);
      if (ZSTD_isError(last_result) || out.pos == 0) break;
      Publish(output, out.pos, h_.body_bytes);
    }
    if (last_result != 0) {
      ThrowCorrupt(file_.path(), "the compressed body ends in the middle of a frame");
    }
  }

  // Waits for a buffer the caller does not hold; null once the caller has stopped.
  Output* Claim() {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return filled_ < kDecodeBuffers || stopped_; });
    if (stopped_) return nullptr;
    return &ring_[(head_ + filled_) % kDecodeBuffers];
  }

  void Publish(Output* output, size_t size, uint64_t body_done) {
    output->size = size;
    output->body_done = body_done;
    {
      std::lock_guard lock(mu_);
      ++filled_;
    }
    cv_.notify_all();
  }

  const io::File& file_;
  const Header& h_;
  std::array<Output, kDecodeBuffers> ring_;
  std::mutex mu_;
  std::condition_variable cv_;
  size_t head_ = 0;           // Oldest output the caller has not released. Guarded by mu_.
  size_t filled_ = 0;         // Outputs published and not released. Guarded by mu_.
  bool holding_ = false;      // The caller holds ring_[head_]. Caller's thread only.
  bool stopped_ = false;      // Guarded by mu_.
  bool finished_ = false;     // Guarded by mu_.
  std::exception_ptr error_;  // Guarded by mu_.
  std::thread thread_;        // Last: starts once the members it uses are initialized.
};

// Whether `fd` is the file `path` names now.
bool NamesFile(const std::string& path, int fd) {
  struct stat named, open;
  return ::stat(path.c_str(), &named) == 0 && ::fstat(fd, &open) == 0 &&
         named.st_dev == open.st_dev && named.st_ino == open.st_ino;
}

// A writer holds a lock on its temporary file until the file is renamed into place or removed,
// so a temporary file of `path` that nobody holds was left by a writer that died (a crash, a
// kill): removed here, since it can be as large as the snapshot. Nothing is removed that is not
// locked here and still under its name.
void RemoveAbandonedTemps(const std::filesystem::path& path) {
  const std::string prefix = path.filename().string() + ".tmp-";
  std::error_code error;
  for (std::filesystem::directory_iterator it(path.parent_path(), error), end; !error && it != end;
       it.increment(error)) {
    if (!it->path().filename().string().starts_with(prefix)) continue;
    const std::string temp = it->path().string();
    const int fd = io::OpenDescriptor(temp, O_RDONLY);
    if (fd < 0) continue;
    if (::flock(fd, LOCK_EX | LOCK_NB) == 0 && NamesFile(temp, fd)) ::unlink(temp.c_str());
    ::close(fd);
  }
}

// Creates the empty temporary file a snapshot of `path` is written to, locked against removal by
// RemoveAbandonedTemps, after removing those of dead writers.
io::File CreateTemp(const std::string& path, const std::string& temp) {
  std::error_code error;
  const std::filesystem::path absolute = std::filesystem::absolute(path, error);
  if (!error) RemoveAbandonedTemps(absolute);
  // A remover that found the file before it was locked may have taken it away, and a writer of
  // the same name (a pid of another namespace) may hold it: it is emptied only once it is ours
  // and still under its name, else made again. Removers take only files they found when they
  // began, so this ends within a few rounds.
  for (int round = 0;; ++round) {
    io::File file = io::File::Open(temp, O_WRONLY | O_CREAT);
    while (::flock(file.fd(), LOCK_EX) != 0) {
      if (errno != EINTR) {
        throw Error(Error::Code::kIOError, "cannot lock " + temp + ": " + std::strerror(errno));
      }
    }
    if (NamesFile(temp, file.fd())) {
      file.Truncate(0);
      return file;
    }
    if (round == 100) {
      throw Error(Error::Code::kIOError,
                  "snapshot temporary file " + temp + " keeps being removed while it is created");
    }
  }
}

}  // namespace

SnapshotInfo WriteSnapshot(
    const std::string& path, std::string_view dataset_id, uint64_t applied_id, uint64_t horizon,
    uint64_t key_count,
    const std::function<void(const std::function<void(std::string_view, std::string_view)>&)>&
        for_each_entry,
    const ProgressFn& progress) {
  if (dataset_id.size() > kMaxDatasetIdBytes) {
    throw Error(Error::Code::kInvalidArgument, "dataset id longer than 64 bytes");
  }
  const std::string temp = path + ".tmp-" + std::to_string(::getpid());
  const io::File file = CreateTemp(path, temp);
  struct Cleanup {
    const std::string& temp;
    bool keep = false;
    ~Cleanup() {
      if (!keep) ::unlink(temp.c_str());
    }
  } cleanup{temp};

  std::unique_ptr<ZSTD_CCtx, decltype(&ZSTD_freeCCtx)> cctx(ZSTD_createCCtx(), ZSTD_freeCCtx);
  if (!cctx) throw Error(Error::Code::kIOError, "zstd: out of memory");
  ZSTD_CCtx_setParameter(cctx.get(), ZSTD_c_compressionLevel, kCompressionLevel);
  // Compression takes as long as walking the tree: one worker thread overlaps the two. A
  // libzstd built without threads refuses the parameter and compresses on this thread.
  ZSTD_CCtx_setParameter(cctx.get(), ZSTD_c_nbWorkers, kCompressionWorkers);

  SnapshotInfo info;
  info.dataset_id = std::string(dataset_id);
  info.applied_id = applied_id;
  info.horizon = horizon;
  std::string input, output(ZSTD_CStreamOutSize(), '\0');
  // The previous key, for the order check, is read where it was encoded in `input` rather than
  // copied for every entry: only when `input` is compressed and cleared is it kept in
  // `carried` (last_key_at is then npos).
  std::string carried;
  size_t last_key_at = std::string::npos, last_key_size = 0;
  uint64_t body_bytes = 0, next_progress = kProgressStep;
  uint32_t body_crc = 0;

  auto compress = [&](ZSTD_EndDirective mode) {
    ZSTD_inBuffer in{input.data(), input.size(), 0};
    bool finished = false;
    while (!finished) {
      ZSTD_outBuffer out{output.data(), output.size(), 0};
      const size_t remaining = ZSTD_compressStream2(cctx.get(), &out, &in, mode);
      if (ZSTD_isError(remaining)) {
        throw Error(Error::Code::kIOError, std::string("zstd while writing ") + temp + ": " +
                                               ZSTD_getErrorName(remaining));
      }
      const std::string_view piece(output.data(), out.pos);
      file.WriteAt(kHeaderBytes + body_bytes, std::span(&piece, 1));
      body_crc = format::Crc32c(piece, body_crc);
      body_bytes += out.pos;
      finished = mode == ZSTD_e_end ? remaining == 0 : in.pos == in.size;
    }
    if (last_key_at != std::string::npos) {
      carried.assign(input, last_key_at, last_key_size);
      last_key_at = std::string::npos;
    }
    input.clear();
  };

  for_each_entry([&](std::string_view key, std::string_view value) {
    const std::string_view last_key =
        last_key_at == std::string::npos
            ? std::string_view(carried)
            : std::string_view(input.data() + last_key_at, last_key_size);
    if (info.key_count > 0 && key <= last_key) {
      throw Error(Error::Code::kInvalidArgument, "snapshot entries out of key order");
    }
    format::ByteWriter w(&input);
    w.PutVarint64(key.size());
    last_key_at = input.size();
    last_key_size = key.size();
    w.PutBytes(key);
    w.PutVarint64(value.size());
    w.PutBytes(value);
    ++info.key_count;
    info.raw_bytes += key.size() + value.size();
    if (input.size() >= kChunkBytes) compress(ZSTD_e_continue);
    if (progress && info.raw_bytes >= next_progress) {
      progress(info.raw_bytes, info.raw_bytes * key_count / info.key_count);
      next_progress += kProgressStep;
    }
  });
  compress(ZSTD_e_end);
  if (info.key_count != key_count) {
    throw Error(Error::Code::kInvalidArgument, "snapshot of " + std::to_string(key_count) +
                                                   " keys got " + std::to_string(info.key_count) +
                                                   " entries");
  }

  const std::string header = EncodeHeader(info, body_bytes, body_crc);
  const std::string_view header_piece = header;
  file.WriteAt(0, std::span(&header_piece, 1));
  io::CrashPoint("snapshot.before_sync");
  file.SyncData();
  io::CrashPoint("snapshot.before_rename");
  if (::rename(temp.c_str(), path.c_str()) != 0) {
    throw Error(Error::Code::kIOError,
                "cannot rename " + temp + " to " + path + ": " + std::strerror(errno));
  }
  cleanup.keep = true;
  std::error_code error;
  const std::filesystem::path absolute = std::filesystem::absolute(path, error);
  if (error) {
    throw Error(Error::Code::kIOError,
                "cannot resolve the directory of snapshot " + path + ": " + error.message());
  }
  io::SyncDirectory(absolute.parent_path().string());
  info.format_version = kSnapshotFormatVersion;
  info.file_bytes = kHeaderBytes + body_bytes;
  if (progress) progress(info.raw_bytes, info.raw_bytes);
  return info;
}

SnapshotInfo ReadSnapshotHeader(const std::string& path) {
  return ReadHeader(io::File::Open(path, O_RDONLY)).info;
}

SnapshotInfo ReadSnapshot(const std::string& path,
                          const std::function<void(std::string_view, std::string_view)>& visit,
                          const ProgressFn& progress) {
  const io::File file = io::File::Open(path, O_RDONLY);
  const Header h = ReadHeader(file);
  std::string chunk(kChunkBytes, '\0');

  // First the checksum of the whole body, so that nothing is decoded from a damaged file.
  uint32_t crc = 0;
  for (uint64_t off = 0; off < h.body_bytes;) {
    const size_t n = ReadBodyChunk(file, h, off, chunk);
    crc = format::Crc32c(std::string_view(chunk.data(), n), crc);
    off += n;
  }
  if (crc != h.body_crc) ThrowCorrupt(path, "its body checksum does not match (damaged body)");

  EntryParser parser(path, visit);
  uint64_t next_progress = kProgressStep;
  BodyDecoder decoder(file, h);
  while (const BodyDecoder::Output* output = decoder.Next()) {
    parser.Feed(std::string_view(output->bytes.data(), output->size));
    if (parser.raw_bytes() > h.info.raw_bytes || parser.count() > h.info.key_count) {
      parser.Fail(parser.stream_offset(), "more entries than the header says");
    }
    if (progress && output->body_done >= next_progress) {
      progress(output->body_done, h.body_bytes);
      next_progress += kProgressStep;
    }
  }
  if (!parser.empty()) parser.Fail(parser.stream_offset(), "the last entry is incomplete");
  if (parser.count() != h.info.key_count || parser.raw_bytes() != h.info.raw_bytes) {
    ThrowCorrupt(path, "it holds " + std::to_string(parser.count()) + " entries of " +
                           std::to_string(parser.raw_bytes()) + " bytes, but its header says " +
                           std::to_string(h.info.key_count) + " of " +
                           std::to_string(h.info.raw_bytes));
  }
  if (progress) progress(h.body_bytes, h.body_bytes);
  return h.info;
}

}  // namespace whycache::snapshot
