// State files (lib/tree/tree.h) of untrusted bytes: Tree::Open, point gets and a bounded scan as
// a reader does them (without a Verify first), then Verify; a file that verifies must also
// answer consistently and take a commit that verifies again.
//
// Input: a control byte (fuzz_util.h), then the file, zero-padded to whole pages. Control bit 0
// sets the header's file size to the padded size and recomputes the header checksum and the
// checksum of the published meta record.
#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "lib/tree/file_layout.h"
#include "lib/tree/tree.h"
#include "tests/fuzz/fuzz_util.h"

namespace whycache::fuzz {
namespace {

// A scan of a damaged file may cycle through shared nodes: stop it after this many entries.
constexpr size_t kMaxScanEntries = 4096;

// Patches the checksums in place through a mapping of the file, with the tree's own functions.
void FixChecksums(const std::string& path, uint64_t file_bytes) {
  const int fd = open(path.c_str(), O_RDWR | O_CLOEXEC);
  if (fd < 0) Fail("cannot open " + path);
  void* base = mmap(nullptr, file_bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  close(fd);
  if (base == MAP_FAILED) Fail("cannot map " + path);
  auto* h = static_cast<tree::FileHeader*>(base);
  h->file_bytes = file_bytes;
  h->header_checksum = tree::HeaderChecksum(*h);
  tree::MetaRecord& meta = h->meta[h->current.load() & 1];
  meta.checksum.store(tree::MetaChecksum(meta));
  munmap(base, file_bytes);
}

using Entries = std::vector<std::pair<std::string, std::string>>;

Entries ScanSome(const tree::ReadTxn& txn) {
  Entries entries;
  txn.Scan("", [&](std::string_view key, std::string_view value) {
    entries.emplace_back(key, value);
    return entries.size() < kMaxScanEntries;
  });
  return entries;
}

// Holds only for a file that verifies: scans in strict key order, one entry per key, and gets
// that agree with the scan. Returns the entries scanned.
Entries CheckConsistent(tree::Tree& t) {
  const tree::ReadTxn txn = t.BeginRead();
  const Entries entries = ScanSome(txn);
  if (entries.size() < kMaxScanEntries && entries.size() != txn.KeyCount()) {
    Fail("a verified file scans " + std::to_string(entries.size()) + " entries, holds " +
         std::to_string(txn.KeyCount()));
  }
  for (size_t i = 0; i < entries.size(); ++i) {
    if (i > 0 && !(entries[i - 1].first < entries[i].first)) {
      Fail("a verified file scans keys out of order");
    }
    if (txn.Get(entries[i].first) != std::optional<std::string_view>(entries[i].second)) {
      Fail("a verified file's get disagrees with its scan");
    }
  }
  return entries;
}

void FuzzStateFile(std::string_view bytes, bool fix_checksums) {
  const std::string path = ScratchDir() + "/state";
  std::string file(bytes);
  // Room for the header, a reader table of one slot and a page of data: seeds are trimmed.
  file.resize(tree::AlignUp(std::max<size_t>(file.size(), 3 * tree::kPageBytes), tree::kPageBytes));
  WriteFile(path, file);
  if (fix_checksums) FixChecksums(path, file.size());

  tree::TreeOptions options;
  options.create_if_missing = false;
  std::unique_ptr<tree::Tree> t = tree::Tree::Open(path, options);
  {
    const tree::ReadTxn txn = t->BeginRead();
    const Entries entries = ScanSome(txn);
    txn.Get("");
    txn.Get(bytes.substr(0, std::min<size_t>(bytes.size(), 16)));
    for (const auto& [key, value] : entries) txn.Get(key);
  }
  t->Verify();
  const Entries entries = CheckConsistent(*t);
  {
    std::unique_ptr<tree::WriteTxn> w = t->BeginWrite();
    w->Put("fuzz-key", "fuzz-value");
    if (!entries.empty()) w->Erase(entries.front().first);
    w->Commit(1);
  }
  t->Verify();
  CheckConsistent(*t);
}

}  // namespace
}  // namespace whycache::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace whycache::fuzz;
  return RunControlled(
      data, size, [](const ControlledInput& in) { FuzzStateFile(in.bytes, in.fix_checksums); });
}
