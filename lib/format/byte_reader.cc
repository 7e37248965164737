#include "lib/format/byte_reader.h"

#include "whycache/error.h"

namespace whycache::format {

void ByteReader::Fail(const std::string& detail) const {
  throw Error(Error::Code::kCorruption,
              std::string(source_) + " at offset " + std::to_string(offset()) + ": " + detail);
}

void ByteReader::FailTruncated(size_t n, const char* what) const {
  Fail(std::string("truncated ") + what + " (needs " + std::to_string(n) + " bytes, " +
       std::to_string(remaining()) + " left)");
}

uint64_t ByteReader::ReadVarint64Slow(const char* what) {
  const size_t start = pos_;
  uint64_t v = 0;
  for (int shift = 0; shift < 64; shift += 7) {
    if (pos_ >= data_.size()) {
      pos_ = start;
      Fail(std::string("truncated ") + what);
    }
    const uint8_t byte = static_cast<uint8_t>(data_[pos_++]);
    // The tenth byte may only carry the top bit of a 64-bit value.
    if (shift == 63 && byte > 1) break;
    v |= uint64_t{byte & 0x7Fu} << shift;
    if (byte < 0x80) return v;
  }
  pos_ = start;
  Fail(std::string("malformed varint in ") + what);
}

}  // namespace whycache::format
