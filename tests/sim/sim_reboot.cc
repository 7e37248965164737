#include "tests/sim/sim_reboot.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <vector>

#include "lib/cache/poll_schedule.h"
#include "lib/cache/shared_control.h"
#include "lib/io/clock.h"
#include "lib/tree/boot_id.h"
#include "lib/tree/file_layout.h"

namespace whycache::sim {
namespace {

// The previous boot had been up this much longer than the new one will be for days.
constexpr int64_t kPreviousUptimeNs = int64_t{30} * 24 * 3600 * 1'000'000'000;

// Measured on an object rather than with offsetof: the structures hold atomics.
off_t NextPollOffset() {
  const auto header = std::make_unique<tree::FileHeader>();
  const auto* control = reinterpret_cast<const cache::SharedControl*>(header->user_area);
  return reinterpret_cast<const char*>(&control->next_poll_ns) -
         reinterpret_cast<const char*>(header.get());
}

}  // namespace

std::string RewriteAsPreviousBoot(const std::string& path, uint64_t boot_id) {
  const tree::BootId& current = tree::CurrentBootId();
  if (current == tree::BootId{0, 0}) return "this kernel does not tell its boot id";
  const int fd = open(path.c_str(), O_RDWR | O_CLOEXEC);
  if (fd < 0) return "cannot open " + path + ": " + std::strerror(errno);
  // Every record of the current boot in the header (the file's boot stamp, and whatever the
  // control block keeps of the boot its schedule counts in) now names the previous boot.
  std::vector<char> header(sizeof(tree::FileHeader));
  bool ok = pread(fd, header.data(), header.size(), 0) == static_cast<ssize_t>(header.size());
  const uint64_t previous[2] = {boot_id, ~boot_id};
  for (size_t at = 0; ok && at + sizeof(current) <= header.size(); at += sizeof(uint64_t)) {
    if (std::memcmp(header.data() + at, current.data(), sizeof(current)) == 0) {
      std::memcpy(header.data() + at, previous, sizeof(previous));
    }
  }
  const int64_t next_poll_ns = io::CoarseMonotonicNanos() + kPreviousUptimeNs;
  std::memcpy(header.data() + NextPollOffset(), &next_poll_ns, sizeof(next_poll_ns));
  ok = ok && pwrite(fd, header.data(), header.size(), 0) == static_cast<ssize_t>(header.size());
  const std::string error =
      ok ? "" : "cannot rewrite the header of " + path + ": " + std::strerror(errno);
  close(fd);
  return error;
}

}  // namespace whycache::sim
