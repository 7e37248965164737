// The chaos run (chaos_harness.h) against a file log whose directory is made read-only and then
// full for a stretch of the run.
//
// Tests run as root, whom permission bits do not stop. Every child of the run therefore drops
// the capabilities that bypass them (CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH, CAP_FOWNER), as an
// unprivileged service would run: it stays uid 0 and owns the files, so the owner's bits apply
// and a directory and files without write bits are read-only to it. "Full" is RLIMIT_FSIZE in
// the writing children, set just above the size of the active segment, with SIGXFSZ ignored:
// an append then writes part of its frame and fails with EFBIG, as on a full disk. (A real
// ENOSPC needs a small filesystem, which means mounting one: not possible in the sandbox.)
#include <fcntl.h>
#include <linux/capability.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <map>
#include <random>
#include <stdexcept>
#include <string>

#include "gtest/gtest.h"
#include "lib/log/manifest.h"
#include "lib/log/segment_format.h"
#include "tests/chaos/chaos_harness.h"
#include "tests/log/log_backends.h"
#include "tests/support/child_process.h"
#include "tests/support/temp_dir.h"

namespace whycache::testing {
namespace {

namespace fs = std::filesystem;
using std::chrono::milliseconds;

void DropPermissionOverrides() {
  __user_cap_header_struct header = {_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[2] = {};
  if (syscall(SYS_capget, &header, data) != 0) {
    throw std::runtime_error(std::string("capget: ") + std::strerror(errno));
  }
  for (int cap : {CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH, CAP_FOWNER}) {
    const uint32_t bit = 1u << (cap % 32);
    data[cap / 32].effective &= ~bit;
    data[cap / 32].permitted &= ~bit;
    data[cap / 32].inheritable &= ~bit;
  }
  if (syscall(SYS_capset, &header, data) != 0) {
    throw std::runtime_error(std::string("capset: ") + std::strerror(errno));
  }
}

// Every write at or past `bytes` into any file fails with EFBIG instead of killing the process.
void LimitFileSize(uint64_t bytes) {
  signal(SIGXFSZ, SIG_IGN);
  const rlimit limit = {bytes, bytes};
  if (setrlimit(RLIMIT_FSIZE, &limit) != 0) {
    throw std::runtime_error(std::string("setrlimit: ") + std::strerror(errno));
  }
}

// The size of the segment appends go to: the last one the manifest lists.
uint64_t ActiveSegmentBytes(const std::string& dir) {
  const log::Manifest manifest = log::ReadManifest(dir);
  return fs::file_size(dir + "/" + log::SegmentFileName(manifest.segments.back().number));
}

// Takes the write bits off a directory and its files, and puts the old modes back.
class ReadOnlyDirectory {
 public:
  explicit ReadOnlyDirectory(std::string dir) : dir_(std::move(dir)) {}

  void Apply() {
    modes_.clear();
    Remove(dir_);
    for (const fs::directory_entry& entry : fs::directory_iterator(dir_)) {
      Remove(entry.path());
    }
  }
  void Restore() {
    for (const auto& [path, mode] : modes_) fs::permissions(path, mode);
  }

 private:
  void Remove(const fs::path& path) {
    const fs::perms mode = fs::status(path).permissions();
    modes_[path] = mode;
    fs::permissions(
        path, mode & ~(fs::perms::owner_write | fs::perms::group_write | fs::perms::others_write));
  }

  const std::string dir_;
  std::map<fs::path, fs::perms> modes_;
};

// The two mechanisms bite in this environment: without the overrides a read-only directory
// refuses a new file, and a file size limit cuts a write short, then refuses it.
TEST(FileLogChaosTest, ReadOnlyAndFullMechanismsWorkHere) {
  TempDir dir;
  const std::string locked = dir.File("locked");
  fs::create_directory(locked);
  ReadOnlyDirectory read_only_dir(locked);
  read_only_dir.Apply();
  ChildProcess read_only([&] {
    DropPermissionOverrides();
    const int fd = open((locked + "/new").c_str(), O_WRONLY | O_CREAT, 0644);
    return fd < 0 && errno == EACCES ? 0 : 1;
  });
  EXPECT_TRUE(ChildProcess::Succeeded(read_only.Wait()));
  read_only_dir.Restore();

  const std::string file = dir.File("full");
  ChildProcess full([&] {
    LimitFileSize(100);
    const int fd = open(file.c_str(), O_WRONLY | O_CREAT, 0644);
    const std::string bytes(200, 'x');
    const ssize_t first = write(fd, bytes.data(), bytes.size());
    const ssize_t second = write(fd, bytes.data(), bytes.size());
    return first == 100 && second < 0 && errno == EFBIG ? 0 : 1;
  });
  EXPECT_TRUE(ChildProcess::Succeeded(full.Wait()));
  EXPECT_EQ(fs::file_size(file), 100u);
}

TEST(FileLogChaosTest, ReadsNeverBreakAndNoWriteIsLost) {
  std::unique_ptr<FreshLog> fresh = FileLogBackend().create();
  const std::string dir = fresh->uri().substr(std::strlen("file:"));
  ReadOnlyDirectory read_only_dir(dir);
  ChaosOptions options;
  options.log = fresh.get();
  options.duration = ChaosDuration(milliseconds(45'000));
  options.seed = std::random_device()();
  options.disruptions = {
      {.name = "read-only",
       .start = 0.30,
       .end = 0.45,
       .begin = [&] { read_only_dir.Apply(); },
       .finish = [&] { read_only_dir.Restore(); },
       .restart_log_writers = true},
      {.name = "full", .start = 0.60, .end = 0.75, .restart_log_writers = true},
  };
  options.child_setup = DropPermissionOverrides;
  options.log_writer_setup = [&](int disruption) {
    if (disruption != 1) return;
    LimitFileSize(ActiveSegmentBytes(dir) + std::random_device()() % 4096);
  };
  std::printf("seed %llu, %lld ms\n", static_cast<unsigned long long>(options.seed),
              static_cast<long long>(options.duration.count()));

  const ChaosReport report = RunChaos(options);
  std::printf("%s", report.Summary(options.disruptions).c_str());
  ExpectNothingBrokeOrLost(report);
  EXPECT_GT(report.writes_returned[0], 0u);
  EXPECT_EQ(report.writes_returned[1], 0u) << "a write succeeded in a read-only directory";
  EXPECT_GT(report.writes_refused[1], 0u);
  EXPECT_GT(report.writes_refused[2], 0u);
}

}  // namespace
}  // namespace whycache::testing
