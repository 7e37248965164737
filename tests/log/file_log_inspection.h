// Locating and damaging the frames of a file log on disk, for corruption and crash tests.
#ifndef WHYCACHE_TESTS_LOG_FILE_LOG_INSPECTION_H_
#define WHYCACHE_TESTS_LOG_FILE_LOG_INSPECTION_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "lib/log/segment_format.h"

namespace whycache::testing {

struct FrameLocation {
  std::string path;  // The segment file.
  uint64_t offset = 0;
  log::FrameHeader header;
};

// Every valid frame of the log in directory `dir`, in manifest and file order, stopping at the
// first incomplete or invalid frame of each segment.
std::vector<FrameLocation> ListFrames(const std::string& dir);

// The frame of batch `update_id`, if it exists.
std::optional<FrameLocation> FindFrame(const std::string& dir, uint64_t update_id);

// XORs the byte at `offset` of file `path` with `mask`.
void FlipByte(const std::string& path, uint64_t offset, uint8_t mask = 0x40);

// Size of file `path`, and truncation to `size`.
uint64_t FileSize(const std::string& path);
void TruncateFile(const std::string& path, uint64_t size);

}  // namespace whycache::testing

#endif  // WHYCACHE_TESTS_LOG_FILE_LOG_INSPECTION_H_
