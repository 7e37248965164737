#include "lib/tree/page_populator.h"

#include <sys/mman.h>

#include <algorithm>

#include "lib/tree/file_layout.h"

namespace whycache::tree {

namespace {

constexpr uint64_t kStop = ~uint64_t{0};
// Mapped per call: large enough to amortize the call, small enough that the writer never waits
// long behind a call in progress.
constexpr uint64_t kStepBytes = uint64_t{1} << 20;

}  // namespace

PagePopulator::PagePopulator(char* base, uint64_t from, uint64_t bytes)
    : base_(base), bytes_(bytes), wanted_(0) {
  thread_ = std::thread([this, from] { Run(from); });
}

PagePopulator::~PagePopulator() {
  wanted_.store(kStop);
  wanted_.notify_one();
  thread_.join();
}

void PagePopulator::MapBelow(uint64_t offset) {
  const uint64_t clamped = std::min(offset, bytes_);
  if (clamped <= wanted_.load(std::memory_order_relaxed)) return;
  wanted_.store(clamped, std::memory_order_relaxed);
  wanted_.notify_one();
}

void PagePopulator::Run(uint64_t from) {
  uint64_t done = from & ~(kPageBytes - 1);
  for (;;) {
    const uint64_t wanted = wanted_.load(std::memory_order_relaxed);
    if (wanted == kStop) return;
    if (done >= wanted) {
      wanted_.wait(wanted, std::memory_order_relaxed);
      continue;
    }
    const uint64_t to = std::min(AlignUp(wanted, kPageBytes), std::min(done + kStepBytes, bytes_));
#ifdef MADV_POPULATE_WRITE
    // Only a speed-up: where the kernel lacks it or refuses, the writes fault the pages in.
    madvise(base_ + done, to - done, MADV_POPULATE_WRITE);
#endif
    done = to;
  }
}

}  // namespace whycache::tree
