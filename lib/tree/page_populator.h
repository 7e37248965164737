// Maps the pages of a file under construction ahead of its writer, on a thread of its own.
//
// A fresh page costs its writer a fault, zeroing and, in a virtual machine, the host's first
// touch: together about as much as filling it. A bulk build writes hundreds of MB of fresh pages
// in one sequential sweep, so a second core that maps them just ahead of the writer takes that
// cost off the build's critical path.
#ifndef WHYCACHE_LIB_TREE_PAGE_POPULATOR_H_
#define WHYCACHE_LIB_TREE_PAGE_POPULATOR_H_

#include <atomic>
#include <cstdint>
#include <thread>

namespace whycache::tree {

class PagePopulator {
 public:
  // Starts the thread for the shared writable mapping [base, base + bytes), which must stay
  // mapped until the populator is destroyed. Pages below `from` are not touched.
  PagePopulator(char* base, uint64_t from, uint64_t bytes);

  // Stops and joins the thread; pages it has not reached are left to fault in when written.
  ~PagePopulator();

  PagePopulator(const PagePopulator&) = delete;
  PagePopulator& operator=(const PagePopulator&) = delete;

  // Asks for the pages below `offset` to be mapped; returns at once. Offsets past the end are
  // clamped. Thread-compatible: one writer calls it.
  void MapBelow(uint64_t offset);

 private:
  void Run(uint64_t from);

  char* const base_;
  const uint64_t bytes_;
  std::atomic<uint64_t> wanted_;  // kStop once the destructor has begun.
  std::thread thread_;
};

}  // namespace whycache::tree

#endif  // WHYCACHE_LIB_TREE_PAGE_POPULATOR_H_
