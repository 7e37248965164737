// The file log for the simulation.
#include <stdexcept>

#include "tests/sim/sim_log.h"

namespace whycache::sim {
namespace {

// The run is never cut by a machine crash, so appends need not wait for the disk.
LogOptions WriterOptions() {
  LogOptions options;
  options.fsync = FsyncPolicy::kNever;
  return options;
}

class FileSimLog : public SimLog {
 public:
  explicit FileSimLog(const std::string& dir) : uri_("file:" + dir) {
    LogOptions options = WriterOptions();
    options.create_if_missing = true;
    OpenChangeLog(uri_, options);
  }

  std::string uri() const override { return uri_; }
  std::unique_ptr<ChangeLog> OpenWriter() override { return OpenChangeLog(uri_, WriterOptions()); }
  std::unique_ptr<ChangeLog> OpenCompactor(std::chrono::seconds) override { return OpenWriter(); }
  bool CanRestartServer() const override { return false; }
  void KillServer() override { throw std::logic_error("the file log has no server"); }
  void StartServer() override { throw std::logic_error("the file log has no server"); }

 private:
  const std::string uri_;
};

}  // namespace

std::unique_ptr<SimLog> MakeFileSimLog(const std::string& dir) {
  return std::make_unique<FileSimLog>(dir);
}

}  // namespace whycache::sim
