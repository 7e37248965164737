// Benchmarks of the file log: bazel run --config=opt //tests/log:file_log_bench
// The log lives in a temporary directory under $TEST_TMPDIR or /tmp.
#include <memory>

#include "lib/log/file_log.h"
#include "tests/log/change_log_bench.h"
#include "tests/support/temp_dir.h"

namespace whycache::testing {
namespace {

class FileBenchLog : public BenchLog {
 public:
  explicit FileBenchLog(FsyncPolicy fsync) : fsync_(fsync) {
    log::FileLogOptions options;
    options.create_if_missing = true;
    log::FileLog::Open(dir(), options);
  }

  std::unique_ptr<ChangeLog> Open() override {
    log::FileLogOptions options;
    options.fsync = fsync_;
    return log::FileLog::Open(dir(), options);
  }

 private:
  std::string dir() const { return temp_.File("log"); }

  TempDir temp_;
  FsyncPolicy fsync_;
};

}  // namespace
}  // namespace whycache::testing

int main(int argc, char** argv) {
  using whycache::testing::FileBenchLog;
  return whycache::testing::RunChangeLogBenchmarks(
      {"FileLog",
       [](whycache::FsyncPolicy fsync) { return std::make_unique<FileBenchLog>(fsync); }},
      argc, argv);
}
