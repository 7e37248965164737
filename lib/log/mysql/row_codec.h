// How one mutation is stored in a row of {prefix}_log, and how a row is checked and turned back
// into a mutation. Rows are untrusted input: anyone with SQL access can write them.
#ifndef WHYCACHE_LIB_LOG_MYSQL_ROW_CODEC_H_
#define WHYCACHE_LIB_LOG_MYSQL_ROW_CODEC_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "whycache/change_log.h"

namespace whycache::mysql_log {

// The `encoding` column.
enum class ValueEncoding : uint8_t {
  kRaw = 0,   // The value as is.
  kZstd = 1,  // One zstd frame holding the value.
};

// The `checksum` column: zlib's CRC-32 (what SQL's CRC32() computes) of
// op (1 byte) | key length (4 bytes, big-endian) | key | encoding (1 byte) | stored value,
// so that a stored procedure can compute it in plain SQL.
uint32_t RowChecksum(uint8_t op, std::string_view key, uint8_t encoding,
                     std::string_view stored_value);

// A mutation's value as it goes into its row.
struct StoredValue {
  ValueEncoding encoding = ValueEncoding::kRaw;
  std::string_view bytes;  // Points into the mutation, or into `owned` when transformed.
  std::string owned;
  uint32_t checksum = 0;
};

// Encodes `mutation` for its row. The result may point into `mutation`, which must outlive it.
void EncodeValue(const Mutation& mutation, StoredValue* out);

// One row as read back, columns in their stored form.
struct StoredRow {
  uint64_t update_id = 0;
  uint32_t pos = 0;
  uint8_t op = 0;
  std::string key;
  std::string value;
  uint8_t encoding = 0;
  uint32_t checksum = 0;
};

// Checks `row` and returns its mutation (taking its key and value). Throws Error(kCorruption)
// naming the update id and position for a checksum mismatch, an unknown op or encoding, a
// delete or prefix delete that carries a value, a prefix delete of an empty prefix, a key or value
// beyond the limits of whycache/limits.h, or a value that does not decode.
Mutation DecodeRow(StoredRow& row);

}  // namespace whycache::mysql_log

#endif  // WHYCACHE_LIB_LOG_MYSQL_ROW_CODEC_H_
