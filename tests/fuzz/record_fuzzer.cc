// Decoders of the change log's records: a batch record (lib/format/batch_record.h, the body of a
// file-log frame), a MySQL log row (lib/log/mysql/row_codec.h) and a bare zstd frame.
//
// Input: a control byte (fuzz_util.h; its mode picks the decoder), then the bytes. A MySQL row is
// given as u8 op, u8 encoding, u8 key length, u32 checksum, the key, then the value.
#include <cstdint>
#include <string>

#include "lib/format/batch_record.h"
#include "lib/format/byte_reader.h"
#include "lib/format/compression.h"
#include "lib/format/crc32c.h"
#include "lib/log/mysql/row_codec.h"
#include "tests/fuzz/fuzz_util.h"

namespace whycache::fuzz {
namespace {

// A zstd frame may claim any size; this keeps each input's work small.
constexpr size_t kMaxFrameOutput = size_t{1} << 20;

void FuzzBatchRecord(std::string record, bool fix_checksums) {
  if (fix_checksums && record.size() >= 4) {
    PutFixed32At(record, 0, format::Crc32c(std::string_view(record).substr(4)));
  }
  const Update update = format::DecodeBatchRecord(record, "fuzz record", 7);
  // What the decoder accepts, the writer must write again, and it must read back the same.
  const std::string again =
      format::EncodeBatchRecord(update.id, update.write_time_us, update.mutations);
  if (format::DecodeBatchRecord(again, "re-encoded record") != update) {
    Fail("a decoded batch record does not survive re-encoding");
  }
}

void FuzzMysqlRow(std::string_view bytes, bool fix_checksums) {
  format::ByteReader in(bytes, "fuzz row");
  mysql_log::StoredRow row;
  row.update_id = 1;
  row.op = in.ReadU8("op");
  row.encoding = in.ReadU8("encoding");
  const uint8_t key_length = in.ReadU8("key length");
  row.checksum = in.ReadFixed32("checksum");
  row.key = std::string(in.ReadBytes(key_length, "key"));
  row.value = std::string(in.ReadBytes(in.remaining(), "value"));
  if (fix_checksums) {
    row.checksum = mysql_log::RowChecksum(row.op, row.key, row.encoding, row.value);
  }
  const Mutation mutation = mysql_log::DecodeRow(row);
  mysql_log::StoredValue stored;
  mysql_log::EncodeValue(mutation, &stored);
  mysql_log::StoredRow again;
  again.op = static_cast<uint8_t>(mutation.op);
  again.key = mutation.key;
  again.value = std::string(stored.bytes);
  again.encoding = static_cast<uint8_t>(stored.encoding);
  again.checksum = stored.checksum;
  if (mysql_log::DecodeRow(again) != mutation) {
    Fail("a decoded MySQL row does not survive re-encoding");
  }
}

void FuzzZstdFrame(std::string_view frame) {
  const std::string raw = format::ZstdDecompress(frame, kMaxFrameOutput, "fuzz frame");
  if (format::ZstdDecompress(format::ZstdCompress(raw), raw.size(), "recompressed") != raw) {
    Fail("a decompressed zstd frame does not survive recompression");
  }
}

}  // namespace
}  // namespace whycache::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace whycache::fuzz;
  return RunControlled(data, size, [](const ControlledInput& in) {
    switch (in.mode & 3) {
      case 0:
      case 1:
        FuzzBatchRecord(std::string(in.bytes), in.fix_checksums);
        break;
      case 2:
        FuzzMysqlRow(in.bytes, in.fix_checksums);
        break;
      default:
        FuzzZstdFrame(in.bytes);
        break;
    }
  });
}
