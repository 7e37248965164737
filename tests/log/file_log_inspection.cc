#include "tests/log/file_log_inspection.h"

#include <fcntl.h>
#include <unistd.h>

#include <filesystem>
#include <stdexcept>

#include "lib/io/posix_file.h"
#include "lib/log/manifest.h"

namespace whycache::testing {

std::vector<FrameLocation> ListFrames(const std::string& dir) {
  std::vector<FrameLocation> frames;
  for (const log::SegmentInfo& s : log::ReadManifest(dir).segments) {
    const std::string path = dir + "/" + log::SegmentFileName(s.number);
    const io::File file = io::File::Open(path, O_RDONLY);
    const uint64_t size = file.Size();
    uint64_t offset = log::kSegmentHeaderSize;
    while (offset + log::kFrameHeaderSize <= size) {
      char bytes[log::kFrameHeaderSize];
      file.ReadAt(offset, bytes, sizeof(bytes));
      FrameLocation frame{path, offset, {}};
      std::string error;
      if (log::ParseFrameHeader(std::string_view(bytes, sizeof(bytes)), &frame.header, &error) !=
          log::FrameHeaderStatus::kValid) {
        break;
      }
      const uint64_t end = offset + log::kFrameHeaderSize + frame.header.body_length;
      if (end > size) break;
      frames.push_back(frame);
      offset = end;
    }
  }
  return frames;
}

std::optional<FrameLocation> FindFrame(const std::string& dir, uint64_t update_id) {
  for (const FrameLocation& f : ListFrames(dir)) {
    if (f.header.type == log::FrameType::kBatch && f.header.update_id == update_id) return f;
  }
  return std::nullopt;
}

void FlipByte(const std::string& path, uint64_t offset, uint8_t mask) {
  const io::File file = io::File::Open(path, O_RDWR);
  char c = 0;
  if (file.ReadAt(offset, &c, 1) != 1) throw std::runtime_error("no byte to flip in " + path);
  c = static_cast<char>(c ^ mask);
  const std::string_view pieces[] = {std::string_view(&c, 1)};
  file.WriteAt(offset, pieces);
}

uint64_t FileSize(const std::string& path) { return std::filesystem::file_size(path); }

void TruncateFile(const std::string& path, uint64_t size) {
  std::filesystem::resize_file(path, size);
}

}  // namespace whycache::testing
