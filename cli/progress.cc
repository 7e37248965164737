#include "cli/progress.h"

#include <unistd.h>

#include <algorithm>
#include <cinttypes>
#include <cstdio>

namespace whycache::cli {

ProgressCallback TerminalProgress(const std::string& label, ProgressUnit unit) {
  if (!isatty(STDERR_FILENO)) return nullptr;
  return [label, unit](uint64_t done, uint64_t total) {
    constexpr int kWidth = 30;
    const double fraction = total == 0 ? 1.0 : std::min(1.0, static_cast<double>(done) / total);
    const int filled = static_cast<int>(fraction * kWidth);
    std::fprintf(stderr, "\r%s [%.*s%*s] %3d%%  ", label.c_str(), filled,
                 "##############################", kWidth - filled, "",
                 static_cast<int>(fraction * 100));
    if (unit == ProgressUnit::kBytes) {
      std::fprintf(stderr, "%.1f / %.1f MB", done / 1e6, total / 1e6);
    } else {
      std::fprintf(stderr, "%" PRIu64 " / %" PRIu64 " updates", done, total);
    }
    if (done >= total) std::fputc('\n', stderr);
    std::fflush(stderr);
  };
}

}  // namespace whycache::cli
