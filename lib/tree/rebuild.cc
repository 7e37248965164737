#include "lib/tree/rebuild.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "lib/tree/allocator.h"
#include "lib/tree/bulk_loader.h"
#include "lib/tree/tree.h"
#include "whycache/error.h"

namespace whycache::tree {

namespace {

[[noreturn]] void IoError(const std::string& what, const std::string& path, int error) {
  throw Error(Error::Code::kIOError, what + " " + path + ": " + std::strerror(error));
}

// Loads the entries into `dest`, a fresh file, and publishes them. Returns false when the file
// turned out too small.
bool Load(const BuildSpec& spec, const EntrySource& source, Mapping* dest) {
  FileHeader* h = dest->header;
  MetaValues out = LoadMeta(h->meta[spec.version & 1]);
  PagePopulator populator(dest->base, out.alloc_top, dest->size);
  Allocator alloc(dest->base, dest->size, h->data_offset, out, spec.version, spec.version);
  alloc.MapAheadWith(&populator);
  alloc.TrustZerosAboveTop();
  LoadedTree tree;
  try {
    BulkLoader loader(dest->base, dest->space(), &alloc, spec.expected_keys);
    source([&](std::string_view key, std::string_view value) { loader.Add(key, value); });
    tree = loader.Finish();
    out.free_list = alloc.Persist();
  } catch (const OutOfSpace&) {
    return false;
  }
  out.root = tree.root;
  out.key_count = tree.key_count;
  out.content_hash = tree.content_hash;
  out.hash_dir = tree.hash_dir;
  out.hash_bits = tree.hash_bits;
  out.alloc_top = alloc.top();
  out.free_bytes = alloc.free_bytes();
  StoreMeta(h->meta[spec.version & 1], out);
  return true;
}

// Shortens a file built from a generous guess to its used space plus half of it again, as
// growth would have sized it. Only the builder maps the file yet, so its header may change.
void Trim(std::unique_ptr<Mapping>* dest, const std::string& path, uint64_t min_bytes) {
  FileHeader* h = (*dest)->header;
  const uint64_t top = LoadMeta(h->meta[h->current.load() & 1]).alloc_top;
  const uint64_t used = top - h->data_offset;
  const uint64_t bytes = AlignUp(
      std::max({min_bytes, top + used / 2 + (uint64_t{1} << 20), h->data_offset + 64 * kPageBytes}),
      kPageBytes);
  if (bytes >= (*dest)->size) return;
  h->file_bytes = bytes;
  h->header_checksum = HeaderChecksum(*h);
  dest->reset();
  if (truncate(path.c_str(), static_cast<off_t>(bytes)) != 0) {
    IoError("cannot shorten state file", path, errno);
  }
  *dest = MapFile(path);
}

}  // namespace

std::unique_ptr<Mapping> BuildFile(const std::string& dest_path, const BuildSpec& spec,
                                   const EntrySource& source) {
  try {
    for (uint64_t bytes = std::max(spec.first_guess_bytes, spec.min_bytes);; bytes *= 2) {
      std::unique_ptr<Mapping> dest =
          CreateFile(dest_path, bytes, spec.reader_slots, spec.version, spec.applied_id,
                     spec.user_area, spec.copy_user_area);
      if (!Load(spec, source, dest.get())) continue;
      Trim(&dest, dest_path, spec.min_bytes);
      // Not synced: like a commit, the file reaches the disk with the kernel's writeback, and
      // one torn by a power failure is caught by the boot stamp (boot_id.h) CreateFile set.
      return dest;
    }
  } catch (...) {
    unlink(dest_path.c_str());
    throw;
  }
}

std::unique_ptr<Mapping> BuildCompactCopy(const Mapping& source, const MetaValues& meta,
                                          const std::string& dest_path, uint64_t min_bytes,
                                          UserAreaCopier copy_user_area) {
  const FileHeader& sh = *source.header;
  const uint64_t live = meta.alloc_top - sh.data_offset - meta.free_bytes;
  BuildSpec spec;
  spec.reader_slots = sh.reader_slots;
  spec.version = meta.version + 1;
  spec.applied_id = meta.applied_id;
  spec.user_area = sh.user_area;
  spec.copy_user_area = copy_user_area;
  spec.expected_keys = meta.key_count;
  spec.first_guess_bytes = sh.data_offset + live + live / 2 + (uint64_t{1} << 20);
  spec.min_bytes = min_bytes;
  return BuildFile(dest_path, spec, [&](const auto& add) {
    Iterator it(source.space(), meta.root);
    for (it.SeekToFirst(); it.Valid(); it.Next()) add(it.key(), it.value());
  });
}

}  // namespace whycache::tree
