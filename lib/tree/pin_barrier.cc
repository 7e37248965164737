#include "lib/tree/pin_barrier.h"

#include <linux/membarrier.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "whycache/error.h"

namespace whycache::tree {

namespace pin_barrier_internal {
std::atomic<bool> registered{false};
}  // namespace pin_barrier_internal

namespace {

long Membarrier(int command) { return syscall(__NR_membarrier, command, 0, 0); }

// Whether the kernel offers the expedited global barrier and its registration. Asked once: the
// answer does not change while the process runs.
bool KernelOffersGlobalExpedited() {
  static const bool offered = [] {
    const long commands = Membarrier(MEMBARRIER_CMD_QUERY);
    constexpr long kNeeded =
        MEMBARRIER_CMD_GLOBAL_EXPEDITED | MEMBARRIER_CMD_REGISTER_GLOBAL_EXPEDITED;
    return commands > 0 && (commands & kNeeded) == kNeeded;
  }();
  return offered;
}

}  // namespace

ReadBarrier RegisterForReadBarrier() {
  static const bool registered = [] {
    const bool ok =
        KernelOffersGlobalExpedited() && Membarrier(MEMBARRIER_CMD_REGISTER_GLOBAL_EXPEDITED) == 0;
    pin_barrier_internal::registered.store(ok, std::memory_order_relaxed);
    return ok;
  }();
  return registered ? ReadBarrier::kMembarrier : ReadBarrier::kFence;
}

void BarrierBeforePinScan() {
  std::atomic_thread_fence(std::memory_order_seq_cst);
  // Readers of other processes may pin without a fence whenever the kernel offers the barrier,
  // whether or not this process registered for it.
  if (KernelOffersGlobalExpedited() && Membarrier(MEMBARRIER_CMD_GLOBAL_EXPEDITED) != 0) {
    throw Error(Error::Code::kIOError,
                std::string("membarrier(MEMBARRIER_CMD_GLOBAL_EXPEDITED) failed (") +
                    std::strerror(errno) + "): the pins of readers that rely on it cannot be read");
  }
}

const char* ReadBarrierName(ReadBarrier barrier) {
  return barrier == ReadBarrier::kMembarrier ? "membarrier" : "fence";
}

}  // namespace whycache::tree
