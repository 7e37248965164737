// The record of one committed batch: the unit the change log stores (one per update id, in a
// file segment frame or a database row).
//
// Layout, little-endian (format version kLogRecordFormatVersion):
//   fixed32  CRC-32C of every byte after this field
//   u8       format version
//   u8       flags: bit 0 = payload is one zstd frame; other bits are zero
//   varint   update id
//   fixed64  write time, microseconds since the epoch (two's complement)
//   varint   mutation count, 1..kMaxBatchMutations
//   varint   payload size before compression
//   bytes    payload, to the end of the record
// Payload, once per mutation, in batch order:
//   u8       op (1 = set, 2 = delete, 3 = prefix delete: only in records of format version 2,
//            which a record holding one is written as; others are written as version 1)
//   varint   key length, then the key (the prefix, for a prefix delete)
//   varint   value length, then the value (sets only)
#ifndef WHYCACHE_LIB_FORMAT_BATCH_RECORD_H_
#define WHYCACHE_LIB_FORMAT_BATCH_RECORD_H_

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "lib/format/compression.h"
#include "whycache/change_log.h"

namespace whycache::format {

// A batch's mutations encoded without their id, so that a writer can do the costly part
// (encoding, compression) before it takes the lock that assigns ids.
struct EncodedBatch {
  uint64_t mutation_count = 0;
  uint64_t raw_size = 0;  // Payload bytes before compression.
  bool compressed =
      false;  // Payloads of kCompressionThreshold bytes or more, if zstd shrinks them.
  std::string payload;
  bool erases_prefix = false;  // Holds a prefix delete: the record is format version 2.
};

// Throws Error(kInvalidArgument) naming the limit (whycache/limits.h) if `batch` is empty,
// exceeds one, or holds a delete or prefix delete with a value, or a prefix delete of nothing.
// Thread-safe.
void CheckBatchLimits(std::span<const Mutation> batch);

// Checks limits as CheckBatchLimits does (throwing before any work), then encodes, compressing
// the payload if it has at least kCompressionThreshold bytes and zstd shrinks it. Thread-safe.
EncodedBatch EncodeBatch(std::span<const Mutation> batch,
                         int compression_level = kDefaultCompressionLevel);

// Returns the record's bytes that precede the payload (checksum included); the whole record is
// the returned bytes followed by batch.payload. Thread-safe.
std::string EncodeRecordHeader(uint64_t update_id, int64_t write_time_us,
                               const EncodedBatch& batch);

// EncodeBatch, then EncodeRecordHeader + payload in one string. Thread-safe.
std::string EncodeBatchRecord(uint64_t update_id, int64_t write_time_us,
                              std::span<const Mutation> batch);

// Decodes one record. The bytes are untrusted: any inconsistency (checksum, version, flags,
// lengths, limits, trailing bytes, zstd frame) throws Error(kCorruption) naming `source` and the
// offset (base_offset plus the position in `record`; positions inside a compressed payload are
// named as such). Never reads outside `record`. Thread-safe.
Update DecodeBatchRecord(std::string_view record, std::string_view source,
                         uint64_t base_offset = 0);

}  // namespace whycache::format

#endif  // WHYCACHE_LIB_FORMAT_BATCH_RECORD_H_
