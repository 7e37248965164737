// The barrier between a reader's pin and its re-read of the published version (the pin protocol,
// reader_table.h), and who pays for it.
//
// Where the kernel offers membarrier(MEMBARRIER_CMD_GLOBAL_EXPEDITED), every process registers
// for it when it opens a state file, and its readers pin with a plain store: the writer, which
// commits a few times a second, runs a full barrier on every CPU that runs a registered process
// before it scans the pins (about a microsecond per commit). Elsewhere (an older kernel, a
// sandbox that forbids the call) readers fence on every pin instead, a full barrier per read
// transaction. Every process that opens a state file of this format runs this code, so the
// writer of a file always issues the barrier its readers rely on.
#ifndef WHYCACHE_LIB_TREE_PIN_BARRIER_H_
#define WHYCACHE_LIB_TREE_PIN_BARRIER_H_

#include <atomic>

namespace whycache::tree {

enum class ReadBarrier {
  kFence,       // Readers fence after each pin.
  kMembarrier,  // Readers pin with a plain store; writers issue membarrier for them.
};

namespace pin_barrier_internal {
// Set once this process is registered. Registration is inherited by fork, as is this flag.
extern std::atomic<bool> registered;
}  // namespace pin_barrier_internal

// Registers this process for the writers' membarrier, the first time it is called, when the
// kernel offers it. Returns the barrier this process's readers use from now on. Thread-safe.
ReadBarrier RegisterForReadBarrier();

// The barrier this process's readers use: kMembarrier once RegisterForReadBarrier succeeded.
inline ReadBarrier ProcessReadBarrier() {
  return pin_barrier_internal::registered.load(std::memory_order_relaxed) ? ReadBarrier::kMembarrier
                                                                          : ReadBarrier::kFence;
}

// The writer's half, before it reads the pins: a full fence (pairing with fencing readers),
// then, where the kernel offers it, membarrier(MEMBARRIER_CMD_GLOBAL_EXPEDITED) (for the
// readers that pin with a plain store). Throws Error(kIOError) when the kernel offers the call but
// it fails: the writer must not then reuse space. Thread- and process-safe.
void BarrierBeforePinScan();

// "membarrier" or "fence".
const char* ReadBarrierName(ReadBarrier barrier);

}  // namespace whycache::tree

#endif  // WHYCACHE_LIB_TREE_PIN_BARRIER_H_
