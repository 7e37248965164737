// zstd compression of record payloads and streams.
#ifndef WHYCACHE_LIB_FORMAT_COMPRESSION_H_
#define WHYCACHE_LIB_FORMAT_COMPRESSION_H_

#include <cstddef>
#include <string>
#include <string_view>

namespace whycache::format {

// Payloads of at least this many bytes are compressed. Below it, the fixed cost of a zstd frame
// on every reader outweighs the bytes saved: with a 1 KiB threshold, tailing 10-mutation batches
// of 100-byte values took 2.7 times the CPU time.
inline constexpr size_t kCompressionThreshold = 4096;

// zstd level for log records: appends are on a writer's latency path, so favour speed.
inline constexpr int kDefaultCompressionLevel = 1;

// Returns `data` as one zstd frame that records its decompressed size. Throws
// Error(kIOError) if zstd fails (only on allocation failure). Thread-safe.
std::string ZstdCompress(std::string_view data, int level = kDefaultCompressionLevel);

// Decompresses one zstd frame written by ZstdCompress. `data` is untrusted: a frame that is
// malformed, does not state its size, or would exceed `max_output` bytes throws
// Error(kCorruption) whose message starts with `what` (e.g. "log segment F at offset N").
// Thread-safe.
std::string ZstdDecompress(std::string_view data, size_t max_output, std::string_view what);

}  // namespace whycache::format

#endif  // WHYCACHE_LIB_FORMAT_COMPRESSION_H_
