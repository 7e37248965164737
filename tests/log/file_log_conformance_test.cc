// The change log conformance suite against the file log.
#include <memory>

#include "lib/log/file_log.h"
#include "tests/log/change_log_conformance.h"
#include "tests/log/file_log_inspection.h"
#include "tests/support/temp_dir.h"

namespace whycache::testing {
namespace {

class FreshFileLog : public FreshLog {
 public:
  FreshFileLog() {
    log::FileLogOptions options;
    options.create_if_missing = true;
    log::FileLog::Open(dir(), options);
  }

  std::string uri() const override { return "file:" + dir(); }

  std::unique_ptr<ChangeLog> Open(const AppendHooks& hooks) override {
    log::FileLogOptions options;
    options.before_commit = hooks.before_commit;
    // Small segments, so that the suite also crosses segment boundaries.
    options.segment_bytes = 64 << 10;
    return log::FileLog::Open(dir(), options);
  }

  bool CorruptRecord(uint64_t update_id) override {
    const std::optional<FrameLocation> frame = FindFrame(dir(), update_id);
    if (!frame) return false;
    // A byte in the middle of the record body: the frame header stays valid.
    FlipByte(frame->path, frame->offset + log::kFrameHeaderSize + frame->header.body_length / 2);
    return true;
  }

 private:
  std::string dir() const { return temp_.File("log"); }

  TempDir temp_;
};

ChangeLogBackend FileLogBackend() {
  return {"FileLog", [] { return std::make_unique<FreshFileLog>(); }};
}

INSTANTIATE_TEST_SUITE_P(File, ChangeLogConformanceTest, ::testing::Values(FileLogBackend()),
                         BackendName);

}  // namespace
}  // namespace whycache::testing
