// The bytes of a file log segment: a header, then frames, each holding one batch record or the
// seal that ends the segment.
//
// Segment file "NNNNNNNNNNNNNNNNNNNN.seg" (the segment number, 20 digits), little-endian:
//   header (24 bytes): "WHYCSEG\0", fixed32 format version, fixed64 segment number,
//                      fixed32 CRC-32C of the preceding 20 bytes
//   frames, back to back:
//     fixed32  CRC-32C of the next 16 bytes (so a damaged length is never trusted)
//     fixed32  body length
//     fixed64  update id (0 for a seal)
//     u8       type: 1 = batch (body: lib/format/batch_record.h), 2 = seal (empty body: the
//              segment is complete; the next segment in the manifest continues the log)
//     u8[3]    zero
//     body
//
// Appenders write a frame with one positioned write, so a writer killed mid-append leaves a
// prefix of its frame at the end of the file: a torn tail, recognisable because the header or
// the body is incomplete.
#ifndef WHYCACHE_LIB_LOG_SEGMENT_FORMAT_H_
#define WHYCACHE_LIB_LOG_SEGMENT_FORMAT_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "whycache/limits.h"

namespace whycache::log {

inline constexpr size_t kSegmentHeaderSize = 24;
inline constexpr size_t kFrameHeaderSize = 20;
// A batch within the limits of whycache/limits.h encodes to less than this.
inline constexpr uint64_t kMaxFrameBody = kMaxBatchBytes + kMaxBatchMutations * 21 + 4096;

enum class FrameType : uint8_t { kBatch = 1, kSeal = 2 };

struct FrameHeader {
  FrameType type = FrameType::kBatch;
  uint32_t body_length = 0;
  uint64_t update_id = 0;
};

// "00000000000000000007.seg" for segment 7.
std::string SegmentFileName(uint64_t number);

std::string EncodeSegmentHeader(uint64_t number);
// Throws Error(kCorruption) naming `path` unless `bytes` is a valid header of segment `number`.
void CheckSegmentHeader(std::string_view bytes, uint64_t number, const std::string& path);

std::string EncodeFrameHeader(FrameType type, uint64_t update_id, uint32_t body_length);

enum class FrameHeaderStatus {
  kValid,
  kAllZero,  // Every byte zero: space a file system allocated but never wrote (machine crash).
  kInvalid,  // Checksum, type, padding or length is wrong.
};
// Parses exactly kFrameHeaderSize bytes. Sets *error to the reason when not kValid.
FrameHeaderStatus ParseFrameHeader(std::string_view bytes, FrameHeader* header, std::string* error);

}  // namespace whycache::log

#endif  // WHYCACHE_LIB_LOG_SEGMENT_FORMAT_H_
