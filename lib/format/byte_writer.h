// Encoding of little-endian integers, varints and byte strings: the counterpart of ByteReader.
#ifndef WHYCACHE_LIB_FORMAT_BYTE_WRITER_H_
#define WHYCACHE_LIB_FORMAT_BYTE_WRITER_H_

#include <bit>
#include <cstdint>
#include <string>
#include <string_view>

namespace whycache::format {

// Appends fields to a string it does not own.
// REQUIRES: `out` outlives the writer. Not thread-safe.
class ByteWriter {
 public:
  explicit ByteWriter(std::string* out) : out_(out) {}

  void PutU8(uint8_t v) { out_->push_back(static_cast<char>(v)); }
  void PutFixed32(uint32_t v) {
    for (int i = 0; i < 4; ++i) out_->push_back(static_cast<char>((v >> (8 * i)) & 0xFF));
  }
  void PutFixed64(uint64_t v) {
    for (int i = 0; i < 8; ++i) out_->push_back(static_cast<char>((v >> (8 * i)) & 0xFF));
  }
  // LEB128: 7 bits per byte, low bits first, at most 10 bytes.
  void PutVarint64(uint64_t v) {
    while (v >= 0x80) {
      out_->push_back(static_cast<char>(v | 0x80));
      v >>= 7;
    }
    out_->push_back(static_cast<char>(v));
  }
  void PutBytes(std::string_view bytes) { out_->append(bytes); }

  // The number of bytes PutVarint64(v) writes.
  static size_t VarintLength(uint64_t v) { return v == 0 ? 1 : (std::bit_width(v) + 6) / 7; }

 private:
  std::string* out_;
};

}  // namespace whycache::format

#endif  // WHYCACHE_LIB_FORMAT_BYTE_WRITER_H_
