#include "tests/sim/sim_reboot.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>

#include "lib/cache/poll_schedule.h"
#include "lib/cache/shared_control.h"
#include "lib/tree/file_layout.h"

namespace whycache::sim {
namespace {

// The previous boot had been up this much longer than the new one will be for days.
constexpr int64_t kPreviousUptimeNs = int64_t{30} * 24 * 3600 * 1'000'000'000;

// Offsets measured on objects rather than with offsetof: the structures hold atomics.
off_t BootStampOffset() {
  const auto header = std::make_unique<tree::FileHeader>();
  return reinterpret_cast<const char*>(&header->boot_stamp) -
         reinterpret_cast<const char*>(header.get());
}

off_t NextPollOffset() {
  const auto header = std::make_unique<tree::FileHeader>();
  const auto* control = reinterpret_cast<const cache::SharedControl*>(header->user_area);
  return reinterpret_cast<const char*>(&control->next_poll_ns) -
         reinterpret_cast<const char*>(header.get());
}

bool WriteAt(int fd, const void* bytes, size_t size, off_t offset) {
  return pwrite(fd, bytes, size, offset) == static_cast<ssize_t>(size);
}

}  // namespace

std::string RewriteAsPreviousBoot(const std::string& path, uint64_t boot_id) {
  const int fd = open(path.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) return "cannot open " + path + ": " + std::strerror(errno);
  const uint64_t stamp[2] = {boot_id, ~boot_id};
  const int64_t next_poll_ns = cache::MonotonicNowNs() + kPreviousUptimeNs;
  const bool ok = WriteAt(fd, stamp, sizeof(stamp), BootStampOffset()) &&
                  WriteAt(fd, &next_poll_ns, sizeof(next_poll_ns), NextPollOffset());
  const std::string error = ok ? "" : "cannot write " + path + ": " + std::strerror(errno);
  close(fd);
  return error;
}

}  // namespace whycache::sim
