// Bounds-checked decoding of little-endian integers, varints and byte strings from untrusted
// bytes (log records, manifests, snapshot and state files).
#ifndef WHYCACHE_LIB_FORMAT_BYTE_READER_H_
#define WHYCACHE_LIB_FORMAT_BYTE_READER_H_

#include <bit>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

namespace whycache::format {

// Reads fields front to back from a byte range it does not own. Every read checks bounds; a read
// past the end or a malformed varint throws Error(kCorruption) with the message
// "<source> at offset <N>: <detail>", where N is base_offset plus the position of the failing
// field, so errors point into the file (or row) the bytes came from.
//
// REQUIRES: `data` and `source` outlive the reader. Not thread-safe (it has a position).
class ByteReader {
 public:
  ByteReader(std::string_view data, std::string_view source, uint64_t base_offset = 0)
      : data_(data), source_(source), base_offset_(base_offset) {}

  // `what` names the field for error messages ("key length", ...).
  uint8_t ReadU8(const char* what) {
    Need(1, what);
    return static_cast<uint8_t>(data_[pos_++]);
  }
  uint32_t ReadFixed32(const char* what) {
    Need(4, what);
    uint32_t v;
    std::memcpy(&v, data_.data() + pos_, 4);
    pos_ += 4;
    return FromLittleEndian(v);
  }
  uint64_t ReadFixed64(const char* what) {
    Need(8, what);
    uint64_t v;
    std::memcpy(&v, data_.data() + pos_, 8);
    pos_ += 8;
    return FromLittleEndian(v);
  }
  // LEB128, at most 10 bytes; a value that does not fit 64 bits is corrupt.
  uint64_t ReadVarint64(const char* what) {
    if (pos_ < data_.size() && static_cast<uint8_t>(data_[pos_]) < 0x80) {
      return static_cast<uint8_t>(data_[pos_++]);
    }
    return ReadVarint64Slow(what);
  }
  // A varint64 that must be at most `max`; larger values are corrupt.
  uint64_t ReadVarintAtMost(uint64_t max, const char* what) {
    const size_t start = pos_;
    const uint64_t v = ReadVarint64(what);
    if (v > max) {
      pos_ = start;
      Fail(std::string(what) + " is " + std::to_string(v) + ", more than the " +
           std::to_string(max) + " allowed");
    }
    return v;
  }
  // The next `n` bytes, as a view into the data.
  std::string_view ReadBytes(size_t n, const char* what) {
    Need(n, what);
    std::string_view v = data_.substr(pos_, n);
    pos_ += n;
    return v;
  }

  size_t position() const { return pos_; }
  size_t remaining() const { return data_.size() - pos_; }
  // base_offset + position(): where the next field starts in the source.
  uint64_t offset() const { return base_offset_ + pos_; }
  std::string_view source() const { return source_; }

  // Throws Error(kCorruption) "<source> at offset <offset()>: <detail>".
  [[noreturn]] void Fail(const std::string& detail) const;

 private:
  static uint32_t FromLittleEndian(uint32_t v) {
    if constexpr (std::endian::native == std::endian::big) return __builtin_bswap32(v);
    return v;
  }
  static uint64_t FromLittleEndian(uint64_t v) {
    if constexpr (std::endian::native == std::endian::big) return __builtin_bswap64(v);
    return v;
  }
  void Need(size_t n, const char* what) const {
    if (n > data_.size() - pos_) FailTruncated(n, what);
  }
  [[noreturn]] void FailTruncated(size_t n, const char* what) const;
  uint64_t ReadVarint64Slow(const char* what);

  std::string_view data_;
  std::string_view source_;
  uint64_t base_offset_;
  size_t pos_ = 0;
};

}  // namespace whycache::format

#endif  // WHYCACHE_LIB_FORMAT_BYTE_READER_H_
