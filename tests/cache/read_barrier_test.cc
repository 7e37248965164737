// The barrier a Cache's read transactions use, as Stats() reports it, against what the kernel
// says: where it offers membarrier(MEMBARRIER_CMD_GLOBAL_EXPEDITED), a process that opened a
// Cache is registered for it (the kernel's own list of registrations, where it keeps one) and its
// stats say "membarrier", and so are a forked child's.
#include <linux/membarrier.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "tests/support/child_process.h"
#include "tests/support/temp_dir.h"
#include "whycache/cache.h"
#include "whycache/change_log.h"

namespace whycache::testing {
namespace {

// Kernels before 6.3 neither define nor offer it.
constexpr long kGetRegistrations = 1 << 9;

long Membarrier(long command) { return syscall(__NR_membarrier, command, 0, 0); }

bool KernelOffersGlobalExpedited() {
  const long offered = Membarrier(MEMBARRIER_CMD_QUERY);
  return offered > 0 && (offered & MEMBARRIER_CMD_GLOBAL_EXPEDITED) != 0 &&
         (offered & MEMBARRIER_CMD_REGISTER_GLOBAL_EXPEDITED) != 0;
}

// 1 when the kernel lists this process as registered, 0 when not, -1 when it keeps no list.
int KernelListsRegistration() {
  const long offered = Membarrier(MEMBARRIER_CMD_QUERY);
  if (offered <= 0 || (offered & kGetRegistrations) == 0) return -1;
  const long registrations = Membarrier(kGetRegistrations);
  return registrations >= 0 && (registrations & MEMBARRIER_CMD_REGISTER_GLOBAL_EXPEDITED) != 0;
}

TEST(ReadBarrierTest, StatsNameTheBarrierTheKernelOffersAndRegistered) {
  TempDir dir;
  const std::string log_uri = "file:" + dir.File("log");
  OpenChangeLog(log_uri, {.create_if_missing = true})
      ->Append(std::vector<Mutation>{Mutation::Set("k", "v")});
  CacheOptions options;
  options.state_path = dir.File("machine.state");
  options.log_uri = log_uri;
  auto cache = Cache::Open(options);
  cache->UpdateNow();

  const std::string expected = KernelOffersGlobalExpedited() ? "membarrier" : "fence";
  EXPECT_EQ(cache->Stats().read_barrier, expected);
  const int listed = KernelListsRegistration();
  if (listed >= 0) EXPECT_EQ(listed == 1, expected == "membarrier");
  EXPECT_EQ(cache->Get("k").value_or("<absent>"), "v");

  // A forked child inherits the registration, and reads on with the same barrier.
  ChildProcess child([&] {
    if (cache->Stats().read_barrier != expected) return 1;
    if (KernelListsRegistration() >= 0 && (KernelListsRegistration() == 1) != (listed == 1)) {
      return 2;
    }
    return cache->Get("k").value_or("") == "v" ? 0 : 3;
  });
  const int status = child.Wait();
  EXPECT_TRUE(ChildProcess::Succeeded(status)) << ChildProcess::Describe(status);
}

}  // namespace
}  // namespace whycache::testing
