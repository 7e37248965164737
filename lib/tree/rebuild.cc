#include "lib/tree/rebuild.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "lib/tree/allocator.h"
#include "lib/tree/art_writer.h"
#include "lib/tree/tree.h"
#include "whycache/error.h"

namespace whycache::tree {

namespace {

// Inserts every entry of the source, in key order, into a fresh file. Returns false when the
// file turned out too small.
bool CopyEntries(const Mapping& source, const MetaValues& meta, Mapping* dest) {
  FileHeader* h = dest->header;
  const uint64_t version = h->current.load(std::memory_order_relaxed);
  MetaValues out = LoadMeta(h->meta[version & 1]);
  Allocator alloc(dest->base, dest->size, h->data_offset, out, version, version);
  HashIndexWriter index(dest->base, dest->space(), &alloc, 0, 0);
  ArtWriter writer(dest->base, dest->space(), &alloc, &index, 0, 0, 0);
  Iterator it(source.space(), meta.root);
  try {
    index.Reserve(meta.key_count);
    for (it.SeekToFirst(); it.Valid(); it.Next()) writer.Put(it.key(), it.value());
    out.free_list = alloc.Persist();
  } catch (const OutOfSpace&) {
    return false;
  }
  out.hash_dir = index.dir();
  out.hash_bits = index.bits();
  out.root = writer.root();
  out.key_count = writer.key_count();
  out.content_hash = writer.content_hash();
  out.alloc_top = alloc.top();
  out.free_bytes = alloc.free_bytes();
  StoreMeta(h->meta[version & 1], out);
  return true;
}

}  // namespace

std::unique_ptr<Mapping> BuildCompactCopy(const Mapping& source, const MetaValues& meta,
                                          const std::string& dest_path, uint64_t min_bytes) {
  const FileHeader& sh = *source.header;
  const uint64_t live = meta.alloc_top - sh.data_offset - meta.free_bytes;
  uint64_t bytes = std::max(min_bytes, sh.data_offset + live + live / 2 + (uint64_t{1} << 20));
  for (;;) {
    std::unique_ptr<Mapping> dest = CreateFile(dest_path, bytes, sh.reader_slots, meta.version + 1,
                                               meta.applied_id, sh.user_area);
    if (CopyEntries(source, meta, dest.get())) {
      dest->region.flush(0, 0, false);
      const int fd = open(dest_path.c_str(), O_RDONLY | O_CLOEXEC);
      if (fd < 0 || fsync(fd) != 0) {
        const int saved = errno;
        if (fd >= 0) close(fd);
        throw Error(Error::Code::kIOError,
                    "cannot flush rebuilt state file " + dest_path + ": " + std::strerror(saved));
      }
      close(fd);
      return dest;
    }
    bytes *= 2;
  }
}

}  // namespace whycache::tree
