// The reader table: slots claimed, moved between files, reaped and shared, checked through the
// pins a writer sees.
#include "lib/tree/reader_table.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <string>

#include "lib/tree/mapped_file.h"
#include "lib/tree/tree.h"
#include "tests/support/temp_dir.h"
#include "whycache/error.h"

namespace whycache::tree {
namespace {

TreeOptions Slots(uint32_t n) {
  TreeOptions o;
  o.initial_file_bytes = 1 << 20;
  o.reader_slots = n;
  return o;
}

// A thread whose move to a rebuilt file fails keeps its slot in the old one: a later move
// releases that slot, not one another reader has claimed since.
TEST(ReaderTableTest, FailedMoveToANewFileKeepsTheOldSlot) {
  testing::TempDir dir;
  const std::string path = dir.File("state");
  auto reader = Tree::Open(path, Slots(2));
  reader->BeginRead();
  ASSERT_EQ(link(path.c_str(), (path + ".old").c_str()), 0);
  Tree::Open(path)->Compact();
  // Both slots of the new file taken.
  auto first = Tree::Open(path);
  first->BeginRead();
  auto second = Tree::Open(path);
  second->BeginRead();
  try {
    reader->BeginRead();
    FAIL() << "BeginRead found a slot in a full table";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), Error::Code::kBusy) << e.what();
  }
  // Another reader of the old file pins a version there.
  std::unique_ptr<Mapping> old = MapFile(path + ".old");
  ReaderSlot* other = ClaimSlot(old->slots, old->header->reader_slots);
  other->pinned.store(1);
  second.reset();
  ReadTxn txn = reader->BeginRead();
  EXPECT_EQ(other->pinned.load(), 1u) << "the other reader's pin was cleared";
  EXPECT_EQ(other->pid.load(), static_cast<uint32_t>(getpid()));
  ReleaseSlot(other);
}

}  // namespace
}  // namespace whycache::tree
