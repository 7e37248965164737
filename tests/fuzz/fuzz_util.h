// Code shared by the libFuzzer targets of this directory (see build_and_run.sh).
//
// Every target feeds untrusted bytes to a decoder and accepts exactly two outcomes: success, or a
// whycache::Error. Anything else (another exception, a sanitizer report, a hang, memory beyond
// the run's limit) is a finding.
#ifndef WHYCACHE_TESTS_FUZZ_FUZZ_UTIL_H_
#define WHYCACHE_TESTS_FUZZ_FUZZ_UTIL_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "whycache/error.h"

namespace whycache::fuzz {

// A directory private to this process, created on first use and removed at exit. Targets that
// decode files write them here, under fixed names, overwriting the previous input's.
const std::string& ScratchDir();

// Replaces the file at `path` with exactly `bytes`.
void WriteFile(const std::string& path, std::string_view bytes);

// Called with the Error an input was rejected with: the expected outcome for garbage. Prints it
// when WHYCACHE_FUZZ_VERBOSE is set, to see why a seed or a reproduced input is refused.
void Rejected(const Error& e);

// Runs fn(), taking a whycache::Error for a rejection.
template <typename Fn>
void RejectingErrors(Fn fn) {
  try {
    fn();
  } catch (const Error& e) {
    Rejected(e);
  }
}

// Inputs of the file-decoding targets start with one control byte, then the file's bytes: bit 0
// asks the harness to recompute the file's checksums before decoding, and the bits above pick
// the decoder or a variant (`mode`). Without fix-ups, random bytes almost never get past the
// first checksum, and the structural checks behind it go unfuzzed; with them, they do, while
// inputs without the bit still exercise the checksum checks themselves.
struct ControlledInput {
  bool fix_checksums = false;
  unsigned mode = 0;
  std::string_view bytes;
};

// The body of LLVMFuzzerTestOneInput for such targets: fn(ControlledInput) for a non-empty input.
template <typename Fn>
int RunControlled(const uint8_t* data, size_t size, Fn fn) {
  if (size == 0) return 0;
  const ControlledInput in{
      .fix_checksums = (data[0] & 1) != 0,
      .mode = static_cast<unsigned>(data[0] >> 1),
      .bytes = std::string_view(reinterpret_cast<const char*>(data) + 1, size - 1)};
  RejectingErrors([&] { fn(in); });
  return 0;
}

// Aborts with `what` on stderr: an oracle the decoder broke (libFuzzer saves the input).
[[noreturn]] void Fail(const std::string& what);

// Overwrites 4 or 8 bytes of `buf` at `offset` with `v`, little-endian, for checksum and length
// fix-ups. REQUIRES: they are inside `buf`.
void PutFixed32At(std::string& buf, size_t offset, uint32_t v);
void PutFixed64At(std::string& buf, size_t offset, uint64_t v);

}  // namespace whycache::fuzz

#endif  // WHYCACHE_TESTS_FUZZ_FUZZ_UTIL_H_
