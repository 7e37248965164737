// The MySQL log for the simulation, in the fixture's MariaDB.
#include <stdexcept>

#include "lib/log/mysql/mysql_change_log.h"
#include "tests/log/mysql_test_util.h"
#include "tests/sim/sim_log.h"

namespace whycache::sim {
namespace {

namespace mt = mysql_log::testing;

class MysqlSimLog : public SimLog {
 public:
  MysqlSimLog() { mt::CreateFreshLog({}, &prefix_); }
  // Drops the tables, so that long runs leave the database small.
  ~MysqlSimLog() override { mt::DropLog(prefix_); }

  std::string uri() const override { return mt::LogUri(prefix_); }
  std::unique_ptr<ChangeLog> OpenWriter() override { return OpenChangeLog(uri()); }

  std::unique_ptr<ChangeLog> OpenCompactor(std::chrono::seconds token_retention) override {
    mysql_log::MysqlLogOptions options;
    options.token_retention = token_retention;
    return mysql_log::OpenMysqlChangeLog(uri(), {}, options);
  }

  bool CanRestartServer() const override { return mt::Server().owned(); }
  void KillServer() override { mt::Server().Kill(); }
  void StartServer() override { mt::Server().Start(); }

 private:
  std::string prefix_;
};

}  // namespace

std::unique_ptr<SimLog> MakeMysqlSimLog() { return std::make_unique<MysqlSimLog>(); }

}  // namespace whycache::sim
