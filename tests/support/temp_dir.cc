#include "tests/support/temp_dir.h"

#include <stdlib.h>

namespace whycache::testing {

namespace {

std::string TestTmpDir() {
  const char* base = getenv("TEST_TMPDIR");
  return base != nullptr && *base != '\0' ? base : "/tmp";
}

}  // namespace

TempDir::TempDir() : TempDir(TestTmpDir()) {}

TempDir::TempDir(const std::string& parent) : io::TempDir(parent, "whycache-test-") {}

}  // namespace whycache::testing
