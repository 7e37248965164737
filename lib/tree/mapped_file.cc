#include "lib/tree/mapped_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <new>

#include "lib/io/posix_file.h"
#include "lib/tree/boot_id.h"
#include "lib/tree/hash_index.h"
#include "lib/tree/reader_table.h"
#include "whycache/error.h"
#include "whycache/version.h"

namespace whycache::tree {

namespace bip = boost::interprocess;

namespace {

[[noreturn]] void Corrupt(const std::string& path, const std::string& what) {
  throw Error(Error::Code::kCorruption,
              "state file " + path + " is unusable (" + what +
                  "); it is derived data: delete it and rebuild it from the log");
}

[[noreturn]] void IoError(const std::string& what, const std::string& path) {
  throw Error(Error::Code::kIOError, what + " " + path + ": " + std::strerror(errno));
}

std::unique_ptr<Mapping> MapRegion(const std::string& path) {
  auto m = std::make_unique<Mapping>();
  m->path = path;
  try {
    m->file = bip::file_mapping(path.c_str(), bip::read_write);
  } catch (const bip::interprocess_exception& e) {
    throw Error(Error::Code::kIOError, "cannot open state file " + path + ": " + e.what());
  }
  struct stat st;
  if (fstat(m->file.get_mapping_handle().handle, &st) != 0) IoError("cannot stat", path);
  m->dev = st.st_dev;
  m->ino = st.st_ino;
  if (static_cast<uint64_t>(st.st_size) < kPageBytes) {
    Corrupt(path, "truncated: " + std::to_string(st.st_size) + " bytes, less than a header");
  }
  try {
    m->region = bip::mapped_region(m->file, bip::read_write, 0, st.st_size);
  } catch (const bip::interprocess_exception& e) {
    throw Error(Error::Code::kIOError, "cannot map state file " + path + ": " + e.what());
  }
  m->base = static_cast<char*>(m->region.get_address());
  m->size = static_cast<uint64_t>(st.st_size);
  m->header = reinterpret_cast<FileHeader*>(m->base);
  return m;
}

}  // namespace

Mapping::~Mapping() {
  // A forked child inherits the parent's Mapping objects but not its slots (nor its token).
  const uint32_t token = liveness.token();
  for (ReaderSlot* s : claimed) {
    if (token != 0 && static_cast<uint32_t>(s->owner.load(std::memory_order_relaxed)) == token) {
      ReleaseSlot(header, s);
    }
  }
}

void CheckMeta(const Mapping& m, const MetaValues& meta, uint64_t version) {
  const FileHeader& h = *m.header;
  if (meta.checksum != MetaValuesChecksum(meta)) {
    Corrupt(m.path, "checksum mismatch in the meta record of version " + std::to_string(version));
  }
  if (meta.version != version) {
    Corrupt(m.path, "meta record holds version " + std::to_string(meta.version) + ", expected " +
                        std::to_string(version));
  }
  if (meta.alloc_top < h.data_offset || meta.alloc_top > h.file_bytes ||
      meta.root >= meta.alloc_top || (meta.root != 0 && meta.root < h.data_offset) ||
      meta.free_list >= meta.alloc_top || meta.free_bytes > meta.alloc_top - h.data_offset ||
      meta.hash_dir >= meta.alloc_top || (meta.hash_dir != 0 && meta.hash_dir < h.data_offset) ||
      meta.hash_bits > kMaxHashBits) {
    Corrupt(m.path,
            "meta record of version " + std::to_string(version) + " points outside the file");
  }
  // Every key has a leaf of at least kMinLeafBytes in the allocated space. The count sizes the
  // hash index that writers and rebuilds allocate, so a larger one must not get that far.
  if (meta.key_count > (meta.alloc_top - h.data_offset) / kMinLeafBytes) {
    Corrupt(m.path, "meta record of version " + std::to_string(version) + " counts " +
                        std::to_string(meta.key_count) + " keys, more than the file can hold");
  }
}

MetaValues PublishedMeta(const Mapping& m) {
  const FileHeader& h = *m.header;
  for (;;) {
    const uint64_t cur = h.current.load(std::memory_order_acquire) & ~kSupersededBit;
    const MetaValues meta = LoadMeta(h.meta[cur & 1]);
    std::atomic_thread_fence(std::memory_order_acquire);
    if ((h.current.load(std::memory_order_relaxed) & ~kSupersededBit) != cur) continue;
    CheckMeta(m, meta, cur);
    return meta;
  }
}

std::unique_ptr<Mapping> MapFile(const std::string& path) {
  std::unique_ptr<Mapping> m = MapRegion(path);
  const FileHeader& h = *m->header;
  if (std::memcmp(h.magic, kMagic, sizeof(kMagic)) != 0) Corrupt(path, "bad magic number");
  if (h.format_version != kStateFormatVersion) {
    Corrupt(path, "format version " + std::to_string(h.format_version) + ", this build reads " +
                      std::to_string(kStateFormatVersion));
  }
  if (h.header_checksum != HeaderChecksum(h)) Corrupt(path, "header checksum mismatch");
  if (h.file_bytes != m->size) {
    Corrupt(path, "size is " + std::to_string(m->size) + " bytes, the header says " +
                      std::to_string(h.file_bytes) + " (truncated?)");
  }
  if (h.reader_slots == 0 || h.reader_slots > kMaxReaderSlots ||
      h.data_offset != DataOffset(h.reader_slots) || h.data_offset >= h.file_bytes) {
    Corrupt(path, "bad reader table size");
  }
  m->slots = reinterpret_cast<ReaderSlot*>(m->base + kPageBytes);
  PublishedMeta(*m);
  return m;
}

std::unique_ptr<Mapping> CreateFile(const std::string& path, uint64_t file_bytes,
                                    uint32_t reader_slots, uint64_t version, uint64_t applied_id,
                                    const unsigned char* user_area, UserAreaCopier copy_user_area) {
  const uint64_t data_offset = DataOffset(reader_slots);
  file_bytes = AlignUp(std::max(file_bytes, data_offset + 64 * kPageBytes), kPageBytes);
  // A file already at `path` may be mapped by readers (a swap that crashed before removing the
  // file it replaced leaves that one here): it is unlinked, never truncated or rewritten.
  if (unlink(path.c_str()) != 0 && errno != ENOENT) IoError("cannot remove", path);
  const int fd = io::OpenDescriptor(path, O_RDWR | O_CREAT | O_EXCL);
  if (fd < 0) IoError("cannot create state file", path);
  const int rc = ftruncate(fd, static_cast<off_t>(file_bytes));
  const int saved = errno;
  close(fd);
  errno = saved;
  if (rc != 0) IoError("cannot size state file", path);

  std::unique_ptr<Mapping> m = MapRegion(path);
  FileHeader* h = new (m->base) FileHeader{};
  std::memcpy(h->magic, kMagic, sizeof(kMagic));
  h->format_version = kStateFormatVersion;
  h->reader_slots = reader_slots;
  h->file_bytes = file_bytes;
  h->data_offset = data_offset;
  h->header_checksum = HeaderChecksum(*h);
  if (user_area != nullptr) {
    if (copy_user_area != nullptr) {
      copy_user_area(user_area, h->user_area);
    } else {
      std::memcpy(h->user_area, user_area, kUserAreaBytes);
    }
  }
  StampThisBoot(h);
  m->slots = reinterpret_cast<ReaderSlot*>(m->base + kPageBytes);
  for (uint32_t i = 0; i < reader_slots + kSharedReaderSlots; ++i) new (&m->slots[i]) ReaderSlot{};
  MetaValues meta;
  meta.version = version;
  meta.applied_id = applied_id;
  meta.alloc_top = data_offset;
  StoreMeta(h->meta[version & 1], meta);
  h->current.store(version, std::memory_order_release);
  return m;
}

}  // namespace whycache::tree
