#include "lib/tree/file_layout.h"

#include <cstring>

namespace whycache::tree {

namespace {

inline uint64_t Mix(uint64_t x) {
  x ^= x >> 32;
  x *= 0xd6e8feb86659fd93ULL;
  x ^= x >> 32;
  x *= 0xd6e8feb86659fd93ULL;
  x ^= x >> 32;
  return x;
}

}  // namespace

uint64_t Hash64(const void* data, size_t n, uint64_t seed) {
  const unsigned char* p = static_cast<const unsigned char*>(data);
  uint64_t h = Mix(seed ^ (n * 0x9e3779b97f4a7c15ULL));
  while (n >= 8) {
    uint64_t w;
    std::memcpy(&w, p, 8);
    h = Mix(h ^ w) + 0x9e3779b97f4a7c15ULL;
    p += 8;
    n -= 8;
  }
  uint64_t tail = 0;
  std::memcpy(&tail, p, n);
  return Mix(h ^ tail ^ (uint64_t{n} << 56));
}

uint64_t HeaderChecksum(const FileHeader& h) {
  uint64_t fields[5];
  std::memcpy(&fields[0], h.magic, 8);
  fields[1] = h.format_version;
  fields[2] = h.reader_slots;
  fields[3] = h.file_bytes;
  fields[4] = h.data_offset;
  return Hash64(fields, sizeof(fields), 0x6865616465720000ULL);
}

MetaValues LoadMeta(const MetaRecord& m) {
  MetaValues v;
  v.version = m.version.load(std::memory_order_relaxed);
  v.root = m.root.load(std::memory_order_relaxed);
  v.applied_id = m.applied_id.load(std::memory_order_relaxed);
  v.key_count = m.key_count.load(std::memory_order_relaxed);
  v.alloc_top = m.alloc_top.load(std::memory_order_relaxed);
  v.free_list = m.free_list.load(std::memory_order_relaxed);
  v.free_bytes = m.free_bytes.load(std::memory_order_relaxed);
  v.content_hash = m.content_hash.load(std::memory_order_relaxed);
  v.hash_dir = m.hash_dir.load(std::memory_order_relaxed);
  v.hash_bits = m.hash_bits.load(std::memory_order_relaxed);
  v.checksum = m.checksum.load(std::memory_order_relaxed);
  return v;
}

uint64_t MetaValuesChecksum(const MetaValues& v) {
  const uint64_t fields[10] = {v.version,   v.root,       v.applied_id,   v.key_count, v.alloc_top,
                               v.free_list, v.free_bytes, v.content_hash, v.hash_dir,  v.hash_bits};
  return Hash64(fields, sizeof(fields), 0x6d65746100000000ULL);
}

uint64_t MetaChecksum(const MetaRecord& m) { return MetaValuesChecksum(LoadMeta(m)); }

void StoreMeta(MetaRecord& m, const MetaValues& v) {
  m.version.store(v.version, std::memory_order_relaxed);
  m.root.store(v.root, std::memory_order_relaxed);
  m.applied_id.store(v.applied_id, std::memory_order_relaxed);
  m.key_count.store(v.key_count, std::memory_order_relaxed);
  m.alloc_top.store(v.alloc_top, std::memory_order_relaxed);
  m.free_list.store(v.free_list, std::memory_order_relaxed);
  m.free_bytes.store(v.free_bytes, std::memory_order_relaxed);
  m.content_hash.store(v.content_hash, std::memory_order_relaxed);
  m.hash_dir.store(v.hash_dir, std::memory_order_relaxed);
  m.hash_bits.store(v.hash_bits, std::memory_order_relaxed);
  m.checksum.store(MetaValuesChecksum(v), std::memory_order_relaxed);
}

}  // namespace whycache::tree
