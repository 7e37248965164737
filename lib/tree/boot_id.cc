#include "lib/tree/boot_id.h"

#include <fstream>
#include <string>

namespace whycache::tree {

namespace {

BootId ReadBootId() {
  std::ifstream in("/proc/sys/kernel/random/boot_id");
  std::string text;
  if (!std::getline(in, text)) return {0, 0};
  BootId id = {0, 0};
  int digits = 0;
  for (const char c : text) {
    int v;
    if (c >= '0' && c <= '9') {
      v = c - '0';
    } else if (c >= 'a' && c <= 'f') {
      v = c - 'a' + 10;
    } else {
      continue;  // The dashes of the UUID.
    }
    if (digits == 32) return {0, 0};
    uint64_t& word = id[digits / 16];
    word = word << 4 | static_cast<uint64_t>(v);
    ++digits;
  }
  return digits == 32 ? id : BootId{0, 0};
}

}  // namespace

const BootId& CurrentBootId() {
  static const BootId id = ReadBootId();
  return id;
}

bool StampedThisBoot(const FileHeader& h) {
  const BootId& boot = CurrentBootId();
  if (boot == BootId{0, 0}) return true;
  return h.boot_stamp[0].load(std::memory_order_acquire) == boot[0] &&
         h.boot_stamp[1].load(std::memory_order_acquire) == boot[1];
}

void StampThisBoot(FileHeader* h) {
  const BootId& boot = CurrentBootId();
  h->boot_stamp[0].store(boot[0], std::memory_order_release);
  h->boot_stamp[1].store(boot[1], std::memory_order_release);
}

}  // namespace whycache::tree
