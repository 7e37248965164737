// Decoders of the file log's framing (lib/log/segment_format.h, lib/log/manifest.h): a segment
// header, a frame header and a manifest, each checked against what the writer makes of the
// decoded fields.
//
// Input: a control byte (fuzz_util.h; its mode picks the decoder), then the bytes.
#include <cstdint>
#include <string>

#include "lib/format/byte_reader.h"
#include "lib/format/crc32c.h"
#include "lib/log/manifest.h"
#include "lib/log/segment_format.h"
#include "tests/fuzz/fuzz_util.h"

namespace whycache::fuzz {
namespace {

void FuzzSegmentHeader(std::string bytes, bool fix_checksums) {
  uint64_t number = 1;
  if (fix_checksums && bytes.size() >= log::kSegmentHeaderSize) {
    // Expect the number the header states, so that the check behind the checksum is reached.
    number = format::ByteReader(std::string_view(bytes).substr(12), "segment header")
                 .ReadFixed64("segment number");
    PutFixed32At(bytes, 20, format::Crc32c(std::string_view(bytes).substr(0, 20)));
  }
  log::CheckSegmentHeader(bytes, number, "fuzz segment");
  if (bytes.substr(0, log::kSegmentHeaderSize) != log::EncodeSegmentHeader(number)) {
    Fail("an accepted segment header differs from the one the writer makes");
  }
}

void FuzzFrameHeader(std::string bytes, bool fix_checksums) {
  bytes.resize(log::kFrameHeaderSize, '\0');
  if (fix_checksums) {
    PutFixed32At(bytes, 0, format::Crc32c(std::string_view(bytes).substr(4)));
  }
  log::FrameHeader header;
  std::string error;
  if (log::ParseFrameHeader(bytes, &header, &error) != log::FrameHeaderStatus::kValid) {
    if (error.empty()) Fail("a rejected frame header comes without a reason");
    return;
  }
  if (log::EncodeFrameHeader(header.type, header.update_id, header.body_length) != bytes) {
    Fail("an accepted frame header differs from the one the writer makes");
  }
}

void FuzzManifest(std::string bytes, bool fix_checksums) {
  if (fix_checksums && bytes.size() >= 4) {
    const size_t crc_at = bytes.size() - 4;
    PutFixed32At(bytes, crc_at, format::Crc32c(std::string_view(bytes).substr(0, crc_at)));
  }
  const log::Manifest manifest = log::DecodeManifest(bytes, "fuzz manifest");
  if (log::DecodeManifest(log::EncodeManifest(manifest), "re-encoded manifest") != manifest) {
    Fail("a decoded manifest does not survive re-encoding");
  }
}

}  // namespace
}  // namespace whycache::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace whycache::fuzz;
  return RunControlled(data, size, [](const ControlledInput& in) {
    switch (in.mode & 3) {
      case 0:
        FuzzSegmentHeader(std::string(in.bytes), in.fix_checksums);
        break;
      case 1:
        FuzzFrameHeader(std::string(in.bytes), in.fix_checksums);
        break;
      default:
        FuzzManifest(std::string(in.bytes), in.fix_checksums);
        break;
    }
  });
}
