#include "lib/cache/change_journal.h"

#include <fcntl.h>
#include <sys/mman.h>

#include <cerrno>
#include <cstring>
#include <mutex>

#include "whycache/error.h"

namespace whycache::cache {

struct ChangeJournal::Header {
  char magic[8];
  uint32_t version;
  uint32_t unused;
  uint64_t ring_bytes;
  std::atomic<uint64_t> head;       // The position after the last whole record.
  std::atomic<uint64_t> reclaimed;  // Positions below it may have been overwritten.
  std::atomic<uint64_t> last_id;    // The update id the records reach.
  std::atomic<int64_t> wanted_until_us;
};

namespace {

constexpr char kMagic[8] = {'W', 'H', 'Y', 'J', 'R', 'N', 'L', '\0'};
constexpr uint32_t kVersion = 1;
constexpr uint64_t kHeaderBytes = 4096;
constexpr uint64_t kFileBytes = kHeaderBytes + ChangeJournal::kRingBytes;
constexpr uint64_t kRingWords = ChangeJournal::kRingBytes / 8;

// A record: a word holding its length in words, its kind and a tag that garbage rarely has;
// after_id; last_id; the change count; then per change its op (1 byte), key length (4 bytes)
// and key, padded to a whole word.
constexpr uint64_t kRecordTag = uint64_t{0x4a524e} << 40;
constexpr uint64_t kTagMask = uint64_t{0xffffff} << 40;
constexpr uint64_t kChangesKind = 1;
constexpr uint64_t kReloadKind = 2;
constexpr uint64_t kRecordHeaderWords = 4;

std::string EncodeRecord(uint64_t kind, uint64_t after_id, uint64_t last_id, uint64_t count,
                         const std::string& payload) {
  std::string record(kRecordHeaderWords * 8, '\0');
  record += payload;
  record.resize((record.size() + 7) / 8 * 8, '\0');
  const uint64_t words[kRecordHeaderWords] = {record.size() / 8 | kind << 32 | kRecordTag, after_id,
                                              last_id, count};
  std::memcpy(record.data(), words, sizeof(words));
  return record;
}

// Decodes the records of `words`; false for anything inconsistent.
bool DecodeRecords(const std::vector<uint64_t>& words, std::vector<JournalRecord>* out) {
  for (size_t at = 0; at < words.size();) {
    const uint64_t first = words[at];
    const uint64_t length = first & 0xffffffff;
    const uint64_t kind = (first >> 32) & 0xff;
    if ((first & kTagMask) != kRecordTag || length < kRecordHeaderWords ||
        length > words.size() - at || (kind != kChangesKind && kind != kReloadKind)) {
      return false;
    }
    JournalRecord& r = out->emplace_back();
    r.reload = kind == kReloadKind;
    r.after_id = words[at + 1];
    r.last_id = words[at + 2];
    const uint64_t count = words[at + 3];
    const char* p = reinterpret_cast<const char*>(&words[at + kRecordHeaderWords]);
    const char* end = reinterpret_cast<const char*>(&words[at]) + length * 8;
    for (uint64_t i = 0; i < count; ++i) {
      if (end - p < 5) return false;
      uint32_t key_bytes;
      std::memcpy(&key_bytes, p + 1, 4);
      if (static_cast<uint64_t>(end - p - 5) < key_bytes) return false;
      Mutation& m = r.changes.emplace_back();
      m.op = static_cast<Mutation::Op>(p[0]);
      m.key.assign(p + 5, key_bytes);
      p += 5 + key_bytes;
    }
    at += length;
  }
  return true;
}

// Appliers of one process append under the process's poll lock already; this keeps the object
// safe on its own.
std::mutex& AppendMutex() {
  static std::mutex mu;
  return mu;
}

}  // namespace

std::string ChangeJournal::PathFor(const std::string& state_path) {
  return state_path + ".journal";
}

std::unique_ptr<ChangeJournal> ChangeJournal::Open(const std::string& path) {
  io::File file = io::File::Open(path, O_RDWR | O_CREAT);
  void* base = nullptr;
  {
    io::LockGuard lock(file);
    const bool sized = file.Size() == kFileBytes;
    if (!sized) file.Truncate(kFileBytes);
    base = mmap(nullptr, kFileBytes, PROT_READ | PROT_WRITE, MAP_SHARED, file.fd(), 0);
    if (base == MAP_FAILED) {
      throw Error(Error::Code::kIOError,
                  "cannot map the change journal " + path + ": " + std::strerror(errno));
    }
    Header* h = static_cast<Header*>(base);
    if (!sized || std::memcmp(h->magic, kMagic, sizeof(kMagic)) != 0 || h->version != kVersion ||
        h->ring_bytes != kRingBytes) {
      // New, or not a journal this build reads: it only ever holds what the log can tell again.
      h->head.store(0, std::memory_order_relaxed);
      h->reclaimed.store(0, std::memory_order_relaxed);
      h->last_id.store(0, std::memory_order_relaxed);
      h->wanted_until_us.store(0, std::memory_order_relaxed);
      h->version = kVersion;
      h->unused = 0;
      h->ring_bytes = kRingBytes;
      std::memcpy(h->magic, kMagic, sizeof(kMagic));
    }
  }
  return std::unique_ptr<ChangeJournal>(
      new ChangeJournal(std::move(file), static_cast<char*>(base)));
}

ChangeJournal::ChangeJournal(io::File file, char* base) : file_(std::move(file)), base_(base) {}

ChangeJournal::~ChangeJournal() { munmap(base_, kFileBytes); }

ChangeJournal::Header* ChangeJournal::header() const { return reinterpret_cast<Header*>(base_); }

std::atomic<uint64_t>* ChangeJournal::ring() const {
  return reinterpret_cast<std::atomic<uint64_t>*>(base_ + kHeaderBytes);
}

bool ChangeJournal::Wanted(int64_t now_us) const {
  return header()->wanted_until_us.load(std::memory_order_relaxed) >= now_us;
}

bool ChangeJournal::RenewLease(int64_t now_us) {
  std::atomic<int64_t>& until = header()->wanted_until_us;
  const int64_t was = until.load(std::memory_order_relaxed);
  // Renewed when half spent, so that a reader that looks often writes the line rarely.
  if (was < now_us + kLeaseMicros / 2)
    until.store(now_us + kLeaseMicros, std::memory_order_relaxed);
  return was >= now_us;
}

void ChangeJournal::AppendChanges(uint64_t after_id, uint64_t last_id,
                                  const std::vector<std::vector<Update>>& pages) {
  std::lock_guard mu(AppendMutex());
  io::LockGuard lock(file_);
  if (header()->last_id.load(std::memory_order_relaxed) != after_id) AppendReloadLocked(after_id);
  std::string payload;
  uint64_t count = 0;
  for (const std::vector<Update>& page : pages) {
    for (const Update& u : page) {
      if (u.id <= after_id || u.id > last_id) continue;
      for (const Mutation& m : u.mutations) {
        if (payload.size() + 5 + m.key.size() > kMaxRecordBytes) {
          AppendReloadLocked(last_id);
          return;
        }
        const uint32_t key_bytes = static_cast<uint32_t>(m.key.size());
        payload.push_back(static_cast<char>(m.op));
        payload.append(reinterpret_cast<const char*>(&key_bytes), 4);
        payload.append(m.key);
        ++count;
      }
    }
  }
  AppendLocked(EncodeRecord(kChangesKind, after_id, last_id, count, payload), last_id);
}

void ChangeJournal::AppendReload(uint64_t last_id) {
  std::lock_guard mu(AppendMutex());
  io::LockGuard lock(file_);
  AppendReloadLocked(last_id);
}

void ChangeJournal::AppendReloadLocked(uint64_t last_id) {
  AppendLocked(
      EncodeRecord(kReloadKind, header()->last_id.load(std::memory_order_relaxed), last_id, 0, ""),
      last_id);
}

void ChangeJournal::AppendLocked(const std::string& record, uint64_t last_id) {
  Header* h = header();
  const uint64_t head = h->head.load(std::memory_order_relaxed);
  const uint64_t end = head + record.size();
  // Readers check this after they copy: any of them that copied what is overwritten below
  // sees it (their acquire fence pairs with this release fence), and starts over.
  if (end > kRingBytes) {
    h->reclaimed.store(std::max(h->reclaimed.load(std::memory_order_relaxed), end - kRingBytes),
                       std::memory_order_relaxed);
  }
  std::atomic_thread_fence(std::memory_order_release);
  std::atomic<uint64_t>* words = ring();
  for (uint64_t i = 0; i < record.size() / 8; ++i) {
    uint64_t w;
    std::memcpy(&w, record.data() + 8 * i, 8);
    words[(head / 8 + i) % kRingWords].store(w, std::memory_order_relaxed);
  }
  h->last_id.store(last_id, std::memory_order_relaxed);
  h->head.store(end, std::memory_order_release);
}

uint64_t ChangeJournal::Head() const { return header()->head.load(std::memory_order_acquire); }

ChangeJournal::Cursor ChangeJournal::End() const { return Cursor{.position = Head()}; }

bool ChangeJournal::ReadNew(Cursor* cursor, std::vector<JournalRecord>* out) const {
  const Header* h = header();
  const uint64_t head = h->head.load(std::memory_order_acquire);
  const uint64_t from = cursor->position;
  if (from == head) return true;
  bool consistent = from < head && head - from <= kRingBytes && from % 8 == 0 && head % 8 == 0;
  std::vector<uint64_t> words;
  if (consistent) {
    words.resize((head - from) / 8);
    const std::atomic<uint64_t>* ring_words = ring();
    for (size_t i = 0; i < words.size(); ++i) {
      words[i] = ring_words[(from / 8 + i) % kRingWords].load(std::memory_order_relaxed);
    }
    std::atomic_thread_fence(std::memory_order_acquire);
    consistent = h->reclaimed.load(std::memory_order_relaxed) <= from;
  }
  const size_t had = out->size();
  if (consistent && DecodeRecords(words, out)) {
    cursor->position = head;
    return true;
  }
  out->resize(had);
  *cursor = End();
  return false;
}

}  // namespace whycache::cache
