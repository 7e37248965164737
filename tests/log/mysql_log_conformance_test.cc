// The change log conformance suite against the MySQL log in the fixture's MariaDB.
#include "tests/log/change_log_conformance.h"
#include "tests/log/log_backends.h"

namespace whycache::testing {
namespace {

INSTANTIATE_TEST_SUITE_P(Mysql, ChangeLogConformanceTest, ::testing::Values(MysqlLogBackend()),
                         BackendName);

}  // namespace
}  // namespace whycache::testing
