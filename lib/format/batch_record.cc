#include "lib/format/batch_record.h"

#include "lib/format/byte_reader.h"
#include "lib/format/byte_writer.h"
#include "lib/format/crc32c.h"
#include "whycache/error.h"
#include "whycache/limits.h"
#include "whycache/version.h"

namespace whycache::format {
namespace {

constexpr uint8_t kFlagZstd = 1;

// The largest payload a batch within the limits encodes to: its bytes plus, per mutation, an op
// byte and two varints of at most 10 bytes.
constexpr uint64_t kMaxRawPayload = kMaxBatchBytes + kMaxBatchMutations * 21;

Error Invalid(const std::string& message) { return Error(Error::Code::kInvalidArgument, message); }

// Reads a varint length that must be at most `limit` (named `limit_name`); beyond it the
// record breaks whycache/limits.h, which every writer enforces, so it is corrupt.
uint64_t ReadLength(ByteReader& in, const Update& update, uint64_t i, const char* what,
                    uint64_t limit, const char* limit_name) {
  const uint64_t n = in.ReadVarint64(what);
  if (n > limit) {
    in.Fail("update " + std::to_string(update.id) + ", mutation " + std::to_string(i) + ": " +
            what + " " + std::to_string(n) + " exceeds " + limit_name + " (" +
            std::to_string(limit) + ")");
  }
  return n;
}

void DecodePayload(ByteReader& in, uint8_t version, uint64_t count, Update& update) {
  update.mutations.reserve(count);
  uint64_t total = 0;
  for (uint64_t i = 0; i < count; ++i) {
    const uint8_t op = in.ReadU8("mutation op");
    if (op != static_cast<uint8_t>(Mutation::Op::kSet) &&
        op != static_cast<uint8_t>(Mutation::Op::kDelete) &&
        (op != static_cast<uint8_t>(Mutation::Op::kErasePrefix) ||
         version == kLogRecordFormatVersionWithoutPrefixErase)) {
      in.Fail("unknown mutation op " + std::to_string(op) + " in mutation " + std::to_string(i) +
              " of a version " + std::to_string(version) + " record");
    }
    Mutation& m = update.mutations.emplace_back();
    m.op = static_cast<Mutation::Op>(op);
    const uint64_t key_size = ReadLength(in, update, i, "key length", kMaxKeyBytes, "kMaxKeyBytes");
    m.key = in.ReadBytes(key_size, "key");
    total += key_size;
    if (m.op == Mutation::Op::kSet) {
      const uint64_t value_size =
          ReadLength(in, update, i, "value length", kMaxValueBytes, "kMaxValueBytes");
      m.value = in.ReadBytes(value_size, "value");
      total += value_size;
    }
    if (m.op == Mutation::Op::kErasePrefix && key_size == 0) {
      in.Fail("update " + std::to_string(update.id) + ", mutation " + std::to_string(i) +
              ": a prefix delete with an empty prefix");
    }
    if (total > kMaxBatchBytes) {
      in.Fail("update " + std::to_string(update.id) + " holds more than kMaxBatchBytes (" +
              std::to_string(kMaxBatchBytes) + ") key and value bytes");
    }
  }
  if (in.remaining() != 0) {
    in.Fail(std::to_string(in.remaining()) + " unexpected bytes after the last mutation");
  }
}

}  // namespace

void CheckBatchLimits(std::span<const Mutation> batch) {
  if (batch.empty()) throw Invalid("a batch needs at least one mutation");
  if (batch.size() > kMaxBatchMutations) {
    throw Invalid("batch of " + std::to_string(batch.size()) + " mutations exceeds the limit of " +
                  std::to_string(kMaxBatchMutations));
  }
  size_t total = 0;
  for (const Mutation& m : batch) {
    if (m.op != Mutation::Op::kSet && m.op != Mutation::Op::kDelete &&
        m.op != Mutation::Op::kErasePrefix) {
      throw Invalid("mutation with unknown op " + std::to_string(static_cast<int>(m.op)));
    }
    if (m.op == Mutation::Op::kErasePrefix && m.key.empty()) {
      throw Invalid("a prefix delete needs a prefix: an empty one would delete every key");
    }
    if (m.key.size() > kMaxKeyBytes) {
      throw Invalid("key of " + std::to_string(m.key.size()) + " bytes exceeds the limit of " +
                    std::to_string(kMaxKeyBytes));
    }
    if (m.op != Mutation::Op::kSet && !m.value.empty()) {
      throw Invalid(m.op == Mutation::Op::kDelete ? "a delete carries no value"
                                                  : "a prefix delete carries no value");
    }
    if (m.value.size() > kMaxValueBytes) {
      throw Invalid("value of " + std::to_string(m.value.size()) + " bytes exceeds the limit of " +
                    std::to_string(kMaxValueBytes));
    }
    total += m.key.size() + m.value.size();
  }
  if (total > kMaxBatchBytes) {
    throw Invalid("batch of " + std::to_string(total) +
                  " key and value bytes exceeds the limit of " + std::to_string(kMaxBatchBytes));
  }
}

EncodedBatch EncodeBatch(std::span<const Mutation> batch, int compression_level) {
  CheckBatchLimits(batch);
  size_t size = 0;
  for (const Mutation& m : batch) {
    size += 1 + ByteWriter::VarintLength(m.key.size()) + m.key.size();
    if (m.op == Mutation::Op::kSet) {
      size += ByteWriter::VarintLength(m.value.size()) + m.value.size();
    }
  }
  EncodedBatch encoded;
  encoded.mutation_count = batch.size();
  encoded.raw_size = size;
  encoded.payload.reserve(size);
  ByteWriter out(&encoded.payload);
  for (const Mutation& m : batch) {
    encoded.erases_prefix |= m.op == Mutation::Op::kErasePrefix;
    out.PutU8(static_cast<uint8_t>(m.op));
    out.PutVarint64(m.key.size());
    out.PutBytes(m.key);
    if (m.op == Mutation::Op::kSet) {
      out.PutVarint64(m.value.size());
      out.PutBytes(m.value);
    }
  }
  if (size >= kCompressionThreshold) {
    std::string compressed = ZstdCompress(encoded.payload, compression_level);
    if (compressed.size() < size) {
      encoded.payload = std::move(compressed);
      encoded.compressed = true;
    }
  }
  return encoded;
}

std::string EncodeRecordHeader(uint64_t update_id, int64_t write_time_us,
                               const EncodedBatch& batch) {
  std::string header(4, '\0');
  ByteWriter out(&header);
  out.PutU8(static_cast<uint8_t>(batch.erases_prefix ? kLogRecordFormatVersion
                                                     : kLogRecordFormatVersionWithoutPrefixErase));
  out.PutU8(batch.compressed ? kFlagZstd : 0);
  out.PutVarint64(update_id);
  out.PutFixed64(static_cast<uint64_t>(write_time_us));
  out.PutVarint64(batch.mutation_count);
  out.PutVarint64(batch.raw_size);
  const uint32_t crc = Crc32c(batch.payload, Crc32c(std::string_view(header).substr(4)));
  std::string crc_bytes;
  ByteWriter(&crc_bytes).PutFixed32(crc);
  header.replace(0, 4, crc_bytes);
  return header;
}

std::string EncodeBatchRecord(uint64_t update_id, int64_t write_time_us,
                              std::span<const Mutation> batch) {
  const EncodedBatch encoded = EncodeBatch(batch);
  return EncodeRecordHeader(update_id, write_time_us, encoded) + encoded.payload;
}

Update DecodeBatchRecord(std::string_view record, std::string_view source, uint64_t base_offset) {
  ByteReader in(record, source, base_offset);
  const uint32_t stored_crc = in.ReadFixed32("record checksum");
  const uint32_t actual_crc = Crc32c(record.substr(4));
  if (stored_crc != actual_crc) {
    ByteReader(record, source, base_offset)
        .Fail("record checksum mismatch (record of " + std::to_string(record.size()) + " bytes)");
  }
  const uint8_t version = in.ReadU8("record format version");
  if (version != kLogRecordFormatVersion && version != kLogRecordFormatVersionWithoutPrefixErase) {
    in.Fail("record format version " + std::to_string(version) + ", this build reads versions " +
            std::to_string(kLogRecordFormatVersionWithoutPrefixErase) + " and " +
            std::to_string(kLogRecordFormatVersion) + ": upgrade whycache");
  }
  const uint8_t flags = in.ReadU8("record flags");
  if ((flags & ~kFlagZstd) != 0) in.Fail("unknown record flags " + std::to_string(flags));
  Update update;
  update.id = in.ReadVarint64("update id");
  update.write_time_us = static_cast<int64_t>(in.ReadFixed64("write time"));
  const uint64_t count = in.ReadVarint64("mutation count");
  if (count == 0) in.Fail("record of update " + std::to_string(update.id) + " has no mutations");
  if (count > kMaxBatchMutations) {
    in.Fail("update " + std::to_string(update.id) + " has " + std::to_string(count) +
            " mutations, more than kMaxBatchMutations (" + std::to_string(kMaxBatchMutations) +
            ")");
  }
  const uint64_t raw_size = in.ReadVarintAtMost(kMaxRawPayload, "payload size");
  const uint64_t payload_offset = in.offset();
  const std::string_view stored = in.ReadBytes(in.remaining(), "payload");
  if ((flags & kFlagZstd) == 0) {
    if (stored.size() != raw_size) {
      in.Fail("payload of update " + std::to_string(update.id) + " is " +
              std::to_string(stored.size()) + " bytes, its header says " +
              std::to_string(raw_size));
    }
    ByteReader payload(stored, source, payload_offset);
    DecodePayload(payload, version, count, update);
    return update;
  }
  const std::string where = std::string(source) + " at offset " + std::to_string(payload_offset) +
                            " (compressed payload of update " + std::to_string(update.id) + ")";
  const std::string raw = ZstdDecompress(stored, raw_size, where);
  if (raw.size() != raw_size) {
    throw Error(Error::Code::kCorruption,
                where + ": decompressed to " + std::to_string(raw.size()) +
                    " bytes, the header says " + std::to_string(raw_size));
  }
  const std::string inner = where + ", decompressed";
  ByteReader payload(raw, inner, 0);
  DecodePayload(payload, version, count, update);
  return update;
}

}  // namespace whycache::format
