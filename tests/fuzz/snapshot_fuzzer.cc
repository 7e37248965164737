// Snapshot files (lib/snapshot/snapshot_file.h): the header alone, then the whole file, whose
// accepted entries must be what the writer writes again.
//
// Input: a control byte (fuzz_util.h), then the file. Control bit 0 sets the header's body length
// to the bytes after the header and recomputes the body and header checksums.
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "lib/format/crc32c.h"
#include "lib/snapshot/snapshot_file.h"
#include "tests/fuzz/fuzz_util.h"

namespace whycache::fuzz {
namespace {

// Offsets in the header (see snapshot_file.h).
constexpr size_t kBodyBytesAt = 109;
constexpr size_t kBodyCrcAt = 117;
constexpr size_t kHeaderCrcAt = snapshot::kHeaderBytes - 4;

using Entries = std::vector<std::pair<std::string, std::string>>;

void FixHeader(std::string& file) {
  if (file.size() < snapshot::kHeaderBytes) return;
  const std::string_view body = std::string_view(file).substr(snapshot::kHeaderBytes);
  PutFixed64At(file, kBodyBytesAt, body.size());
  PutFixed32At(file, kBodyCrcAt, format::Crc32c(body));
  PutFixed32At(file, kHeaderCrcAt, format::Crc32c(std::string_view(file).substr(0, kHeaderCrcAt)));
}

Entries ReadEntries(const std::string& path, snapshot::SnapshotInfo* info) {
  Entries entries;
  *info = snapshot::ReadSnapshot(path, [&](std::string_view key, std::string_view value) {
    entries.emplace_back(key, value);
  });
  return entries;
}

void FuzzSnapshot(std::string file, bool fix_checksums) {
  if (fix_checksums) FixHeader(file);
  const std::string path = ScratchDir() + "/snapshot";
  WriteFile(path, file);
  const snapshot::SnapshotInfo header = snapshot::ReadSnapshotHeader(path);
  snapshot::SnapshotInfo info;
  const Entries entries = ReadEntries(path, &info);
  if (info.key_count != entries.size()) Fail("the key count differs from the entries read");

  const std::string copy = ScratchDir() + "/snapshot-copy";
  snapshot::WriteSnapshot(copy, info.dataset_id, info.applied_id, info.horizon, entries.size(),
                          [&](const auto& emit) {
                            for (const auto& [key, value] : entries) emit(key, value);
                          });
  snapshot::SnapshotInfo copy_info;
  if (ReadEntries(copy, &copy_info) != entries || copy_info.dataset_id != header.dataset_id ||
      copy_info.applied_id != header.applied_id || copy_info.horizon != header.horizon ||
      copy_info.raw_bytes != header.raw_bytes) {
    Fail("an accepted snapshot does not survive being written again");
  }
}

}  // namespace
}  // namespace whycache::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace whycache::fuzz;
  return RunControlled(data, size, [](const ControlledInput& in) {
    FuzzSnapshot(std::string(in.bytes), in.fix_checksums);
  });
}
