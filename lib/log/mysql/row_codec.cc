#include "lib/log/mysql/row_codec.h"

#include <zlib.h>

#include "lib/format/compression.h"
#include "whycache/error.h"
#include "whycache/limits.h"

namespace whycache::mysql_log {
namespace {

// zlib's crc32 takes a uInt length: feed long values in pieces.
uint32_t Crc32Extend(uint32_t crc, std::string_view bytes) {
  constexpr size_t kPiece = size_t{1} << 30;
  while (!bytes.empty()) {
    size_t n = std::min(bytes.size(), kPiece);
    crc = static_cast<uint32_t>(
        crc32(crc, reinterpret_cast<const Bytef*>(bytes.data()), static_cast<uInt>(n)));
    bytes.remove_prefix(n);
  }
  return crc;
}

[[noreturn]] void Corrupt(const StoredRow& row, const std::string& what) {
  throw Error(Error::Code::kCorruption,
              "corrupt MySQL log row: update id " + std::to_string(row.update_id) + ", position " +
                  std::to_string(row.pos) + ": " + what +
                  "; stop applying here and repair or remove this update");
}

}  // namespace

uint32_t RowChecksum(uint8_t op, std::string_view key, uint8_t encoding,
                     std::string_view stored_value) {
  const uint32_t key_size = static_cast<uint32_t>(key.size());
  const char header[5] = {static_cast<char>(op), static_cast<char>(key_size >> 24),
                          static_cast<char>(key_size >> 16), static_cast<char>(key_size >> 8),
                          static_cast<char>(key_size)};
  const char encoding_byte = static_cast<char>(encoding);
  uint32_t crc = Crc32Extend(0, std::string_view(header, sizeof header));
  crc = Crc32Extend(crc, key);
  crc = Crc32Extend(crc, std::string_view(&encoding_byte, 1));
  return Crc32Extend(crc, stored_value);
}

void EncodeValue(const Mutation& mutation, StoredValue* out) {
  out->encoding = ValueEncoding::kRaw;
  out->bytes = mutation.value;
  out->owned.clear();
  if (mutation.value.size() >= format::kCompressionThreshold) {
    out->owned = format::ZstdCompress(mutation.value);
    if (out->owned.size() < mutation.value.size()) {
      out->encoding = ValueEncoding::kZstd;
      out->bytes = out->owned;
    } else {
      out->owned.clear();
    }
  }
  out->checksum = RowChecksum(static_cast<uint8_t>(mutation.op), mutation.key,
                              static_cast<uint8_t>(out->encoding), out->bytes);
}

Mutation DecodeRow(StoredRow& row) {
  if (RowChecksum(row.op, row.key, row.encoding, row.value) != row.checksum) {
    Corrupt(row, "checksum mismatch");
  }
  if (row.op != static_cast<uint8_t>(Mutation::Op::kSet) &&
      row.op != static_cast<uint8_t>(Mutation::Op::kDelete) &&
      row.op != static_cast<uint8_t>(Mutation::Op::kErasePrefix)) {
    Corrupt(row, "unknown op " + std::to_string(row.op));
  }
  if (row.op == static_cast<uint8_t>(Mutation::Op::kErasePrefix) && row.key.empty()) {
    Corrupt(row, "a prefix delete with an empty prefix");
  }
  if (row.key.size() > kMaxKeyBytes) {
    Corrupt(row, "key of " + std::to_string(row.key.size()) + " bytes exceeds kMaxKeyBytes (" +
                     std::to_string(kMaxKeyBytes) + ")");
  }
  Mutation mutation;
  mutation.op = static_cast<Mutation::Op>(row.op);
  mutation.key = std::move(row.key);
  switch (static_cast<ValueEncoding>(row.encoding)) {
    case ValueEncoding::kRaw:
      mutation.value = std::move(row.value);
      break;
    case ValueEncoding::kZstd:
      mutation.value = format::ZstdDecompress(row.value, kMaxValueBytes,
                                              "corrupt MySQL log row: update id " +
                                                  std::to_string(row.update_id) + ", position " +
                                                  std::to_string(row.pos) + ": compressed value");
      break;
    default:
      Corrupt(row, "unknown value encoding " + std::to_string(row.encoding));
  }
  if (mutation.value.size() > kMaxValueBytes) {
    Corrupt(row, "value of " + std::to_string(mutation.value.size()) +
                     " bytes exceeds kMaxValueBytes (" + std::to_string(kMaxValueBytes) + ")");
  }
  if (mutation.op != Mutation::Op::kSet && !mutation.value.empty()) {
    Corrupt(row, mutation.op == Mutation::Op::kDelete ? "a delete that carries a value"
                                                      : "a prefix delete that carries a value");
  }
  return mutation;
}

}  // namespace whycache::mysql_log
