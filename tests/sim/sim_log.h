// The change logs a simulation runs against: a file log in a temporary directory, or a MySQL
// log in the test MariaDB (tests/support/test_mariadb.h).
#ifndef WHYCACHE_TESTS_SIM_SIM_LOG_H_
#define WHYCACHE_TESTS_SIM_SIM_LOG_H_

#include <chrono>
#include <memory>
#include <string>

#include "whycache/change_log.h"

namespace whycache::sim {

class SimLog {
 public:
  virtual ~SimLog() = default;

  // The URI machines open.
  virtual std::string uri() const = 0;

  // A new handle for one writer.
  virtual std::unique_ptr<ChangeLog> OpenWriter() = 0;

  // A handle to compact with. `token_retention` is how long a batch's idempotency token is kept
  // (MySQL); the file log has no tokens and ignores it.
  virtual std::unique_ptr<ChangeLog> OpenCompactor(std::chrono::seconds token_retention) = 0;

  // Whether KillServer and StartServer can be used.
  virtual bool CanRestartServer() const = 0;
  // SIGKILL to the log's server, as a crash; StartServer brings it back on the same data.
  virtual void KillServer() = 0;
  virtual void StartServer() = 0;
};

// A fresh file log in `dir`.
std::unique_ptr<SimLog> MakeFileSimLog(const std::string& dir);

// A fresh MySQL log under its own table prefix, dropped when the object dies. Restarts the
// server only if this process started it.
std::unique_ptr<SimLog> MakeMysqlSimLog();

}  // namespace whycache::sim

#endif  // WHYCACHE_TESTS_SIM_SIM_LOG_H_
