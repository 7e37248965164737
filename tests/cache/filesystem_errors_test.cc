// Failures of the file system reach callers as whycache::Error naming the path, never as
// std::filesystem::filesystem_error or another exception type the API does not promise.
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <string>

#include "gtest/gtest.h"
#include "tests/support/child_process.h"
#include "tests/support/temp_dir.h"
#include "whycache/cache.h"
#include "whycache/change_log.h"
#include "whycache/error.h"

namespace whycache::testing {
namespace {

// Runs `body` and reports what escaped it: "" for nothing, "whycache::Error" for one naming
// `path`, else the exception's message.
template <typename Body>
std::string Escaped(const std::string& path, Body body) {
  try {
    body();
    return "";
  } catch (const Error& e) {
    if (std::string(e.what()).find(path) == std::string::npos) {
      return std::string("whycache::Error not naming ") + path + ": " + e.what();
    }
    return "whycache::Error";
  } catch (const std::exception& e) {
    return std::string("not a whycache::Error: ") + e.what();
  }
}

TEST(FilesystemErrorsTest, AStatePathTooLongToStatWithTheLogDown) {
  TempDir dir;
  const std::string state = dir.File(std::string(300, 's') + "/machine.state");
  CacheOptions options;
  options.state_path = state;
  options.log_uri = "file:" + dir.File("never-initialized");  // Unavailable: no `init` yet.
  EXPECT_EQ(Escaped("never-initialized", [&] { Cache::Open(options); }), "whycache::Error");
}

TEST(FilesystemErrorsTest, ARelativeLogDirectoryWhenTheWorkingDirectoryIsGone) {
  TempDir dir;
  const std::string gone = dir.File("gone");
  // A child: the working directory is the whole process's.
  ChildProcess child([&] {
    if (::mkdir(gone.c_str(), 0700) != 0 || ::chdir(gone.c_str()) != 0 ||
        ::rmdir(gone.c_str()) != 0) {
      return 2;
    }
    const std::string escaped = Escaped("log", [] { OpenChangeLog("file:log", {}); });
    if (escaped == "whycache::Error") return 0;
    std::fprintf(stderr, "%s\n", escaped.c_str());
    return 3;
  });
  const int status = child.Wait();
  EXPECT_TRUE(ChildProcess::Succeeded(status)) << ChildProcess::Describe(status);
}

}  // namespace
}  // namespace whycache::testing
