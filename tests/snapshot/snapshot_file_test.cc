#include "lib/snapshot/snapshot_file.h"

#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <string>

#include "gtest/gtest.h"
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

void FlipByteAt(const std::string& path, uint64_t offset) {
  std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
  f.seekg(static_cast<std::streamoff>(offset));
  char c;
  f.get(c);
  f.seekp(static_cast<std::streamoff>(offset));
  f.put(static_cast<char>(c ^ 0x40));
}

void ExpectCorrupt(const std::string& path, const std::string& fragment) {
  try {
    Read(path);
    FAIL() << "read a damaged snapshot";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), Error::Code::kCorruption) << e.what();
    EXPECT_NE(std::string(e.what()).find(path), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find(fragment), std::string::npos) << e.what();
  }
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
  ExpectCorrupt(dir.File("v"), "format version");

  std::filesystem::copy_file(path, dir.File("m"));
  FlipByteAt(dir.File("m"), 0);
  ExpectCorrupt(dir.File("m"), "magic");
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

}  // namespace
}  // namespace whycache::snapshot
