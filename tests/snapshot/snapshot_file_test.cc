#include "lib/snapshot/snapshot_file.h"

#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <random>
#include <stdexcept>
#include <string>
#include <thread>

#include "gtest/gtest.h"
#include "lib/format/byte_writer.h"
#include "lib/format/compression.h"
#include "lib/format/crc32c.h"
#include "tests/support/temp_dir.h"
#include "whycache/error.h"
#include "whycache/version.h"

namespace whycache::snapshot {
namespace {

using Entries = std::map<std::string, std::string>;
using testing::TempDir;

SnapshotInfo Write(const std::string& path, const Entries& entries, uint64_t applied_id = 7) {
  return WriteSnapshot(path, "dataset-1", applied_id, /*horizon=*/3, entries.size(),
                       [&](const auto& emit) {
                         for (const auto& [k, v] : entries) emit(k, v);
                       });
}

Entries Read(const std::string& path, SnapshotInfo* info = nullptr) {
  Entries out;
  SnapshotInfo i =
      ReadSnapshot(path, [&](std::string_view k, std::string_view v) { out.emplace(k, v); });
  if (info != nullptr) *info = i;
  return out;
}

Entries RandomEntries(size_t n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  Entries e;
  while (e.size() < n) {
    std::string key = "user:" + std::to_string(rng() % (n * 10)) + std::string(1, '\0');
    std::string value(rng() % 300, '\0');
    for (char& c : value) c = static_cast<char>(rng());
    e[key] = value;
  }
  return e;
}

// Entries of one size, so that the offset of each in the decoded body is known: entry i starts
// at i * kFixedEntryBytes (a one-byte key length, the key, a two-byte value length, the value).
constexpr size_t kFixedKeyBytes = 8;
constexpr size_t kFixedValueBytes = 200;
constexpr size_t kFixedEntryBytes = 1 + kFixedKeyBytes + 2 + kFixedValueBytes;

// Enough random (incompressible) values for a body of several of the reader's 1 MiB chunks.
Entries FixedSizeEntries(size_t n) {
  std::mt19937_64 rng(n);
  Entries e;
  for (size_t i = 0; i < n; ++i) {
    const std::string key = std::to_string(10'000'000 + i);  // kFixedKeyBytes digits.
    std::string value(kFixedValueBytes, '\0');
    for (char& c : value) c = static_cast<char>(rng());
    e[key] = value;
  }
  return e;
}

std::string DecodedBody(const Entries& entries) {
  std::string body;
  format::ByteWriter w(&body);
  for (const auto& [k, v] : entries) {
    w.PutVarint64(k.size());
    w.PutBytes(k);
    w.PutVarint64(v.size());
    w.PutBytes(v);
  }
  return body;
}

void PutFixedAt(std::string& bytes, size_t offset, uint64_t v, size_t width) {
  for (size_t i = 0; i < width; ++i) bytes[offset + i] = static_cast<char>(v >> (8 * i));
}

// Replaces the body of the snapshot at `path` by `body` and recomputes the header's body size
// and both checksums, so that the reader gets past them to whatever is wrong inside.
void ReplaceBody(const std::string& path, const std::string& body) {
  // Offsets in the header (see snapshot_file.h).
  constexpr size_t kBodyBytesAt = 109, kBodyCrcAt = 117, kHeaderCrcAt = kHeaderBytes - 4;
  std::string file(kHeaderBytes, '\0');
  std::ifstream(path, std::ios::binary).read(file.data(), kHeaderBytes);
  PutFixedAt(file, kBodyBytesAt, body.size(), 8);
  PutFixedAt(file, kBodyCrcAt, format::Crc32c(body), 4);
  PutFixedAt(file, kHeaderCrcAt, format::Crc32c(std::string_view(file).substr(0, kHeaderCrcAt)), 4);
  file += body;
  std::ofstream(path, std::ios::binary | std::ios::trunc).write(file.data(), file.size());
}

void FlipByteAt(const std::string& path, uint64_t offset) {
  std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
  f.seekg(static_cast<std::streamoff>(offset));
  char c;
  f.get(c);
  f.seekp(static_cast<std::streamoff>(offset));
  f.put(static_cast<char>(c ^ 0x40));
}

// Returns the error's message, or "" if the read succeeded.
std::string ExpectCorrupt(const std::string& path, const std::string& fragment) {
  try {
    Read(path);
    ADD_FAILURE() << "read a damaged snapshot";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), Error::Code::kCorruption) << e.what();
    EXPECT_NE(std::string(e.what()).find(path), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find(fragment), std::string::npos) << e.what();
    return e.what();
  }
  return "";
}

TEST(SnapshotFileTest, RoundTripsBinaryEntriesAndHeader) {
  TempDir dir;
  Entries entries = RandomEntries(20'000, 1);
  entries[std::string("\0", 1)] = "";
  entries["big"] = std::string(5 << 20, 'x');
  const SnapshotInfo written = Write(dir.File("s"), entries, 42);
  SnapshotInfo read;
  EXPECT_EQ(Read(dir.File("s"), &read), entries);
  EXPECT_EQ(read.applied_id, 42u);
  EXPECT_EQ(read.horizon, 3u);
  EXPECT_EQ(read.dataset_id, "dataset-1");
  EXPECT_EQ(read.key_count, entries.size());
  EXPECT_EQ(read.format_version, kSnapshotFormatVersion);
  EXPECT_EQ(read.file_bytes, written.file_bytes);
  EXPECT_EQ(read.file_bytes, std::filesystem::file_size(dir.File("s")));
  const SnapshotInfo header = ReadSnapshotHeader(dir.File("s"));
  EXPECT_EQ(header.raw_bytes, written.raw_bytes);
  EXPECT_EQ(
      (std::filesystem::status(dir.File("s")).permissions() & std::filesystem::perms::others_all),
      std::filesystem::perms::none);
}

TEST(SnapshotFileTest, EmptySnapshot) {
  TempDir dir;
  Write(dir.File("s"), {});
  EXPECT_TRUE(Read(dir.File("s")).empty());
}

TEST(SnapshotFileTest, EntriesOutOfOrderAreRefusedAndLeaveNothing) {
  TempDir dir;
  EXPECT_THROW(WriteSnapshot(dir.File("s"), "d", 1, 0, 2,
                             [](const auto& emit) {
                               emit("b", "1");
                               emit("a", "2");
                             }),
               Error);
  EXPECT_TRUE(std::filesystem::is_empty(dir.path()));
}

TEST(SnapshotFileTest, OrderIsCheckedAcrossCompressedChunks) {
  TempDir dir;
  // A value above the writer's 1 MiB chunk sends "b" to the compressor before the next entry.
  const std::string big(size_t{3} << 20, 'v');
  for (const std::string_view next : {"a", "b"}) {
    EXPECT_THROW(WriteSnapshot(dir.File("s"), "d", 1, 0, 2,
                               [&](const auto& emit) {
                                 emit("b", big);
                                 emit(next, "2");
                               }),
                 Error);
  }
  const Entries entries = {{"b", big}, {"c", "2"}, {"d", big}, {"e", "3"}};
  Write(dir.File("s"), entries);
  EXPECT_EQ(Read(dir.File("s")), entries);
}

TEST(SnapshotFileTest, DamageIsDetected) {
  TempDir dir;
  const Entries entries = RandomEntries(5'000, 2);
  const std::string path = dir.File("s");
  const SnapshotInfo info = Write(path, entries);

  std::filesystem::copy_file(path, dir.File("t"));
  std::filesystem::resize_file(dir.File("t"), info.file_bytes - 100);
  ExpectCorrupt(dir.File("t"), "truncated");

  std::filesystem::copy_file(path, dir.File("short"));
  std::filesystem::resize_file(dir.File("short"), 100);
  ExpectCorrupt(dir.File("short"), "shorter than a snapshot header");

  std::filesystem::copy_file(path, dir.File("h"));
  FlipByteAt(dir.File("h"), 30);
  ExpectCorrupt(dir.File("h"), "header checksum");

  std::filesystem::copy_file(path, dir.File("b"));
  FlipByteAt(dir.File("b"), kHeaderBytes + (info.file_bytes - kHeaderBytes) / 2);
  ExpectCorrupt(dir.File("b"), "body checksum");

  std::filesystem::copy_file(path, dir.File("v"));
  FlipByteAt(dir.File("v"), 8);
  ExpectCorrupt(dir.File("v"), "header checksum");

  std::filesystem::copy_file(path, dir.File("m"));
  FlipByteAt(dir.File("m"), 0);
  ExpectCorrupt(dir.File("m"), "magic");
}

// A snapshot written by a whycache of another format version: its header is intact (checksum
// included), only the version differs. That is an incompatible file, not a damaged one.
TEST(SnapshotFileTest, AnotherFormatVersionIsIncompatibleNotCorrupt) {
  TempDir dir;
  const std::string path = dir.File("s");
  Write(path, RandomEntries(20, 4));
  {
    std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
    std::string header(kHeaderBytes, '\0');
    f.read(header.data(), kHeaderBytes);
    header[8] = static_cast<char>(kSnapshotFormatVersion + 1);
    const uint32_t crc = format::Crc32c(std::string_view(header).substr(0, kHeaderBytes - 4));
    for (int i = 0; i < 4; ++i) header[kHeaderBytes - 4 + i] = static_cast<char>(crc >> (8 * i));
    f.seekp(0);
    f.write(header.data(), kHeaderBytes);
  }
  const std::string other = std::to_string(kSnapshotFormatVersion + 1);
  for (const auto& read : {std::function<void()>([&] { ReadSnapshotHeader(path); }),
                           std::function<void()>([&] { Read(path); })}) {
    try {
      read();
      ADD_FAILURE() << "read a snapshot of format version " << other;
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), Error::Code::kIncompatible) << e.what();
      EXPECT_NE(std::string(e.what()).find(path + " has format version " + other),
                std::string::npos)
          << e.what();
    }
  }
}

TEST(SnapshotFileTest, EveryByteFlippedIsDetectedOrHarmless) {
  TempDir dir;
  const Entries entries = RandomEntries(50, 3);
  const std::string path = dir.File("s");
  const SnapshotInfo info = Write(path, entries);
  std::string original(info.file_bytes, '\0');
  std::ifstream(path, std::ios::binary).read(original.data(), original.size());
  for (uint64_t offset = 0; offset < info.file_bytes; ++offset) {
    std::string damaged = original;
    damaged[offset] ^= 0x01;
    std::ofstream(dir.File("d"), std::ios::binary | std::ios::trunc)
        .write(damaged.data(), damaged.size());
    try {
      // Only the zero padding of the header is not covered by a check that matters.
      EXPECT_EQ(Read(dir.File("d")), entries) << "offset " << offset;
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), Error::Code::kCorruption);
    }
  }
}

TEST(SnapshotFileTest, VerifiesWithoutVisitorAndReportsProgressOnTheCallersThread) {
  TempDir dir;
  const Entries entries = FixedSizeEntries(40'000);
  const SnapshotInfo written = Write(dir.File("s"), entries);
  const std::thread::id caller = std::this_thread::get_id();
  uint64_t last_done = 0;
  const SnapshotInfo read =
      ReadSnapshot(dir.File("s"), nullptr, [&](uint64_t done, uint64_t total) {
        EXPECT_EQ(std::this_thread::get_id(), caller);
        EXPECT_GE(done, last_done);
        EXPECT_EQ(total, written.file_bytes - kHeaderBytes);
        last_done = done;
      });
  EXPECT_EQ(read.key_count, entries.size());
  EXPECT_EQ(last_done, written.file_bytes - kHeaderBytes);
}

TEST(SnapshotFileTest, VisitorExceptionStopsTheRead) {
  TempDir dir;
  const Entries entries = FixedSizeEntries(40'000);
  Write(dir.File("s"), entries);
  struct Stop : std::runtime_error {
    using std::runtime_error::runtime_error;
  };
  // At the first entry the decoding thread is still filling its buffers; in the middle and at
  // the last entry it waits for the reader or has finished. A thread left waiting hangs here.
  for (const size_t stop_at : {size_t{0}, entries.size() / 2, entries.size() - 1}) {
    size_t visited = 0;
    EXPECT_THROW(ReadSnapshot(dir.File("s"),
                              [&](std::string_view, std::string_view) {
                                if (visited++ == stop_at) throw Stop("stop");
                              }),
                 Stop);
    EXPECT_EQ(visited, stop_at + 1);
  }
}

TEST(SnapshotFileTest, DamageLateInAValidlyChecksummedBodyIsDetected) {
  TempDir dir;
  const Entries entries = FixedSizeEntries(40'000);
  const std::string path = dir.File("s");
  Write(path, entries);
  const std::string body = DecodedBody(entries);
  ASSERT_EQ(body.size(), entries.size() * kFixedEntryBytes);
  const std::string compressed = format::ZstdCompress(body);
  ASSERT_GT(compressed.size(), size_t{4} << 20);

  // Keys of two entries near the end swapped: the second is out of order.
  const size_t i = entries.size() * 9 / 10;
  std::string swapped = body;
  std::swap_ranges(swapped.begin() + i * kFixedEntryBytes + 1,
                   swapped.begin() + i * kFixedEntryBytes + 1 + kFixedKeyBytes,
                   swapped.begin() + (i + 1) * kFixedEntryBytes + 1);
  ReplaceBody(path, format::ZstdCompress(swapped));
  ExpectCorrupt(path, "body stream offset " + std::to_string((i + 1) * kFixedEntryBytes + 1) +
                          ": keys are not in increasing order");

  // A key length above the limit in the second to last entry.
  const size_t last_but_one = body.size() - 2 * kFixedEntryBytes;
  std::string too_long = body;
  too_long.replace(last_but_one, 1, "\xff\xff\x7f");
  ReplaceBody(path, format::ZstdCompress(too_long));
  ExpectCorrupt(path, "body stream offset " + std::to_string(last_but_one + 3) +
                          ": key length 2097151 is above the limit of 4096");

  // One entry more than the header counts.
  ReplaceBody(path, format::ZstdCompress(body + std::string("\x01z\x00", 3)));
  ExpectCorrupt(path, "more entries than the header says");

  ReplaceBody(path, compressed.substr(0, compressed.size() - 1000));
  ExpectCorrupt(path, "the compressed body ends in the middle of a frame");

  // zstd's errors name the offset in the whole body, not in the chunk being decoded.
  ReplaceBody(path, compressed + std::string(64, '\x55'));
  const std::string message = ExpectCorrupt(path, ": Unknown frame descriptor");
  const size_t at = message.find("body byte ");
  ASSERT_NE(at, std::string::npos) << message;
  const uint64_t offset = std::stoull(message.substr(at + 10));
  EXPECT_GE(offset, compressed.size()) << message;
  EXPECT_LE(offset, compressed.size() + 64) << message;
}

}  // namespace
}  // namespace whycache::snapshot
