// Fresh, empty logs of every backend, for the tests and benchmarks that run against each log:
// the conformance suite (change_log_conformance.h), the cache tests and the benchmarks.
//
// Multi-process tests fork (tests/support/child_process.h): each child opens its own ChangeLog
// objects through FreshLog::Open.
#ifndef WHYCACHE_TESTS_LOG_LOG_BACKENDS_H_
#define WHYCACHE_TESTS_LOG_LOG_BACKENDS_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "gtest/gtest.h"
#include "whycache/change_log.h"

namespace whycache::testing {

// Test hooks a backend installs in the logs it opens.
struct AppendHooks {
  // Called inside every append transaction (after the update id is decided, before the batch
  // commits). The suite uses it to inject random delays. May be empty.
  std::function<void()> before_commit;
};

// A log created empty for one test. Its storage is removed when the object is destroyed.
class FreshLog {
 public:
  virtual ~FreshLog() = default;

  // A URI that OpenChangeLog accepts for this log.
  virtual std::string uri() const = 0;

  // Opens a new ChangeLog object on this log with `hooks` installed. Safe to call in a forked
  // child; every process (and thread) opens its own.
  virtual std::unique_ptr<ChangeLog> Open(const AppendHooks& hooks) = 0;

  // Damages the stored record of `update_id` so that reading it must throw Error(kCorruption).
  // Returns false if the backend cannot do this (the corruption test is then skipped).
  virtual bool CorruptRecord(uint64_t update_id) = 0;
};

struct ChangeLogBackend {
  // The test name suffix: letters, digits and underscores only.
  std::string name;
  // Creates a fresh, empty log; called once per test, in the test's main process.
  std::function<std::unique_ptr<FreshLog>()> create;
};

// Names an instantiation after ChangeLogBackend::name.
std::string BackendName(const ::testing::TestParamInfo<ChangeLogBackend>& info);

// Logs in fresh temporary directories.
ChangeLogBackend FileLogBackend();

// Logs under fresh table prefixes in the test MariaDB (tests/support/test_mariadb.h), which
// the first one starts. Tests using it carry the "mysql" and "external" tags.
ChangeLogBackend MysqlLogBackend();

}  // namespace whycache::testing

#endif  // WHYCACHE_TESTS_LOG_LOG_BACKENDS_H_
