#include "lib/log/segment_format.h"

#include <cstdio>

#include "lib/format/byte_reader.h"
#include "lib/format/byte_writer.h"
#include "lib/format/crc32c.h"
#include "whycache/error.h"
#include "whycache/version.h"

namespace whycache::log {
namespace {

constexpr std::string_view kSegmentMagic("WHYCSEG\0", 8);

}  // namespace

std::string SegmentFileName(uint64_t number) {
  char name[32];
  std::snprintf(name, sizeof(name), "%020llu.seg", static_cast<unsigned long long>(number));
  return name;
}

std::string EncodeSegmentHeader(uint64_t number) {
  std::string out;
  format::ByteWriter w(&out);
  w.PutBytes(kSegmentMagic);
  w.PutFixed32(kLogSegmentFormatVersion);
  w.PutFixed64(number);
  w.PutFixed32(format::Crc32c(out));
  return out;
}

void CheckSegmentHeader(std::string_view bytes, uint64_t number, const std::string& path) {
  format::ByteReader in(bytes, path);
  if (bytes.size() < kSegmentHeaderSize) {
    in.Fail("segment header is truncated (" + std::to_string(bytes.size()) + " of " +
            std::to_string(kSegmentHeaderSize) + " bytes)");
  }
  if (in.ReadBytes(kSegmentMagic.size(), "magic") != kSegmentMagic) {
    format::ByteReader(bytes, path).Fail("not a whycache log segment (bad magic)");
  }
  const uint32_t version = in.ReadFixed32("format version");
  const uint64_t stored_number = in.ReadFixed64("segment number");
  const uint32_t crc = in.ReadFixed32("header checksum");
  if (crc != format::Crc32c(bytes.substr(0, kSegmentHeaderSize - 4))) {
    format::ByteReader(bytes, path).Fail("segment header checksum mismatch");
  }
  if (version != kLogSegmentFormatVersion) {
    format::ByteReader(bytes, path)
        .Fail("segment format version " + std::to_string(version) + ", this build reads " +
              std::to_string(kLogSegmentFormatVersion));
  }
  if (stored_number != number) {
    format::ByteReader(bytes, path)
        .Fail("header says segment " + std::to_string(stored_number) + ", expected " +
              std::to_string(number));
  }
}

std::string EncodeFrameHeader(FrameType type, uint64_t update_id, uint32_t body_length) {
  std::string checked;
  format::ByteWriter w(&checked);
  w.PutFixed32(body_length);
  w.PutFixed64(update_id);
  w.PutU8(static_cast<uint8_t>(type));
  w.PutBytes(std::string_view("\0\0\0", 3));
  std::string out;
  format::ByteWriter(&out).PutFixed32(format::Crc32c(checked));
  return out + checked;
}

FrameHeaderStatus ParseFrameHeader(std::string_view bytes, FrameHeader* header,
                                   std::string* error) {
  if (bytes.find_first_not_of('\0') == std::string_view::npos) {
    *error = "frame header is all zero bytes";
    return FrameHeaderStatus::kAllZero;
  }
  format::ByteReader in(bytes, "frame header");
  const uint32_t crc = in.ReadFixed32("checksum");
  if (crc != format::Crc32c(bytes.substr(4, kFrameHeaderSize - 4))) {
    *error = "frame header checksum mismatch";
    return FrameHeaderStatus::kInvalid;
  }
  header->body_length = in.ReadFixed32("body length");
  header->update_id = in.ReadFixed64("update id");
  const uint8_t type = in.ReadU8("type");
  if (in.ReadBytes(3, "padding") != std::string_view("\0\0\0", 3)) {
    *error = "frame header padding is not zero";
    return FrameHeaderStatus::kInvalid;
  }
  if (type == static_cast<uint8_t>(FrameType::kBatch)) {
    header->type = FrameType::kBatch;
    if (header->update_id == 0 || header->body_length == 0 || header->body_length > kMaxFrameBody) {
      *error = "batch frame with update id " + std::to_string(header->update_id) +
               " and body length " + std::to_string(header->body_length);
      return FrameHeaderStatus::kInvalid;
    }
  } else if (type == static_cast<uint8_t>(FrameType::kSeal)) {
    header->type = FrameType::kSeal;
    if (header->body_length != 0 || header->update_id != 0) {
      *error = "seal frame with a body or an update id";
      return FrameHeaderStatus::kInvalid;
    }
  } else {
    *error = "unknown frame type " + std::to_string(type);
    return FrameHeaderStatus::kInvalid;
  }
  return FrameHeaderStatus::kValid;
}

}  // namespace whycache::log
