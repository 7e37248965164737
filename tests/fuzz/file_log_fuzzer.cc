// The file log (lib/log/file_log.h) reading a segment file of untrusted bytes: opening, HeadId,
// ReadAfter to the end and from the middle, then an append on top of whatever was accepted.
//
// Input: a control byte (fuzz_util.h), then the bytes of segment 1. Fix-ups recompute the
// checksums of the segment header, of every frame header and of every batch record; mode 1
// lists a second, empty segment after it in the manifest (so segment 1 must end with its seal).
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "lib/format/crc32c.h"
#include "lib/log/file_log.h"
#include "lib/log/manifest.h"
#include "lib/log/segment_format.h"
#include "tests/fuzz/fuzz_util.h"

namespace whycache::fuzz {
namespace {

// Bounds the reads per input; every call that returns updates makes progress.
constexpr int kMaxReadCalls = 64;
constexpr size_t kUpdatesPerRead = 16;

// What the writer would have computed, frame by frame, as far as the lengths lead.
void FixChecksums(std::string& segment) {
  if (segment.size() >= log::kSegmentHeaderSize) {
    PutFixed32At(segment, 20, format::Crc32c(std::string_view(segment).substr(0, 20)));
  }
  for (size_t offset = log::kSegmentHeaderSize; offset + log::kFrameHeaderSize <= segment.size();) {
    PutFixed32At(segment, offset, format::Crc32c(std::string_view(segment).substr(offset + 4, 16)));
    log::FrameHeader header;
    std::string error;
    if (log::ParseFrameHeader(std::string_view(segment).substr(offset, log::kFrameHeaderSize),
                              &header, &error) != log::FrameHeaderStatus::kValid) {
      return;
    }
    const size_t body = offset + log::kFrameHeaderSize;
    if (header.body_length > segment.size() - body) return;
    if (header.body_length >= 4) {
      PutFixed32At(
          segment, body,
          format::Crc32c(std::string_view(segment).substr(body + 4, header.body_length - 4)));
    }
    offset = body + header.body_length;
  }
}

std::string LogDir() {
  const std::string dir = ScratchDir() + "/log";
  std::filesystem::remove_all(dir);
  std::filesystem::create_directory(dir);
  return dir;
}

void CheckIncreasing(const std::vector<Update>& updates, uint64_t& last_id) {
  for (const Update& u : updates) {
    if (u.id <= last_id) Fail("ReadAfter returned update ids out of order");
    last_id = u.id;
  }
}

void FuzzFileLog(std::string segment, bool fix_checksums, bool has_successor) {
  if (fix_checksums) FixChecksums(segment);
  const std::string dir = LogDir();
  log::Manifest manifest;
  manifest.generation = 1;
  manifest.next_segment_number = 2;
  manifest.segments.push_back({.number = 1, .first_id = 1});
  if (has_successor) {
    // Its first id is unknown without trusting the segment: the largest one keeps it valid.
    manifest.segments.push_back({.number = 2, .first_id = UINT64_MAX});
    manifest.next_segment_number = 3;
    WriteFile(dir + "/" + log::SegmentFileName(2), log::EncodeSegmentHeader(2));
  }
  WriteFile(dir + "/" + log::kManifestFileName, log::EncodeManifest(manifest));
  WriteFile(dir + "/DATASET", "fuzz");
  WriteFile(dir + "/" + log::SegmentFileName(1), segment);

  log::FileLogOptions options;
  options.fsync = FsyncPolicy::kNever;
  const std::unique_ptr<log::FileLog> file_log = log::FileLog::Open(dir, options);
  uint64_t last_id = 0;
  uint64_t middle_id = 0;
  for (int call = 0; call < kMaxReadCalls; ++call) {
    const std::vector<Update> updates = file_log->ReadAfter(last_id, kUpdatesPerRead);
    if (updates.empty()) break;
    if (middle_id == 0) middle_id = updates.front().id;
    CheckIncreasing(updates, last_id);
  }
  const uint64_t head = file_log->HeadId();
  if (head < last_id) Fail("HeadId is below an update ReadAfter returned");

  // A second reader that starts in the middle sees the same updates from there.
  if (middle_id != 0) {
    const std::unique_ptr<log::FileLog> other = log::FileLog::Open(dir, options);
    uint64_t other_last = middle_id;
    for (int call = 0; call < kMaxReadCalls; ++call) {
      const std::vector<Update> updates = other->ReadAfter(other_last, kUpdatesPerRead);
      if (updates.empty()) break;
      CheckIncreasing(updates, other_last);
    }
  }

  const Mutation batch[] = {Mutation::Set("fuzz-key", "fuzz-value")};
  const uint64_t id = file_log->Append(batch);
  if (id <= head) Fail("Append reused an id at or below the head");
  const std::vector<Update> appended = log::FileLog::Open(dir, options)->ReadAfter(id - 1, 1);
  if (appended.size() != 1 || appended[0].id != id ||
      appended[0].mutations != std::vector<Mutation>(std::begin(batch), std::end(batch))) {
    Fail("an appended batch does not read back");
  }
}

}  // namespace
}  // namespace whycache::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace whycache::fuzz;
  return RunControlled(data, size, [](const ControlledInput& in) {
    FuzzFileLog(std::string(in.bytes), in.fix_checksums, (in.mode & 1) != 0);
  });
}
