// CRC-32C (Castagnoli), the checksum of every record and file header whycache writes.
#ifndef WHYCACHE_LIB_FORMAT_CRC32C_H_
#define WHYCACHE_LIB_FORMAT_CRC32C_H_

#include <cstdint>
#include <string_view>

namespace whycache::format {

// Returns the CRC-32C of `data`. Passing the CRC of a preceding piece as `crc` extends it, so
// Crc32c(b, Crc32c(a)) == Crc32c(a + b).
//
// Uses the SSE4.2 crc32 instruction (8 bytes per step) when the CPU has it, checked once at run
// time, and Crc32cPortable otherwise. Thread-safe.
uint32_t Crc32c(std::string_view data, uint32_t crc = 0);

// The table-driven, byte-at-a-time version Crc32c falls back to; same contract. Exposed so tests
// can check that both paths agree.
uint32_t Crc32cPortable(std::string_view data, uint32_t crc = 0);

}  // namespace whycache::format

#endif  // WHYCACHE_LIB_FORMAT_CRC32C_H_
