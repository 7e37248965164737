// The size limits against the file log: at write time (write_limits.h), and at read time, where
// a record beyond a limit (which no writer appends, so damage or a foreign writer made it) is a
// corruption error that names its update id and the limit.
#include <fcntl.h>

#include <functional>
#include <string>

#include "gtest/gtest.h"
#include "lib/format/batch_record.h"
#include "lib/format/byte_writer.h"
#include "lib/io/posix_file.h"
#include "lib/log/segment_format.h"
#include "tests/log/file_log_inspection.h"
#include "tests/log/log_backends.h"
#include "tests/security/write_limits.h"
#include "tests/support/temp_dir.h"
#include "whycache/cache.h"
#include "whycache/change_log.h"
#include "whycache/error.h"
#include "whycache/limits.h"

namespace whycache::testing {
namespace {

INSTANTIATE_TEST_SUITE_P(File, WriteLimitsTest, ::testing::Values(FileLogBackend()), BackendName);

// A log whose update 1 is valid and whose update 2 is a well-framed, correctly checksummed
// record of `count` mutations encoded as `payload`, appended behind the writers' back.
class OverLimitRecordTest : public ::testing::Test {
 protected:
  void Craft(uint64_t count, const std::string& payload) {
    LogOptions create;
    create.create_if_missing = true;
    OpenChangeLog(uri_, create)->Append(std::vector<Mutation>{Mutation::Set("ok", "1")});
    const FrameLocation last = ListFrames(dir_.File("log")).back();
    const format::EncodedBatch encoded{.mutation_count = count,
                                       .raw_size = payload.size(),
                                       .compressed = false,
                                       .payload = payload};
    const std::string record = format::EncodeRecordHeader(2, 0, encoded);
    const std::string header = log::EncodeFrameHeader(
        log::FrameType::kBatch, 2, static_cast<uint32_t>(record.size() + encoded.payload.size()));
    const std::string_view pieces[] = {header, record, encoded.payload};
    io::File::Open(last.path, O_WRONLY)
        .WriteAt(last.offset + log::kFrameHeaderSize + last.header.body_length, pieces);
  }

  // Reading update 2 must fail as corrupt, naming it and `limit_name`.
  void ExpectCorruptionNaming(const std::string& limit_name) {
    auto log = OpenChangeLog(uri_);
    EXPECT_EQ(log->HeadId(), 2u);
    EXPECT_EQ(log->ReadAfter(0, 1).size(), 1u);
    try {
      log->ReadAfter(1, 10);
      ADD_FAILURE() << "read a record beyond " << limit_name;
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), Error::Code::kCorruption) << e.what();
      const std::string message = e.what();
      EXPECT_NE(message.find("update 2"), std::string::npos) << message;
      EXPECT_NE(message.find(limit_name), std::string::npos) << message;
    }
  }

  static std::string Set(std::string_view key, std::string_view value) {
    std::string out;
    format::ByteWriter w(&out);
    w.PutU8(static_cast<uint8_t>(Mutation::Op::kSet));
    w.PutVarint64(key.size());
    w.PutBytes(key);
    w.PutVarint64(value.size());
    w.PutBytes(value);
    return out;
  }

  TempDir dir_;
  const std::string uri_ = "file:" + dir_.File("log");
};

TEST_F(OverLimitRecordTest, KeyBeyondTheLimitIsCorruptionNamingTheId) {
  Craft(1, Set(std::string(kMaxKeyBytes + 1, 'k'), "v"));
  ExpectCorruptionNaming("kMaxKeyBytes");
  // The applier stops at the record and says why, rather than skipping it.
  CacheOptions options;
  options.state_path = dir_.File("data.state");
  options.log_uri = uri_;
  auto cache = Cache::Open(options);
  try {
    cache->UpdateNow();
    ADD_FAILURE() << "applied a record beyond the key limit";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), Error::Code::kCorruption) << e.what();
    EXPECT_NE(std::string(e.what()).find("update 2"), std::string::npos) << e.what();
  }
  // A state that has applied nothing is filled whole or not at all: it stays empty rather than
  // serve a prefix of a history that might have been compacted.
  EXPECT_EQ(cache->AppliedId(), 0u);
}

TEST_F(OverLimitRecordTest, ValueBeyondTheLimitIsCorruptionNamingTheId) {
  Craft(1, Set("k", std::string(kMaxValueBytes + 1, 'v')));
  ExpectCorruptionNaming("kMaxValueBytes");
}

TEST_F(OverLimitRecordTest, MoreMutationsThanTheLimitIsCorruptionNamingTheId) {
  std::string payload;
  format::ByteWriter w(&payload);
  for (size_t i = 0; i <= kMaxBatchMutations; ++i) {
    w.PutU8(static_cast<uint8_t>(Mutation::Op::kDelete));
    w.PutVarint64(0);
  }
  Craft(kMaxBatchMutations + 1, payload);
  ExpectCorruptionNaming("kMaxBatchMutations");
}

TEST_F(OverLimitRecordTest, MoreBytesThanTheBatchLimitIsCorruptionNamingTheId) {
  // Three values within the value limit that together exceed the batch limit.
  const std::string value(kMaxBatchBytes / 3 + 1, 'v');
  Craft(3, Set("a", value) + Set("b", value) + Set("c", value));
  ExpectCorruptionNaming("kMaxBatchBytes");
}

}  // namespace
}  // namespace whycache::testing
