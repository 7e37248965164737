// Benchmarks of the MySQL log (the shared suite of change_log_bench.h) against the fixture's
// throwaway MariaDB, started on first use:
//
//   bazel run --config=opt //tests/log:mysql_log_bench
//
// The server decides durability (innodb_flush_log_at_trx_commit = 1 in the fixture), so the
// suite's fsync and nofsync variants measure the same thing here. Filling the log of 1M
// mutations in batches of 10 takes 100,000 appends, a few minutes; skip it with
// --benchmark_filter=-batches_of_10.
//
// The log is opened with a token retention of 0, so that the suite's compaction drops fully
// superseded batches written a moment ago at once, as it would after an hour in production.
#include <benchmark/benchmark.h>

#include <chrono>
#include <memory>
#include <string>

#include "lib/log/mysql/mysql_change_log.h"
#include "tests/log/change_log_bench.h"
#include "tests/log/mysql_test_util.h"

namespace whycache::mysql_log {
namespace {

class MysqlBenchLog : public whycache::testing::BenchLog {
 public:
  MysqlBenchLog() : prefix_(testing::FreshTablePrefix()) {
    LogOptions options;
    options.create_if_missing = true;
    OpenMysqlChangeLog(testing::LogUri(prefix_), options);
  }
  ~MysqlBenchLog() override { testing::DropLog(prefix_); }

  std::unique_ptr<ChangeLog> Open() override {
    MysqlLogOptions settings;
    settings.token_retention = std::chrono::seconds(0);
    return OpenMysqlChangeLog(testing::LogUri(prefix_), {}, settings);
  }

 private:
  const std::string prefix_;
};

}  // namespace
}  // namespace whycache::mysql_log

int main(int argc, char** argv) {
  return whycache::testing::RunChangeLogBenchmarks(
      {"MysqlLog",
       [](whycache::FsyncPolicy) {
         return std::make_unique<whycache::mysql_log::MysqlBenchLog>();
       }},
      argc, argv);
}
