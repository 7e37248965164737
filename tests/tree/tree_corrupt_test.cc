// Damaged state files: each must give Error(kCorruption) with a clear message, never a crash
// (these tests also run under AddressSanitizer).
#include <gtest/gtest.h>

#include <cstddef>
#include <fstream>
#include <random>
#include <sstream>
#include <string>

#include "lib/tree/file_layout.h"
#include "lib/tree/tree.h"
#include "tests/support/temp_dir.h"
#include "whycache/error.h"
#include "whycache/version.h"

namespace whycache::tree {
namespace {

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void WriteAll(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

class TreeCorruptTest : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = dir_.File("state");
    TreeOptions o;
    o.initial_file_bytes = 1 << 20;
    auto tree = Tree::Open(path_, o);
    auto w = tree->BeginWrite();
    for (int i = 0; i < 2000; ++i) {
      w->Put("user:" + std::to_string(i) + ":perm", "value-" + std::to_string(i));
    }
    w->Put("marker", "UNIQUE-MARKER-VALUE");
    w->Commit(1);
    w.reset();
    tree->Compact();
    good_ = ReadAll(path_);
  }

  // Opens the file, expecting Error(kCorruption) whose message contains `what`.
  void ExpectOpenFails(const std::string& what) {
    try {
      Tree::Open(path_);
      ADD_FAILURE() << "opened a damaged file";
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), Error::Code::kCorruption) << e.what();
      EXPECT_NE(std::string(e.what()).find(what), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find(path_), std::string::npos) << e.what();
    }
  }

  // Opens, verifies and reads everything; only Error(kCorruption) may come out.
  // Returns true when something reported corruption.
  bool UseDamagedFile() {
    try {
      auto tree = Tree::Open(path_);
      bool corrupt = false;
      try {
        tree->Verify();
      } catch (const Error& e) {
        EXPECT_EQ(e.code(), Error::Code::kCorruption) << e.what();
        corrupt = true;
      }
      ReadTxn r = tree->BeginRead();
      Iterator it = r.NewIterator();
      size_t n = 0;
      for (it.SeekToFirst(); it.Valid() && n < 10'000; it.Next(), ++n) r.Get(it.key());
      r.Get("user:77:perm");
      r.LowerBound("user:5");
      return corrupt;
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), Error::Code::kCorruption) << e.what();
      return true;
    }
  }

  testing::TempDir dir_;
  std::string path_;
  std::string good_;
};

TEST_F(TreeCorruptTest, TruncatedFile) {
  WriteAll(path_, good_.substr(0, good_.size() / 2));
  ExpectOpenFails("truncated");
  WriteAll(path_, good_.substr(0, 100));
  ExpectOpenFails("truncated");
  WriteAll(path_, "");
  ExpectOpenFails("truncated");
}

TEST_F(TreeCorruptTest, OtherFormatVersion) {
  std::string bad = good_;
  bad[offsetof(FileHeader, format_version)] ^= 0x02;
  WriteAll(path_, bad);
  ExpectOpenFails("format version " + std::to_string(kStateFormatVersion ^ 0x02) +
                  ", this build reads " + std::to_string(kStateFormatVersion));
}

TEST_F(TreeCorruptTest, NotAStateFile) {
  std::string bad = good_;
  bad.replace(0, 8, "SQLite f");
  WriteAll(path_, bad);
  ExpectOpenFails("bad magic");
}

TEST_F(TreeCorruptTest, FlippedHeaderBytes) {
  for (size_t off :
       {offsetof(FileHeader, reader_slots), offsetof(FileHeader, file_bytes),
        offsetof(FileHeader, data_offset) + 1, offsetof(FileHeader, header_checksum)}) {
    std::string bad = good_;
    bad[off] ^= 0x10;
    WriteAll(path_, bad);
    ExpectOpenFails("header checksum");
  }
}

TEST_F(TreeCorruptTest, FlippedMetaRecord) {
  const FileHeader* h = reinterpret_cast<const FileHeader*>(good_.data());
  const uint64_t version = h->current.load() & ~kSupersededBit;
  const size_t meta = offsetof(FileHeader, meta) + (version & 1) * sizeof(MetaRecord);
  for (size_t field = 0; field < 11; ++field) {
    std::string bad = good_;
    bad[meta + field * 8] ^= 0x04;
    WriteAll(path_, bad);
    ExpectOpenFails(field == 0 ? "meta record" : "checksum mismatch in the meta record");
  }
}

TEST_F(TreeCorruptTest, FlippedValueOrKeyByteIsFoundByVerify) {
  for (const std::string needle : {"UNIQUE-MARKER-VALUE", "marker"}) {
    const size_t at = good_.find(needle, DataOffset(512));
    ASSERT_NE(at, std::string::npos);
    std::string bad = good_;
    bad[at + 2] ^= 0x01;
    WriteAll(path_, bad);
    auto tree = Tree::Open(path_);
    try {
      tree->Verify();
      ADD_FAILURE() << "verify missed a flipped byte in " << needle;
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), Error::Code::kCorruption);
    }
  }
}

TEST_F(TreeCorruptTest, RandomFlippedBodyBytesNeverCrash) {
  const FileHeader* h = reinterpret_cast<const FileHeader*>(good_.data());
  const uint64_t version = h->current.load() & ~kSupersededBit;
  const uint64_t top = h->meta[version & 1].alloc_top.load();
  const uint64_t data = h->data_offset;
  std::mt19937_64 rng(std::random_device{}());
  int detected = 0;
  constexpr int kFlips = 300;
  for (int i = 0; i < kFlips; ++i) {
    std::string bad = good_;
    const uint64_t off = data + rng() % (top - data);
    bad[off] ^= static_cast<char>(1 << (rng() % 8));
    WriteAll(path_, bad);
    detected += UseDamagedFile();
  }
  std::printf("%d of %d flipped bytes detected\n", detected, kFlips);
  // Padding and unused child slots are not checked; nearly everything else is.
  EXPECT_GT(detected, kFlips / 2);
}

}  // namespace
}  // namespace whycache::tree
