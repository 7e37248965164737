// Fresh MySQL logs for the tests: each under its own table prefix in the fixture's MariaDB.
#include <cppconn/prepared_statement.h>

#include <memory>

#include "lib/log/mysql/mysql_change_log.h"
#include "tests/log/log_backends.h"
#include "tests/log/mysql_test_util.h"

namespace whycache::testing {
namespace {

class FreshMysqlLog : public FreshLog {
 public:
  FreshMysqlLog() : prefix_(mysql_log::testing::FreshTablePrefix()) {
    LogOptions options;
    options.create_if_missing = true;
    mysql_log::OpenMysqlChangeLog(uri(), options);
  }

  // Drops what `whycache init` created, so that a long run leaves the database small.
  ~FreshMysqlLog() override { mysql_log::testing::DropLog(prefix_); }

  std::string uri() const override { return mysql_log::testing::LogUri(prefix_); }

  std::unique_ptr<ChangeLog> Open(const AppendHooks& hooks) override {
    mysql_log::MysqlLogOptions options;
    options.before_commit = hooks.before_commit;
    // Tests compact right after writing: they stand for a compaction long after the writers'
    // retries could still look their batches up.
    options.token_retention = std::chrono::seconds(0);
    return mysql_log::OpenMysqlChangeLog(uri(), {}, options);
  }

  // Changes a stored value with plain SQL, leaving its checksum stale.
  bool CorruptRecord(uint64_t update_id) override {
    auto raw = mysql_log::testing::RawConnection();
    std::unique_ptr<sql::PreparedStatement> damage(raw->prepareStatement(
        "UPDATE " + prefix_ + "_log SET value = CONCAT(value, 'x') WHERE update_id = ?"));
    damage->setUInt64(1, update_id);
    return damage->executeUpdate() > 0;
  }

 private:
  const std::string prefix_;
};

}  // namespace

ChangeLogBackend MysqlLogBackend() {
  return {"MysqlLog", [] { return std::make_unique<FreshMysqlLog>(); }};
}

}  // namespace whycache::testing
