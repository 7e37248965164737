#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "lib/format/batch_record.h"
#include "lib/format/byte_reader.h"
#include "lib/format/byte_writer.h"
#include "lib/format/compression.h"
#include "lib/format/crc32c.h"
#include "lib/format/erased_prefixes.h"
#include "whycache/error.h"
#include "whycache/limits.h"

namespace whycache::format {
namespace {

using ::testing::HasSubstr;

// Runs `f`, expects Error(code), returns its message.
template <typename F>
std::string ErrorOf(F f, Error::Code code) {
  try {
    f();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), code) << e.what();
    return e.what();
  }
  ADD_FAILURE() << "no error thrown";
  return "";
}

TEST(Crc32cTest, KnownVectors) {
  EXPECT_EQ(Crc32c(""), 0u);
  EXPECT_EQ(Crc32c("123456789"), 0xE3069283u);
  EXPECT_EQ(Crc32c(std::string(32, '\0')), 0x8A9136AAu);
  EXPECT_EQ(Crc32cPortable("123456789"), 0xE3069283u);
}

TEST(Crc32cTest, ExtendsAndAgreesWithPortable) {
  std::string data;
  for (int i = 0; i < 1000; ++i) data.push_back(static_cast<char>(i * 7 + 3));
  for (size_t split : {0, 1, 7, 8, 9, 500, 1000}) {
    const std::string_view all(data);
    EXPECT_EQ(Crc32c(all.substr(split), Crc32c(all.substr(0, split))), Crc32c(all));
    EXPECT_EQ(Crc32cPortable(all.substr(0, split)), Crc32c(all.substr(0, split)));
  }
}

TEST(ByteCodingTest, RoundTrip) {
  std::string buf;
  ByteWriter w(&buf);
  w.PutU8(7);
  w.PutFixed32(0xDEADBEEF);
  w.PutFixed64(0x0123456789ABCDEFull);
  const std::vector<uint64_t> varints = {0, 1, 127, 128, 300, uint64_t{1} << 35, ~uint64_t{0}};
  for (uint64_t v : varints) w.PutVarint64(v);
  w.PutBytes(std::string("a\0b", 3));

  ByteReader r(buf, "test buffer");
  EXPECT_EQ(r.ReadU8("u8"), 7);
  EXPECT_EQ(r.ReadFixed32("f32"), 0xDEADBEEFu);
  EXPECT_EQ(r.ReadFixed64("f64"), 0x0123456789ABCDEFull);
  for (uint64_t v : varints) {
    EXPECT_EQ(ByteWriter::VarintLength(v), [&] {
      std::string one;
      ByteWriter(&one).PutVarint64(v);
      return one.size();
    }());
    EXPECT_EQ(r.ReadVarint64("varint"), v);
  }
  EXPECT_EQ(r.ReadBytes(3, "bytes"), std::string_view("a\0b", 3));
  EXPECT_EQ(r.remaining(), 0u);
}

TEST(ByteCodingTest, ErrorsNameSourceAndOffset) {
  std::string buf = "\x01\x02";
  ByteReader r(buf, "segment 7.seg", 1000);
  r.ReadU8("first");
  const std::string message =
      ErrorOf([&] { r.ReadFixed32("the length"); }, Error::Code::kCorruption);
  EXPECT_THAT(message, HasSubstr("segment 7.seg at offset 1001"));
  EXPECT_THAT(message, HasSubstr("the length"));

  std::string endless(11, '\xFF');
  ByteReader v(endless, "src");
  EXPECT_THAT(ErrorOf([&] { v.ReadVarint64("count"); }, Error::Code::kCorruption),
              HasSubstr("malformed varint"));
  std::string big;
  ByteWriter(&big).PutVarint64(5000);
  ByteReader limited(big, "src");
  EXPECT_THAT(
      ErrorOf([&] { limited.ReadVarintAtMost(4096, "key length"); }, Error::Code::kCorruption),
      HasSubstr("more than the 4096 allowed"));
}

TEST(CompressionTest, RoundTripAndBounds) {
  const std::string data(100000, 'x');
  const std::string z = ZstdCompress(data);
  EXPECT_LT(z.size(), data.size());
  EXPECT_EQ(ZstdDecompress(z, data.size(), "here"), data);
  EXPECT_THAT(
      ErrorOf([&] { ZstdDecompress(z, data.size() - 1, "frame X"); }, Error::Code::kCorruption),
      HasSubstr("frame X"));
  EXPECT_THAT(
      ErrorOf([&] { ZstdDecompress("garbage!", 100, "frame Y"); }, Error::Code::kCorruption),
      HasSubstr("frame Y"));
  std::string damaged = z;
  damaged[damaged.size() / 2] ^= 0x55;
  damaged.resize(damaged.size() - 3);
  ErrorOf([&] { ZstdDecompress(damaged, data.size(), "frame Z"); }, Error::Code::kCorruption);
}

std::vector<Mutation> SampleBatch() {
  return {Mutation::Set(std::string("k\0ey", 4), std::string("v\0\xff", 3)),
          Mutation::Set("empty", ""), Mutation::Delete("gone"), Mutation::Set("", "empty key")};
}

TEST(BatchRecordTest, RoundTripSmall) {
  const auto batch = SampleBatch();
  const std::string record = EncodeBatchRecord(42, -5, batch);
  const Update u = DecodeBatchRecord(record, "rec");
  EXPECT_EQ(u.id, 42u);
  EXPECT_EQ(u.write_time_us, -5);
  EXPECT_EQ(u.mutations, batch);
}

// Only a record that holds a prefix delete is written in the version older releases cannot
// read, so that they read a log up to its first prefix delete.
TEST(BatchRecordTest, PrefixDeletesRoundTripInVersion2Records) {
  const std::vector<Mutation> plain = {Mutation::Set("a", "1"), Mutation::Delete("b")};
  const std::vector<Mutation> erasing = {Mutation::Set("s:1", "x"), Mutation::ErasePrefix("s:"),
                                         Mutation::Set("s:2", "y")};
  const std::string plain_record = EncodeBatchRecord(1, 0, plain);
  const std::string erasing_record = EncodeBatchRecord(2, 0, erasing);
  EXPECT_EQ(plain_record[4], 1);
  EXPECT_EQ(erasing_record[4], 2);
  EXPECT_EQ(DecodeBatchRecord(plain_record, "r").mutations, plain);
  EXPECT_EQ(DecodeBatchRecord(erasing_record, "r").mutations, erasing);
}

TEST(BatchRecordTest, PrefixDeleteLimits) {
  EXPECT_THAT(ErrorOf([] { CheckBatchLimits(std::vector{Mutation::ErasePrefix("")}); },
                      Error::Code::kInvalidArgument),
              HasSubstr("an empty one would delete every key"));
  EXPECT_THAT(ErrorOf(
                  [] {
                    CheckBatchLimits(std::vector{Mutation{Mutation::Op::kErasePrefix, "p", "v"}});
                  },
                  Error::Code::kInvalidArgument),
              HasSubstr("a prefix delete carries no value"));
  EXPECT_THAT(ErrorOf(
                  [] {
                    CheckBatchLimits(
                        std::vector{Mutation::ErasePrefix(std::string(kMaxKeyBytes + 1, 'p'))});
                  },
                  Error::Code::kInvalidArgument),
              HasSubstr("exceeds the limit"));
}

TEST(ErasedPrefixesTest, NewestCoveringPrefix) {
  ErasedPrefixes erased;
  EXPECT_TRUE(erased.empty());
  EXPECT_EQ(erased.NewestCovering("abc"), std::nullopt);
  erased.Add("ab", {5, 1});
  erased.Add("abcd", {7, 0});
  erased.Add("ab", {3, 0});  // Older than the one kept.
  erased.Add("x", {9, 2});
  EXPECT_FALSE(erased.empty());
  EXPECT_EQ(erased.NewestCovering("a"), std::nullopt);
  EXPECT_EQ(erased.NewestCovering("ab"), (LogPosition{5, 1}));
  EXPECT_EQ(erased.NewestCovering("abc"), (LogPosition{5, 1}));
  EXPECT_EQ(erased.NewestCovering("abcd"), (LogPosition{7, 0}));
  EXPECT_EQ(erased.NewestCovering("abcdef"), (LogPosition{7, 0}));
  EXPECT_EQ(erased.NewestCovering("xy"), (LogPosition{9, 2}));
  EXPECT_EQ(erased.NewestCovering(std::string_view("a\0b", 3)), std::nullopt);
  EXPECT_EQ(erased.ShortestCovering("abcdef"), 2u);
  EXPECT_EQ(erased.ShortestCovering("xy"), 1u);
  EXPECT_EQ(erased.ShortestCovering("a"), std::nullopt);
  erased.Add("ab", {8, 0});
  EXPECT_EQ(erased.NewestCovering("abcdef"), (LogPosition{8, 0}));
  EXPECT_LT((LogPosition{8, 0}), (LogPosition{8, 1}));
  EXPECT_LT((LogPosition{7, 9}), (LogPosition{8, 0}));
}

TEST(BatchRecordTest, LargePayloadIsCompressed) {
  std::vector<Mutation> batch;
  for (int i = 0; i < 1000; ++i) {
    batch.push_back(Mutation::Set("key" + std::to_string(i), std::string(100, 'a' + i % 26)));
  }
  const EncodedBatch encoded = EncodeBatch(batch);
  EXPECT_TRUE(encoded.compressed);
  EXPECT_LT(encoded.payload.size(), encoded.raw_size);
  const std::string record = EncodeRecordHeader(9, 1, encoded) + encoded.payload;
  EXPECT_EQ(DecodeBatchRecord(record, "rec").mutations, batch);
}

TEST(BatchRecordTest, IncompressibleStaysRaw) {
  std::string noise(5000, '\0');
  uint64_t x = 88172645463325252ull;
  for (char& c : noise) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    c = static_cast<char>(x);
  }
  const std::vector<Mutation> batch = {Mutation::Set("k", noise)};
  EXPECT_FALSE(EncodeBatch(batch).compressed);
  EXPECT_EQ(DecodeBatchRecord(EncodeBatchRecord(1, 0, batch), "rec").mutations, batch);
}

TEST(BatchRecordTest, LimitsAreInvalidArgument) {
  ErrorOf([] { EncodeBatch({}); }, Error::Code::kInvalidArgument);
  const std::vector<Mutation> long_key = {Mutation::Set(std::string(kMaxKeyBytes + 1, 'k'), "")};
  EXPECT_THAT(ErrorOf([&] { EncodeBatch(long_key); }, Error::Code::kInvalidArgument),
              HasSubstr("key of"));
  const std::vector<Mutation> max_key = {Mutation::Set(std::string(kMaxKeyBytes, 'k'), "")};
  EXPECT_EQ(DecodeBatchRecord(EncodeBatchRecord(1, 0, max_key), "r").mutations, max_key);
  Mutation del_with_value = Mutation::Delete("k");
  del_with_value.value = "v";
  const std::vector<Mutation> bad_delete = {del_with_value};
  ErrorOf([&] { EncodeBatch(bad_delete); }, Error::Code::kInvalidArgument);
}

// Every single-byte change and every truncation of a record is reported as corruption naming
// the source; none crashes or decodes to something else.
TEST(BatchRecordTest, EveryFlipAndTruncationIsCorruption) {
  for (bool large : {false, true}) {
    std::vector<Mutation> batch = SampleBatch();
    if (large) batch.push_back(Mutation::Set("big", std::string(kCompressionThreshold, 'z')));
    ASSERT_EQ(EncodeBatch(batch).compressed, large);
    const std::string record = EncodeBatchRecord(77, 123, batch);
    for (size_t i = 0; i < record.size(); ++i) {
      std::string damaged = record;
      damaged[i] ^= 0x20;
      EXPECT_THAT(
          ErrorOf([&] { DecodeBatchRecord(damaged, "seg 1", 500); }, Error::Code::kCorruption),
          HasSubstr("seg 1 at offset"))
          << "flip at " << i;
    }
    for (size_t n = 0; n < record.size(); ++n) {
      ErrorOf([&] { DecodeBatchRecord(std::string_view(record).substr(0, n), "seg 1", 0); },
              Error::Code::kCorruption);
    }
  }
}

// Checksums guard against random damage; these records carry a valid checksum over bad content
// to reach the structural checks behind it.
TEST(BatchRecordTest, StructuralChecksBehindAValidChecksum) {
  auto with_crc = [](std::string body) {
    std::string record;
    ByteWriter(&record).PutFixed32(Crc32c(body));
    return record + body;
  };
  auto body = [](uint8_t version, uint8_t flags, uint64_t count, uint64_t raw, std::string p) {
    std::string b;
    ByteWriter w(&b);
    w.PutU8(version);
    w.PutU8(flags);
    w.PutVarint64(5);
    w.PutFixed64(0);
    w.PutVarint64(count);
    w.PutVarint64(raw);
    w.PutBytes(p);
    return b;
  };
  const std::string ok_payload = std::string("\x02\x01k", 3);
  EXPECT_EQ(DecodeBatchRecord(with_crc(body(1, 0, 1, 3, ok_payload)), "r").mutations.size(), 1u);
  EXPECT_EQ(DecodeBatchRecord(with_crc(body(2, 0, 1, 3, ok_payload)), "r").mutations.size(), 1u);
  EXPECT_THAT(ErrorOf([&] { DecodeBatchRecord(with_crc(body(3, 0, 1, 3, ok_payload)), "r"); },
                      Error::Code::kCorruption),
              HasSubstr("format version 3"));
  // A prefix delete exists only in version 2 records, and never of an empty prefix.
  const std::string erase_payload = std::string("\x03\x01k", 3);
  EXPECT_EQ(DecodeBatchRecord(with_crc(body(2, 0, 1, 3, erase_payload)), "r").mutations,
            std::vector{Mutation::ErasePrefix("k")});
  EXPECT_THAT(ErrorOf([&] { DecodeBatchRecord(with_crc(body(1, 0, 1, 3, erase_payload)), "r"); },
                      Error::Code::kCorruption),
              HasSubstr("unknown mutation op 3 in mutation 0 of a version 1 record"));
  EXPECT_THAT(
      ErrorOf(
          [&] { DecodeBatchRecord(with_crc(body(2, 0, 1, 2, std::string("\x03\x00", 2))), "r"); },
          Error::Code::kCorruption),
      HasSubstr("empty prefix"));
  ErrorOf([&] { DecodeBatchRecord(with_crc(body(1, 4, 1, 3, ok_payload)), "r"); },
          Error::Code::kCorruption);
  ErrorOf([&] { DecodeBatchRecord(with_crc(body(1, 0, 0, 3, ok_payload)), "r"); },
          Error::Code::kCorruption);
  ErrorOf([&] { DecodeBatchRecord(with_crc(body(1, 0, 2, 3, ok_payload)), "r"); },
          Error::Code::kCorruption);
  ErrorOf([&] { DecodeBatchRecord(with_crc(body(1, 0, 1, 4, ok_payload + "x")), "r"); },
          Error::Code::kCorruption);
  EXPECT_THAT(ErrorOf([&] { DecodeBatchRecord(with_crc(body(1, 0, 1, 3, "\x09\x01k")), "r"); },
                      Error::Code::kCorruption),
              HasSubstr("unknown mutation op 9"));
  ErrorOf([&] { DecodeBatchRecord(with_crc(body(1, 1, 1, 3, ok_payload)), "r"); },
          Error::Code::kCorruption);
}

}  // namespace
}  // namespace whycache::format
