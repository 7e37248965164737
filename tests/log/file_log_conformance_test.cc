// The change log conformance suite against the file log.
#include "tests/log/change_log_conformance.h"
#include "tests/log/log_backends.h"

namespace whycache::testing {
namespace {

INSTANTIATE_TEST_SUITE_P(File, ChangeLogConformanceTest, ::testing::Values(FileLogBackend()),
                         BackendName);

}  // namespace
}  // namespace whycache::testing
