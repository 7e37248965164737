#include "lib/log/manifest.h"

#include <cerrno>
#include <unordered_set>

#include "lib/format/byte_reader.h"
#include "lib/format/byte_writer.h"
#include "lib/format/crc32c.h"
#include "lib/io/posix_file.h"
#include "whycache/error.h"

namespace whycache::log {
namespace {

constexpr std::string_view kManifestMagic("WHYCMAN\0", 8);
// Far more segments than a log ever has; bounds what a corrupt count can make us allocate.
constexpr uint64_t kMaxSegments = 1'000'000;
constexpr size_t kMaxManifestBytes = 64 + kMaxSegments * 16;

}  // namespace

std::string EncodeManifest(const Manifest& manifest) {
  std::string out;
  format::ByteWriter w(&out);
  w.PutBytes(kManifestMagic);
  w.PutFixed32(kManifestFormatVersion);
  w.PutFixed64(manifest.generation);
  w.PutFixed64(manifest.horizon);
  w.PutFixed64(manifest.compacted_below);
  w.PutFixed64(manifest.next_segment_number);
  w.PutVarint64(manifest.segments.size());
  for (const SegmentInfo& s : manifest.segments) {
    w.PutFixed64(s.number);
    w.PutFixed64(s.first_id);
  }
  w.PutFixed32(format::Crc32c(out));
  return out;
}

Manifest DecodeManifest(std::string_view bytes, const std::string& path) {
  format::ByteReader in(bytes, path);
  if (bytes.size() < kManifestMagic.size() + 4 ||
      in.ReadBytes(kManifestMagic.size(), "magic") != kManifestMagic) {
    format::ByteReader(bytes, path).Fail("not a whycache log manifest (bad magic)");
  }
  const uint32_t crc_offset = static_cast<uint32_t>(bytes.size() - 4);
  format::ByteReader crc_in(bytes.substr(crc_offset), path, crc_offset);
  if (crc_in.ReadFixed32("checksum") != format::Crc32c(bytes.substr(0, crc_offset))) {
    crc_in.Fail("manifest checksum mismatch");
  }
  format::ByteReader body(bytes.substr(0, crc_offset), path);
  body.ReadBytes(kManifestMagic.size(), "magic");
  const uint32_t version = body.ReadFixed32("format version");
  if (version < kOldestManifestFormatVersion || version > kManifestFormatVersion) {
    body.Fail("manifest format version " + std::to_string(version) + ", this build reads " +
              std::to_string(kOldestManifestFormatVersion) + " to " +
              std::to_string(kManifestFormatVersion));
  }
  Manifest m;
  m.generation = body.ReadFixed64("generation");
  m.horizon = body.ReadFixed64("horizon");
  if (version >= 2) m.compacted_below = body.ReadFixed64("compacted-below id");
  m.next_segment_number = body.ReadFixed64("next segment number");
  const uint64_t count = body.ReadVarintAtMost(kMaxSegments, "segment count");
  if (count == 0) body.Fail("manifest lists no segment");
  m.segments.reserve(count);
  std::unordered_set<uint64_t> numbers;
  for (uint64_t i = 0; i < count; ++i) {
    SegmentInfo s;
    s.number = body.ReadFixed64("segment number");
    s.first_id = body.ReadFixed64("segment first id");
    if (s.number >= m.next_segment_number || s.first_id == 0 ||
        (!m.segments.empty() && s.first_id < m.segments.back().first_id) ||
        !numbers.insert(s.number).second) {
      body.Fail("segment entry " + std::to_string(i) + " (number " + std::to_string(s.number) +
                ", first id " + std::to_string(s.first_id) + ") is out of order or repeated");
    }
    m.segments.push_back(s);
  }
  if (body.remaining() != 0) body.Fail("unexpected bytes after the segment list");
  if (version == 1) m.compacted_below = m.segments.back().first_id;
  return m;
}

Manifest ReadManifest(const std::string& dir) {
  const std::string path = dir + "/" + kManifestFileName;
  if (!io::PathExists(path)) {
    throw Error(Error::Code::kUnavailable, "file log " + dir + " is not initialized (no " +
                                               kManifestFileName +
                                               "): run `whycache --log file:" + dir + " init`");
  }
  return DecodeManifest(io::ReadWholeFile(path, kMaxManifestBytes), path);
}

void WriteManifest(const std::string& dir, const Manifest& manifest) {
  io::WriteFileAtomically(dir, kManifestFileName, EncodeManifest(manifest));
}

}  // namespace whycache::log
