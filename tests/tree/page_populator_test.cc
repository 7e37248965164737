#include "lib/tree/page_populator.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <chrono>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "tests/support/temp_dir.h"

namespace whycache::tree {
namespace {

constexpr uint64_t kPage = 4096;
constexpr uint64_t kBytes = uint64_t{16} << 20;

// A shared writable mapping of a fresh sparse file, as a state file under construction.
class SparseMapping {
 public:
  explicit SparseMapping(const std::string& path) {
    fd_ = open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC, 0600);
    EXPECT_GE(fd_, 0);
    EXPECT_EQ(ftruncate(fd_, kBytes), 0);
    void* p = mmap(nullptr, kBytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd_, 0);
    EXPECT_NE(p, MAP_FAILED);
    base_ = static_cast<char*>(p);
  }
  ~SparseMapping() {
    munmap(base_, kBytes);
    close(fd_);
  }
  char* base() const { return base_; }

  // Pages of [from, to) the kernel holds in memory (read-ahead may bring in more than asked).
  uint64_t ResidentPages(uint64_t from, uint64_t to) const {
    std::vector<unsigned char> v((to - from) / kPage);
    EXPECT_EQ(mincore(base_ + from, to - from, v.data()), 0);
    uint64_t n = 0;
    for (unsigned char c : v) n += c & 1;
    return n;
  }

 private:
  int fd_ = -1;
  char* base_ = nullptr;
};

TEST(PagePopulatorTest, MapsWhatIsAskedFor) {
  testing::TempDir dir;
  SparseMapping m(dir.File("file"));
  {
    PagePopulator populator(m.base(), 4 * kPage, kBytes);
    populator.MapBelow(kBytes / 2);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (m.ResidentPages(4 * kPage, kBytes / 2) < (kBytes / 2 - 4 * kPage) / kPage &&
           std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  }
  EXPECT_EQ(m.ResidentPages(4 * kPage, kBytes / 2), (kBytes / 2 - 4 * kPage) / kPage);
  // Mapping a page of a file does not change its bytes.
  for (uint64_t off = 0; off < kBytes; off += kPage) ASSERT_EQ(m.base()[off], 0) << off;
}

TEST(PagePopulatorTest, StopsAtOnceWhenDestroyedAndClampsPastTheEnd) {
  testing::TempDir dir;
  SparseMapping m(dir.File("file"));
  for (int round = 0; round < 50; ++round) {
    PagePopulator populator(m.base(), 0, kBytes);
    populator.MapBelow(kBytes * 4);
    if (round % 2 == 0) populator.MapBelow(kPage);
  }
  SUCCEED() << "every populator was joined";
}

TEST(PagePopulatorTest, WriterAndPopulatorShareTheMapping) {
  testing::TempDir dir;
  SparseMapping m(dir.File("file"));
  {
    PagePopulator populator(m.base(), 0, kBytes);
    for (uint64_t off = 0; off < kBytes; off += kPage) {
      populator.MapBelow(off + 8 * kPage);
      m.base()[off] = static_cast<char>(off / kPage % 251 + 1);
    }
  }
  for (uint64_t off = 0; off < kBytes; off += kPage) {
    ASSERT_EQ(m.base()[off], static_cast<char>(off / kPage % 251 + 1)) << off;
  }
}

}  // namespace
}  // namespace whycache::tree
