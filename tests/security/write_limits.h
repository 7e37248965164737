// The size limits of whycache/limits.h at their boundaries, on every write path (Cache::Set,
// SetMulti, Delete, DeleteMulti, Write and ChangeLog::Append), against each log backend: a batch
// exactly at a limit is appended, one unit more is refused with Error(kInvalidArgument) naming
// the limit, and nothing is appended.
#ifndef WHYCACHE_TESTS_SECURITY_WRITE_LIMITS_H_
#define WHYCACHE_TESTS_SECURITY_WRITE_LIMITS_H_

#include <memory>

#include "gtest/gtest.h"
#include "tests/log/log_backends.h"
#include "tests/support/temp_dir.h"
#include "whycache/cache.h"
#include "whycache/change_log.h"

namespace whycache::testing {

class WriteLimitsTest : public ::testing::TestWithParam<ChangeLogBackend> {
 protected:
  void SetUp() override;

  TempDir dir_;
  std::unique_ptr<FreshLog> fresh_;
  std::unique_ptr<Cache> cache_;
  std::unique_ptr<ChangeLog> log_;
};

}  // namespace whycache::testing

#endif  // WHYCACHE_TESTS_SECURITY_WRITE_LIMITS_H_
