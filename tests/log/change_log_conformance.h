// The conformance suite every ChangeLog implementation passes: a set of GoogleTest TEST_P tests
// parameterized by a ChangeLogBackend. A backend's test binary instantiates it:
//
//   INSTANTIATE_TEST_SUITE_P(File, ChangeLogConformanceTest,
//                            ::testing::Values(FileLogBackend()), BackendName);
//
// The backends are in log_backends.h.
#ifndef WHYCACHE_TESTS_LOG_CHANGE_LOG_CONFORMANCE_H_
#define WHYCACHE_TESTS_LOG_CHANGE_LOG_CONFORMANCE_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "gtest/gtest.h"
#include "tests/log/log_backends.h"
#include "whycache/change_log.h"

namespace whycache::testing {

class ChangeLogConformanceTest : public ::testing::TestWithParam<ChangeLogBackend> {
 protected:
  void SetUp() override;

  // Opens a ChangeLog object on this test's log.
  std::unique_ptr<ChangeLog> OpenLog(const AppendHooks& hooks = {}) { return fresh_->Open(hooks); }

  std::unique_ptr<FreshLog> fresh_;
};

}  // namespace whycache::testing

#endif  // WHYCACHE_TESTS_LOG_CHANGE_LOG_CONFORMANCE_H_
