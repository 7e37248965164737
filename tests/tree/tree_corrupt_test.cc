// Damaged state files: each must give Error(kCorruption) with a clear message, never a crash
// (these tests also run under AddressSanitizer).
#include <gtest/gtest.h>

#include <cstddef>
#include <cstring>
#include <fstream>
#include <random>
#include <sstream>
#include <string>

#include "lib/tree/art_node.h"
#include "lib/tree/file_layout.h"
#include "lib/tree/mapped_file.h"
#include "lib/tree/tree.h"
#include "tests/support/boot_stamp.h"
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

// The key count is checksummed with the rest of the meta record, but a count that no file of
// this size can hold would size a writer's hash index: it is refused on open.
TEST_F(TreeCorruptTest, KeyCountBeyondWhatTheFileHolds) {
  {
    // Patched through a mapping, which is aligned for FileHeader.
    std::unique_ptr<Mapping> m = MapFile(path_);
    MetaRecord& meta = m->header->meta[m->header->current.load() & 1];
    meta.key_count.store(uint64_t{1} << 40);
    meta.checksum.store(MetaChecksum(meta));
  }
  ExpectOpenFails("more than the file can hold");
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

// A two-word leaf header for lengths that fit one word would free into the wrong size class.
TEST_F(TreeCorruptTest, LeafWithAWideHeaderForShortLengthsIsRefused) {
  const size_t at = good_.find("marker", DataOffset(512));
  ASSERT_NE(at, std::string::npos);
  const uint32_t word = kShortLeafFlag | 6 << 23 | 19;
  ASSERT_EQ(good_.compare(at - 4, 4, reinterpret_cast<const char*>(&word), 4), 0);
  std::string bad = good_;
  const uint32_t wide[2] = {6, 19};
  bad.replace(at - 4, 8, reinterpret_cast<const char*>(wide), 8);
  WriteAll(path_, bad);
  auto tree = Tree::Open(path_);
  try {
    tree->BeginRead().Get("marker");
    ADD_FAILURE() << "read a leaf with a malformed header";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), Error::Code::kCorruption);
    EXPECT_NE(std::string(e.what()).find("malformed header"), std::string::npos) << e.what();
  }
}

// Commits do not sync: a file from before a restart is verified whole once, then stamped.
TEST_F(TreeCorruptTest, FileOfAnotherBootIsVerifiedOnOpenAndStamped) {
  ASSERT_NE(CurrentBootId(), (BootId{0, 0})) << "the kernel gives no boot id";
  EXPECT_EQ(testing::ReadBootStamp(path_), CurrentBootId());
  for (const BootId& other : {BootId{0, 0}, BootId{CurrentBootId()[0], ~CurrentBootId()[1]}}) {
    testing::WriteBootStamp(path_, other);
    auto tree = Tree::Open(path_);
    EXPECT_EQ(tree->BeginRead().Get("marker").value_or(""), "UNIQUE-MARKER-VALUE");
    EXPECT_EQ(testing::ReadBootStamp(path_), CurrentBootId());
  }
}

TEST_F(TreeCorruptTest, TornFileOfAnotherBootIsRefusedOnOpen) {
  const size_t at = good_.find("UNIQUE-MARKER-VALUE", DataOffset(512));
  ASSERT_NE(at, std::string::npos);
  std::string bad = good_;
  bad[at + 2] = '\0';  // A page that never reached the disk reads as zeros.
  WriteAll(path_, bad);
  testing::WriteBootStamp(path_, {1, 2});
  ExpectOpenFails("before the machine last restarted");
  // Refused, not stamped: the next open checks again.
  EXPECT_EQ(testing::ReadBootStamp(path_), (BootId{1, 2}));
  ExpectOpenFails("content hash mismatch");
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

// Writes a damaged file whose nodes are shared: a chain of Node4s in which both children of
// each node are the next node, so that 2^40 paths lead through it to the same few leaves.
void WriteSharedNodeFile(const std::string& path, bool superseded) {
  constexpr int kDepth = 40;
  std::unique_ptr<Mapping> m = CreateFile(path, 0, 1, 1, 0, nullptr, nullptr);
  uint64_t top = m->header->data_offset;
  auto allocate = [&](uint64_t bytes) {
    const uint64_t off = top;
    top += AlignUp(bytes, 8);
    return off;
  };
  auto leaf = [&](const std::string& key) {
    const uint64_t off = allocate(LeafBytes(key.size(), 0));
    WriteLeaf(m->base + off, key, "");
    return off | 1;
  };
  Ref below = 0;
  for (int depth = kDepth; depth >= 0; --depth) {
    const uint64_t off = allocate(InnerBytes(kNode4, 0));
    auto* n = reinterpret_cast<InnerHeader*>(m->base + off);
    n->kind = kNode4;
    n->count = 2;
    n->prefix_len = 0;
    n->end_leaf = leaf(std::string(depth, 'a'));
    uint8_t* body = MutableBody(n);
    body[0] = 'a';
    body[1] = 'b';
    Ref* children = reinterpret_cast<Ref*>(body + 8);
    children[0] = below != 0 ? below : leaf(std::string(depth + 1, 'a'));
    children[1] = below != 0 ? below : leaf(std::string(depth, 'a') + "b");
    below = off;
  }
  const uint64_t version = m->header->current.load();
  MetaValues meta = LoadMeta(m->header->meta[version & 1]);
  meta.root = below;
  meta.alloc_top = top;
  meta.key_count = kDepth + 3;
  StoreMeta(m->header->meta[version & 1], meta);
  if (superseded) m->header->current.fetch_or(kSupersededBit);
}

// Readers do not verify: a scan must still end, at the first repeated entry.
TEST(TreeSharedNodesTest, ScanStopsAtARepeatedEntry) {
  testing::TempDir dir;
  const std::string path = dir.File("state");
  WriteSharedNodeFile(path, /*superseded=*/false);
  auto tree = Tree::Open(path);
  ReadTxn txn = tree->BeginRead();
  uint64_t entries = 0;
  try {
    txn.Scan("", [&](std::string_view, std::string_view) { return ++entries > 0; });
    ADD_FAILURE() << "scanned a tree with shared nodes to its end";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), Error::Code::kCorruption) << e.what();
  }
  EXPECT_LE(entries, 100u);
}

// A file marked superseded is rebuilt by the next writer before anything else; the copy walks
// the damaged tree and must stop just the same.
TEST(TreeSharedNodesTest, RebuildOfASupersededFileStops) {
  testing::TempDir dir;
  const std::string path = dir.File("state");
  WriteSharedNodeFile(path, /*superseded=*/true);
  auto tree = Tree::Open(path);
  try {
    tree->Verify();
    ADD_FAILURE() << "verified a tree with shared nodes";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), Error::Code::kCorruption) << e.what();
  }
}

}  // namespace
}  // namespace whycache::tree
