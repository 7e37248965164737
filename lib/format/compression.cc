#include "lib/format/compression.h"

#include <zstd.h>

#include <memory>

#include "whycache/error.h"

namespace whycache::format {
namespace {

// zstd contexts hold large tables; creating one per record dominated the cost of decoding small
// records, so each thread keeps one of each.
struct ContextDeleter {
  void operator()(ZSTD_CCtx* c) const { ZSTD_freeCCtx(c); }
  void operator()(ZSTD_DCtx* d) const { ZSTD_freeDCtx(d); }
};

ZSTD_CCtx* ThreadCompressionContext() {
  thread_local std::unique_ptr<ZSTD_CCtx, ContextDeleter> context(ZSTD_createCCtx());
  if (context == nullptr) throw Error(Error::Code::kIOError, "cannot allocate a zstd context");
  return context.get();
}

ZSTD_DCtx* ThreadDecompressionContext() {
  thread_local std::unique_ptr<ZSTD_DCtx, ContextDeleter> context(ZSTD_createDCtx());
  if (context == nullptr) throw Error(Error::Code::kIOError, "cannot allocate a zstd context");
  return context.get();
}

[[noreturn]] void Corrupt(std::string_view what, const std::string& detail) {
  throw Error(Error::Code::kCorruption, std::string(what) + ": " + detail);
}

}  // namespace

std::string ZstdCompress(std::string_view data, int level) {
  std::string out(ZSTD_compressBound(data.size()), '\0');
  const size_t n = ZSTD_compressCCtx(ThreadCompressionContext(), out.data(), out.size(),
                                     data.data(), data.size(), level);
  if (ZSTD_isError(n)) {
    throw Error(Error::Code::kIOError,
                std::string("zstd compression failed: ") + ZSTD_getErrorName(n));
  }
  out.resize(n);
  return out;
}

std::string ZstdDecompress(std::string_view data, size_t max_output, std::string_view what) {
  const unsigned long long size = ZSTD_getFrameContentSize(data.data(), data.size());
  if (size == ZSTD_CONTENTSIZE_ERROR) Corrupt(what, "not a zstd frame");
  if (size == ZSTD_CONTENTSIZE_UNKNOWN) Corrupt(what, "zstd frame does not state its size");
  if (size > max_output) {
    Corrupt(what, "zstd frame claims " + std::to_string(size) + " bytes, more than the " +
                      std::to_string(max_output) + " allowed");
  }
  std::string out(static_cast<size_t>(size), '\0');
  const size_t n = ZSTD_decompressDCtx(ThreadDecompressionContext(), out.data(), out.size(),
                                       data.data(), data.size());
  if (ZSTD_isError(n)) Corrupt(what, std::string("zstd: ") + ZSTD_getErrorName(n));
  if (n != size) {
    Corrupt(what, "zstd frame decompressed to " + std::to_string(n) + " bytes, not the " +
                      std::to_string(size) + " it states");
  }
  return out;
}

}  // namespace whycache::format
