#include "tests/support/boot_stamp.h"

#include <fcntl.h>
#include <unistd.h>

#include <memory>

#include "gtest/gtest.h"
#include "lib/tree/file_layout.h"

namespace whycache::testing {
namespace {

off_t StampOffset() {
  const auto header = std::make_unique<tree::FileHeader>();
  return reinterpret_cast<const char*>(&header->boot_stamp) -
         reinterpret_cast<const char*>(header.get());
}

}  // namespace

tree::BootId ReadBootStamp(const std::string& path) {
  tree::BootId stamp = {0, 0};
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  EXPECT_GE(fd, 0) << path;
  EXPECT_EQ(pread(fd, stamp.data(), sizeof(stamp), StampOffset()),
            static_cast<ssize_t>(sizeof(stamp)));
  close(fd);
  return stamp;
}

void WriteBootStamp(const std::string& path, const tree::BootId& stamp) {
  const int fd = open(path.c_str(), O_WRONLY | O_CLOEXEC);
  ASSERT_GE(fd, 0) << path;
  EXPECT_EQ(pwrite(fd, stamp.data(), sizeof(stamp), StampOffset()),
            static_cast<ssize_t>(sizeof(stamp)));
  close(fd);
}

}  // namespace whycache::testing
