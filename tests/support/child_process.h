// Real child processes for multi-process and crash tests: io::ChildProcess, under the name the
// tests use.
#ifndef WHYCACHE_TESTS_SUPPORT_CHILD_PROCESS_H_
#define WHYCACHE_TESTS_SUPPORT_CHILD_PROCESS_H_

#include "lib/io/child_process.h"

namespace whycache::testing {

using io::ChildProcess;

}  // namespace whycache::testing

#endif  // WHYCACHE_TESTS_SUPPORT_CHILD_PROCESS_H_
