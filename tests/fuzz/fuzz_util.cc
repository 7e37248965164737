#include "tests/fuzz/fuzz_util.h"

#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>

#include "lib/format/byte_writer.h"
#include "lib/io/posix_file.h"
#include "lib/io/temp_dir.h"

namespace whycache::fuzz {

const std::string& ScratchDir() {
  // One per process, removed when it exits.
  static const io::TempDir dir(io::TmpDirOr("/tmp"), "whycache-fuzz-");
  return dir.path();
}

void WriteFile(const std::string& path, std::string_view bytes) {
  const io::File file = io::File::Open(path, O_WRONLY | O_CREAT | O_TRUNC);
  const std::string_view pieces[] = {bytes};
  file.WriteAt(0, pieces);
}

void Rejected(const Error& e) {
  static const bool verbose = std::getenv("WHYCACHE_FUZZ_VERBOSE") != nullptr;
  if (verbose) std::fprintf(stderr, "rejected: %s\n", e.what());
}

void Fail(const std::string& what) {
  std::fprintf(stderr, "fuzz oracle failed: %s\n", what.c_str());
  std::abort();
}

void PutFixed32At(std::string& buf, size_t offset, uint32_t v) {
  std::string bytes;
  format::ByteWriter(&bytes).PutFixed32(v);
  buf.replace(offset, bytes.size(), bytes);
}

void PutFixed64At(std::string& buf, size_t offset, uint64_t v) {
  std::string bytes;
  format::ByteWriter(&bytes).PutFixed64(v);
  buf.replace(offset, bytes.size(), bytes);
}

}  // namespace whycache::fuzz
