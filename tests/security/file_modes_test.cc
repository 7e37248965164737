// What whycache creates on disk (state files and their locks, rebuilt states, log segments,
// manifest and lock files, compacted segments, snapshots) is mode 0640, and the log directory
// 0750, whatever the umask of the process that creates them: never world-readable or writable.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "lib/io/posix_file.h"
#include "tests/support/temp_dir.h"
#include "whycache/cache.h"

namespace whycache::testing {
namespace {

namespace fs = std::filesystem;

mode_t ModeOf(const std::string& path) {
  struct stat st;
  EXPECT_EQ(lstat(path.c_str(), &st), 0) << path;
  return st.st_mode & 07777;
}

// Sets the process umask for the scope of the object.
class ScopedUmask {
 public:
  explicit ScopedUmask(mode_t mask) : saved_(umask(mask)) {}
  ~ScopedUmask() { umask(saved_); }

 private:
  const mode_t saved_;
};

// Runs every operation that creates files, under `dir`, and returns the file names it left.
std::vector<std::string> CreateEverything(const TempDir& dir) {
  CacheOptions options;
  options.state_path = dir.File("data.state");
  options.log_uri = "file:" + dir.File("log");
  options.log_options.create_if_missing = true;
  {
    auto cache = Cache::Open(options);
    for (int i = 0; i < 50; ++i) cache->Set("key" + std::to_string(i % 7), std::to_string(i));
    cache->Delete("key1");
    cache->UpdateNow();
    cache->Compact({.tombstone_retention = std::chrono::seconds(0)});
    cache->CreateSnapshot(dir.File("data.snap"));
    // A restore builds a replacement state file and takes the replacement lock.
    cache->RestoreSnapshot(dir.File("data.snap"));
    cache->UpdateNow();
  }
  // A damaged state file is moved aside and rebuilt from the log.
  std::ofstream(dir.File("data.state"), std::ios::in | std::ios::out) << "damaged";
  Cache::Open(options)->UpdateNow();

  std::vector<std::string> names;
  for (const fs::directory_entry& e : fs::recursive_directory_iterator(dir.path())) {
    names.push_back(fs::relative(e.path(), dir.path()).string());
  }
  return names;
}

class FileModesTest : public ::testing::TestWithParam<mode_t> {};

TEST_P(FileModesTest, EveryCreatedFileIsOwnerWriteGroupRead) {
  TempDir dir;
  std::vector<std::string> names;
  {
    ScopedUmask mask(GetParam());
    names = CreateEverything(dir);
  }
  // The operations above must have created each kind of file this test vouches for.
  for (const char* expected : {"data.state", "data.state.lock", "data.state.replace", "data.snap",
                               "log", "log/MANIFEST"}) {
    EXPECT_NE(std::find(names.begin(), names.end(), expected), names.end()) << expected;
  }
  int segments = 0;
  for (const std::string& name : names) {
    const std::string path = dir.File(name);
    if (name.ends_with(".seg")) ++segments;
    if (fs::is_directory(path)) {
      EXPECT_EQ(ModeOf(path), io::kDirectoryMode) << name;
    } else {
      EXPECT_EQ(ModeOf(path), io::kFileMode) << name;
    }
  }
  EXPECT_GE(segments, 1);
}

// 0 lets every bit through (nothing may be world-writable even then); 077 takes the group's
// bits away (the group must still be able to read).
INSTANTIATE_TEST_SUITE_P(Umasks, FileModesTest, ::testing::Values(0, 022, 077));

TEST(OpenDescriptorTest, SetsTheModeOfWhatItCreatesAndKeepsTheModeOfWhatExists) {
  TempDir dir;
  ScopedUmask mask(0);
  const std::string created = dir.File("created");
  int fd = io::OpenDescriptor(created, O_RDWR | O_CREAT, 0600);
  ASSERT_GE(fd, 0);
  close(fd);
  EXPECT_EQ(ModeOf(created), 0600u);

  const std::string existing = dir.File("existing");
  std::ofstream(existing) << "x";
  ASSERT_EQ(chmod(existing.c_str(), 0604), 0);
  fd = io::OpenDescriptor(existing, O_RDWR | O_CREAT);
  ASSERT_GE(fd, 0);
  close(fd);
  EXPECT_EQ(ModeOf(existing), 0604u);

  EXPECT_EQ(io::OpenDescriptor(dir.File("missing/file"), O_RDWR | O_CREAT), -1);
  EXPECT_EQ(errno, ENOENT);
}

}  // namespace
}  // namespace whycache::testing
