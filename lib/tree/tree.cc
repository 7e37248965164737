#include "lib/tree/tree.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <mutex>

#include "lib/format/erased_prefixes.h"
#include "lib/io/clock.h"
#include "lib/io/posix_file.h"
#include "lib/tree/allocator.h"
#include "lib/tree/art_writer.h"
#include "lib/tree/boot_id.h"
#include "lib/tree/bulk_loader.h"
#include "lib/tree/key_order.h"
#include "lib/tree/mapped_file.h"
#include "lib/tree/reader_registry.h"
#include "lib/tree/reader_table.h"
#include "lib/tree/rebuild.h"
#include "lib/tree/verify.h"
#include "whycache/error.h"
#include "whycache/limits.h"

namespace whycache::tree {

namespace {

std::atomic<uint64_t> g_next_uid{1};

// This thread's reader record of the Tree it read last. A plain pointer: reaching it costs no
// check that thread-local objects were constructed, as the registry's records would.
thread_local ThreadReader* t_last_reader = nullptr;

// How often a process on a superseded file that it could not leave looks at PATH again.
constexpr int64_t kLookIntervalNs = 10'000'000;

bool SameFile(const Mapping& m, const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0 && st.st_dev == m.dev && st.st_ino == m.ino;
}

// Opens PATH.lock and takes an exclusive flock on it, which the kernel drops when the holder
// dies. Returns -1 when `wait` is false and another holder exists.
int AcquireWriterLock(const std::string& path, bool wait) {
  const std::string lock_path = path + ".lock";
  const int fd = io::OpenDescriptor(lock_path, O_RDWR | O_CREAT);
  if (fd < 0) {
    throw Error(Error::Code::kIOError,
                "cannot open writer lock " + lock_path + ": " + std::strerror(errno));
  }
  for (;;) {
    if (flock(fd, LOCK_EX | (wait ? 0 : LOCK_NB)) == 0) return fd;
    if (errno == EINTR) continue;
    const int saved = errno;
    close(fd);
    if (saved == EWOULDBLOCK) return -1;
    throw Error(Error::Code::kIOError,
                "cannot lock writer lock " + lock_path + ": " + std::strerror(saved));
  }
}

uint64_t EstimateBytes(const std::vector<WriteTxn::Op>& ops) {
  uint64_t n = 0;
  for (const auto& op : ops) {
    n += LeafBytes(op.key.size(), op.value ? op.value->size() : 0) + 2 * InnerBytes(kNode16, 8);
  }
  return n;
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Tree

Tree::Tree(std::string path, const TreeOptions& options)
    : path_(std::move(path)), options_(options), shared_(std::make_shared<TreeShared>()) {
  shared_->uid = g_next_uid.fetch_add(1, std::memory_order_relaxed);
  uid_ = shared_->uid;
}

Tree::~Tree() = default;

std::unique_ptr<Tree> Tree::Open(const std::string& path, const TreeOptions& options) {
  InstallForkHandler();
  RegisterForReadBarrier();
  if (options.reader_slots == 0 || options.reader_slots > kMaxReaderSlots) {
    throw Error(Error::Code::kInvalidArgument,
                "reader_slots must be between 1 and " + std::to_string(kMaxReaderSlots));
  }
  std::unique_ptr<Tree> tree(new Tree(path, options));
  struct stat st;
  if (stat(path.c_str(), &st) != 0) {
    if (errno != ENOENT || !options.create_if_missing) {
      throw Error(Error::Code::kIOError,
                  "cannot open state file " + path + ": " + std::strerror(errno));
    }
    // Created under the writer lock and renamed into place, so racing creators agree.
    const int fd = AcquireWriterLock(path, true);
    try {
      if (stat(path.c_str(), &st) != 0) {
        const std::string tmp = path + ".rebuild";
        CreateFile(tmp, options.initial_file_bytes, options.reader_slots, 1, 0, nullptr, nullptr);
        if (rename(tmp.c_str(), path.c_str()) != 0) {
          throw Error(Error::Code::kIOError,
                      "cannot rename " + tmp + " to " + path + ": " + std::strerror(errno));
        }
      }
    } catch (...) {
      close(fd);
      throw;
    }
    close(fd);
  }
  std::unique_ptr<Mapping> m = MapFile(path);
  const bool stamped = StampedThisBoot(*m->header);
  tree->shared_->current.store(m.get(), std::memory_order_release);
  tree->shared_->mappings.push_back(std::move(m));
  if (!stamped) tree->VerifyForThisBoot();
  return tree;
}

void Tree::VerifyForThisBoot() {
  std::unique_ptr<WriteTxn> lock = BeginWrite(true);
  // The file as it is, before a writer's recovery copies from it. Another process may have
  // verified it meanwhile, or replaced it with a file built in this boot.
  Mapping* m = CurrentMapping();
  if (!SameFile(*m, path_) || StampedThisBoot(*m->header)) return;
  try {
    VerifyMapping(*m, PublishedMeta(*m));
  } catch (const Error& e) {
    throw Error(Error::Code::kCorruption,
                "state file " + path_ +
                    " was written before the machine last restarted and is damaged (pages "
                    "written before a power failure may never have reached the disk): " +
                    e.what());
  }
  StampThisBoot(m->header);
}

void Tree::Reattach(ThreadReader* r) {
  std::lock_guard<std::mutex> lock(shared_->mu);
  Mapping* cur = shared_->current.load(std::memory_order_relaxed);
  if ((cur->header->current.load(std::memory_order_acquire) & kSupersededBit) != 0 &&
      !SameFile(*cur, path_)) {
    // A new file that cannot be mapped (missing, damaged) fails the writers that need it; readers
    // carry on with the superseded file, which is intact, and try again at their next read.
    try {
      std::unique_ptr<Mapping> m = MapFile(path_);
      shared_->mappings.push_back(std::move(m));
      shared_->current.store(shared_->mappings.back().get(), std::memory_order_release);
    } catch (const Error&) {
    }
  }
  if (r->active && r->active->mapping == shared_->current.load(std::memory_order_relaxed)) return;
  AttachToCurrentLocked(*shared_, r);
}

bool Tree::ShouldLookAtPath(Mapping* m) {
  // Another thread has moved this process already: follow it (the mutex, once per thread).
  if (shared_->current.load(std::memory_order_acquire) != m) return true;
  const int64_t now = io::CoarseMonotonicNanos();
  // The file at PATH replaced this one: one thread of the process looks at once.
  if (m->header->replaced.load(std::memory_order_acquire) != 0 &&
      !m->looked_since_replaced.exchange(true, std::memory_order_relaxed)) {
    m->next_look_ns.store(now + kLookIntervalNs, std::memory_order_relaxed);
    return true;
  }
  // Marked but not replaced yet (the swap is under way, or its writer died and the next one
  // finishes it), replaced by a writer of an earlier release, or PATH cannot be mapped: the file
  // is intact, and one thread looks again now and then.
  int64_t next = m->next_look_ns.load(std::memory_order_relaxed);
  return now >= next && m->next_look_ns.compare_exchange_strong(next, now + kLookIntervalNs,
                                                                std::memory_order_relaxed);
}

ThreadReader* Tree::Reader() {
  ThreadReader* r = t_last_reader;
  if (r == nullptr || r->tree_uid != uid_ ||
      r->fork_epoch != g_fork_epoch.load(std::memory_order_relaxed)) [[unlikely]] {
    r = ReaderForThisThread(shared_);
    t_last_reader = r;
  }
  return r;
}

// The pin protocol is PublishPin's and ScanPins's (reader_table.h): pin, then re-read
// `current`, and pin again when it moved.
//
// Most read transactions pin the version the thread's previous one saw: that path takes a few
// loads and the pin (a plain store, or a store and a fence where the process could not register
// for the writers' membarrier), and copies the version's values checked then. Every read
// transaction costs instructions that would otherwise let the processor overlap the cache misses
// of consecutive gets, so the rest is out of line.
ReadTxn Tree::BeginRead() {
  ThreadReader* r = Reader();
  ReaderAttachment* a = r->active.get();
  if (a != nullptr && a->depth == 0 && a->slot != nullptr) [[likely]] {
    const FileHeader* h = a->header;
    const uint64_t cur = h->current.load(std::memory_order_acquire);
    if (cur == a->view.version) [[likely]] {
      PublishPin(a->slot, cur);
      if (h->current.load(std::memory_order_relaxed) == cur) [[likely]] {
        a->depth = 1;
        return ReadTxn(a, r->fork_epoch, a->space, a->view);
      }
      Unpin(a);
    }
  }
  return BeginReadSlow(r);
}

ReadTxn Tree::BeginReadSlow(ThreadReader* r) {
  bool reattached = false;
  for (;;) {
    ReaderAttachment* a = r->active.get();
    if (a == nullptr) {
      Reattach(r);
      reattached = true;
      continue;
    }
    const FileHeader* h = a->header;
    uint64_t cur = h->current.load(std::memory_order_acquire);
    if ((cur & kSupersededBit) != 0 && !reattached && ShouldLookAtPath(a->mapping)) {
      Reattach(r);
      reattached = true;
      continue;
    }
    cur &= ~kSupersededBit;
    if (a->depth == 0) {
      if (a->slot == nullptr &&
          h->slots_released.load(std::memory_order_relaxed) != a->released_seen) {
        ClaimFreedSlot(*shared_, a);
      }
      if (a->slot != nullptr) {
        PublishPin(a->slot, cur);
      } else {
        a->shared = JoinSharedSlot(*a->mapping, cur,
                                   static_cast<uint32_t>(reinterpret_cast<uintptr_t>(r) >> 6));
        std::atomic_thread_fence(std::memory_order_seq_cst);
      }
    }
    const MetaRecord& meta = h->meta[cur & 1];
    VersionView view;
    view.version = meta.version.load(std::memory_order_relaxed);
    view.root = meta.root.load(std::memory_order_relaxed);
    view.applied_id = meta.applied_id.load(std::memory_order_relaxed);
    view.key_count = meta.key_count.load(std::memory_order_relaxed);
    const uint64_t hash_dir = meta.hash_dir.load(std::memory_order_relaxed);
    view.hash_bits = meta.hash_bits.load(std::memory_order_relaxed);
    std::atomic_thread_fence(std::memory_order_acquire);
    const bool moved = (h->current.load(std::memory_order_relaxed) & ~kSupersededBit) != cur;
    if (moved || view.version != cur) {
      if (a->depth == 0) Unpin(a);
      if (moved) continue;
      ThrowCorrupt("meta record of " + a->mapping->path + " holds version " +
                   std::to_string(view.version) + ", expected " + std::to_string(cur));
    }
    if (hash_dir != 0) {
      try {
        CheckHashDir(a->space, hash_dir, view.hash_bits);
      } catch (...) {
        if (a->depth == 0) Unpin(a);
        throw;
      }
      view.hash_dir = reinterpret_cast<const uint64_t*>(a->space.base + hash_dir);
    }
    // Only a version that is not superseded: the fast path compares `current` with it whole.
    if (cur == h->current.load(std::memory_order_relaxed)) a->view = view;
    ++a->depth;
    return ReadTxn(a, r->fork_epoch, a->space, view);
  }
}

std::unique_ptr<WriteTxn> Tree::BeginWrite(bool wait) {
  const int fd = AcquireWriterLock(path_, wait);
  if (fd < 0) return nullptr;
  std::unique_ptr<WriteTxn> txn(new WriteTxn(this, fd));
  // A writer works on the file at PATH; finding that it changed also moves this process's
  // readers there (an applier that reads its applied id next reads the new file's).
  FollowPathLocked();
  return txn;
}

Mapping* Tree::FollowPathLocked() {
  std::lock_guard<std::mutex> lock(shared_->mu);
  Mapping* cur = shared_->current.load(std::memory_order_relaxed);
  if (!SameFile(*cur, path_)) {
    std::unique_ptr<Mapping> m = MapFile(path_);
    // PATH was replaced by other means than a swap (moved aside as damaged, or deleted and made
    // anew): the file this process mapped is superseded all the same, and its readers, in every
    // process, move to PATH at their next read transaction.
    cur->header->replaced.store(1, std::memory_order_relaxed);
    cur->header->current.fetch_or(kSupersededBit, std::memory_order_seq_cst);
    cur = m.get();
    shared_->mappings.push_back(std::move(m));
    shared_->current.store(cur, std::memory_order_release);
  }
  CollectRetiredLocked(*shared_);
  return cur;
}

Mapping* Tree::CurrentForWriter() {
  Mapping* cur = FollowPathLocked();
  if ((cur->header->current.load(std::memory_order_acquire) & kSupersededBit) != 0) {
    // A writer died between marking this file superseded and renaming its replacement in:
    // finish the job.
    RebuildLocked(0);
    return CurrentForWriter();
  }
  return cur;
}

Mapping* Tree::CurrentMapping() {
  std::lock_guard<std::mutex> lock(shared_->mu);
  return shared_->current.load(std::memory_order_relaxed);
}

void Tree::RebuildLocked(uint64_t min_file_bytes) {
  Mapping* old = CurrentMapping();
  const MetaValues meta = PublishedMeta(*old);
  const std::string tmp = path_ + ".rebuild";
  SwapInLocked(BuildCompactCopy(*old, meta, tmp, min_file_bytes, options_.copy_user_area), tmp);
}

namespace {

// Moves `from` to `to` atomically for anyone opening `to`. The two are exchanged, and the caller
// then unlinks the old file (RemoveReplacedFile) rather than renaming over it: ext4 writes a file
// renamed over another to disk before the rename returns (auto_da_alloc), seconds for a large state
// file, to protect data that needs no protection here, as a file from before a crash is verified
// when opened and rebuilt if torn. A crash before the unlink, or an unlink that fails, leaves the
// superseded file at `from`, where readers may still map it: the next build unlinks it before
// creating its own file (CreateFile), so the swap, which has happened, is not reported as failed.
void ReplaceFile(const std::string& from, const std::string& to) {
  if (renameat2(AT_FDCWD, from.c_str(), AT_FDCWD, to.c_str(), RENAME_EXCHANGE) == 0) return;
  // Not every file system exchanges files, and there is nothing to exchange with when someone
  // deleted `to`.
  if ((errno != EINVAL && errno != ENOSYS && errno != ENOENT) ||
      rename(from.c_str(), to.c_str()) != 0) {
    throw Error(Error::Code::kIOError,
                "cannot rename " + from + " to " + to + ": " + std::strerror(errno));
  }
}

// Removes the file ReplaceFile exchanged out of the way, if it did.
void RemoveReplacedFile(const std::string& path) {
  if (unlink(path.c_str()) != 0 && errno != ENOENT) {
    std::fprintf(stderr, "whycache: cannot remove the superseded state file %s: %s\n", path.c_str(),
                 std::strerror(errno));
  }
}

}  // namespace

void Tree::SwapInLocked(std::unique_ptr<Mapping> fresh, const std::string& from_path) {
  {
    // Held until `old` is marked: once PATH names the new file, a reader thread of this process
    // may move there and, the last to leave `old`, unmap it (CollectRetiredLocked).
    std::lock_guard<std::mutex> lock(shared_->mu);
    Mapping* old = shared_->current.load(std::memory_order_relaxed);
    // Superseded first, rename second: a crash in between leaves PATH marked, and the next
    // writer rebuilds it (readers keep reading it meanwhile, it is intact).
    old->header->current.fetch_or(kSupersededBit, std::memory_order_seq_cst);
    ReplaceFile(from_path, path_);
    // Readers elsewhere look at PATH at once from now on, not only now and then.
    old->header->replaced.store(1, std::memory_order_release);
    fresh->path = path_;
    shared_->current.store(fresh.get(), std::memory_order_release);
    shared_->mappings.push_back(std::move(fresh));
    CollectRetiredLocked(*shared_);
  }
  RemoveReplacedFile(from_path);
}

bool Tree::Install(const std::string& built_path, IfOlder if_older) {
  std::unique_ptr<WriteTxn> lock = BeginWrite(true);
  const Mapping* current = CurrentForWriter();
  std::unique_ptr<Mapping> built = MapFile(built_path);
  // Compared under the writer lock, where no writer moves the current file on: a build that
  // writers overtook meanwhile (e.g. an applier of another process that found nothing to
  // rebuild when it looked) would take readers back.
  if (if_older == IfOlder::kRefuse &&
      PublishedMeta(*built).applied_id < PublishedMeta(*current).applied_id) {
    return false;
  }
  SwapInLocked(std::move(built), built_path);
  return true;
}

namespace {

// A batch of at least 1/kMergeFraction of the tree's keys is merged into a new file: a
// sequential pass over every entry then costs less than copy-on-write inserts of the batch.
// Small batches never are, as a new file costs a file creation and a full copy of the tree.
constexpr uint64_t kMergeFraction = 4;
constexpr uint64_t kMergeMinOps = 4096;

}  // namespace

uint64_t MergeBatchOps(uint64_t keys) {
  return std::max(kMergeMinOps, keys / kMergeFraction + (keys % kMergeFraction != 0));
}

bool Tree::MergesIntoNewFile(const Mapping& m, const MetaValues& meta, const WriteTxn& txn) {
  const uint64_t merge_at = MergeBatchOps(meta.key_count);
  uint64_t changes = txn.size();
  // Keys under the prefix deletes count as changes: when they are many, a new file of the keys
  // that remain costs less than dropping them one by one. Counting them all would cost a read
  // per inner node of each subtree: beyond a few thousand, an estimate decides.
  constexpr uint64_t kCountedExactly = 4096;
  for (const WriteTxn::PrefixErase& e : txn.erased_prefixes_) {
    if (changes >= merge_at) break;
    changes +=
        EstimateKeys(m.space(), SubtreeUnder(m.space(), meta.root, e.prefix), kCountedExactly);
  }
  return changes >= merge_at;
}

void Tree::Publish(Mapping* m, const WriteTxn& txn, uint64_t applied_id) {
  const std::vector<WriteTxn::Op>& ops = txn.ops_;
  FileHeader* h = m->header;
  const MetaValues meta = PublishedMeta(*m);
  const uint64_t next = meta.version + 1;
  const PinSummary pins = ScanPins(*m, meta.version);
  Allocator alloc(m->base, m->size, h->data_offset, meta, pins.oldest, next);
  HashIndexWriter index(m->base, m->space(), &alloc, meta.hash_dir, meta.hash_bits);
  uint64_t puts = 0;
  for (const auto& op : ops) puts += op.value.has_value();
  index.Reserve(meta.key_count + puts);
  ArtWriter writer(m->base, m->space(), &alloc, &index, meta.root, meta.key_count,
                   meta.content_hash);
  for (const WriteTxn::PrefixErase& e : txn.erased_prefixes_) writer.ErasePrefix(e.prefix);
  // Key order gives the writer locality.
  for (const KeyedOp& k : KeyOrder(ops)) {
    const uint32_t i = k.op;
    if (ops[i].value) {
      writer.Put(ops[i].key, *ops[i].value);
    } else {
      writer.Erase(ops[i].key);
    }
  }
  MetaValues out;
  out.version = next;
  out.root = writer.root();
  out.applied_id = applied_id;
  out.key_count = writer.key_count();
  out.content_hash = writer.content_hash();
  out.hash_dir = index.dir();
  out.hash_bits = index.bits();
  out.free_list = alloc.Persist();
  out.alloc_top = alloc.top();
  out.free_bytes = alloc.free_bytes();
  StoreMeta(h->meta[next & 1], out);
  h->publish_time_us[next % kPublishTimeRing].store(io::NowMicros(), std::memory_order_relaxed);
  h->current.store(next, std::memory_order_seq_cst);
}

namespace {

// The smallest key above every key that starts with `prefix`, or nullopt when there is none.
std::optional<std::string> PastPrefix(std::string_view prefix) {
  std::string past(prefix);
  while (!past.empty() && static_cast<uint8_t>(past.back()) == 0xff) past.pop_back();
  if (past.empty()) return std::nullopt;
  past.back() = static_cast<char>(static_cast<uint8_t>(past.back()) + 1);
  return past;
}

// The entries of a version in key order, without those under erased prefixes: the range of
// keys under one is passed over with one seek, so that a prefix delete costs what the keys
// that remain cost, not the ones it removes.
class SurvivingEntries {
 public:
  SurvivingEntries(const Space& space, Ref root, const format::ErasedPrefixes& erased)
      : it_(space, root), erased_(erased) {
    it_.SeekToFirst();
    Settle();
  }

  bool Valid() const { return !done_ && it_.Valid(); }
  std::string_view key() const { return it_.key(); }
  std::string_view value() const { return it_.value(); }
  void Next() {
    it_.Next();
    Settle();
  }

 private:
  void Settle() {
    while (!erased_.empty() && it_.Valid()) {
      const std::optional<size_t> covered = erased_.ShortestCovering(it_.key());
      if (!covered) return;
      const std::optional<std::string> past = PastPrefix(it_.key().substr(0, *covered));
      if (!past) {
        done_ = true;
        return;
      }
      it_.Seek(*past);
    }
  }

  Iterator it_;
  const format::ErasedPrefixes& erased_;
  bool done_ = false;
};

}  // namespace

void Tree::MergeLocked(const Mapping& m, const MetaValues& meta, const WriteTxn& txn,
                       uint64_t applied_id) {
  const std::vector<WriteTxn::Op>& ops = txn.ops_;
  const std::vector<KeyedOp> order = KeyOrder(ops);
  format::ErasedPrefixes erased;
  for (const WriteTxn::PrefixErase& e : txn.erased_prefixes_) erased.Add(e.prefix, {});
  uint64_t puts = 0;
  uint64_t put_bytes = 0;
  for (const auto& op : ops) {
    if (op.value) {
      ++puts;
      put_bytes += op.key.size() + op.value->size();
    }
  }
  const FileHeader& h = *m.header;
  BuildSpec spec;
  spec.reader_slots = h.reader_slots;
  spec.version = meta.version + 1;
  spec.applied_id = applied_id;
  spec.user_area = h.user_area;
  spec.copy_user_area = options_.copy_user_area;
  spec.expected_keys = meta.key_count + puts;
  spec.first_guess_bytes = meta.alloc_top - meta.free_bytes + LoadedBytesBound(puts, put_bytes);
  const std::string tmp = path_ + ".rebuild";
  SwapInLocked(BuildFile(tmp, spec,
                         [&](const auto& add) {
                           SurvivingEntries it(m.space(), meta.root, erased);
                           for (size_t i = 0; i < order.size();) {
                             // The ops come in key order but lie scattered in memory.
                             constexpr size_t kAhead = 8;
                             if (i + 2 * kAhead < order.size()) {
                               __builtin_prefetch(&ops[order[i + 2 * kAhead].op]);
                             }
                             if (i + kAhead < order.size()) {
                               __builtin_prefetch(ops[order[i + kAhead].op].key.data());
                             }
                             // The last op on a key decides it.
                             const std::string_view key = ops[order[i].op].key;
                             size_t last = i;
                             while (last + 1 < order.size() &&
                                    SameHead(order[last + 1], order[i]) &&
                                    ops[order[last + 1].op].key == key) {
                               ++last;
                             }
                             i = last + 1;
                             for (; it.Valid() && it.key() < key; it.Next()) {
                               add(it.key(), it.value());
                             }
                             if (it.Valid() && it.key() == key) it.Next();
                             const WriteTxn::Op& decisive = ops[order[last].op];
                             if (decisive.value) add(key, *decisive.value);
                           }
                           for (; it.Valid(); it.Next()) add(it.key(), it.value());
                         }),
               tmp);
}

void Tree::Load(uint64_t expected_keys, uint64_t expected_bytes, const EntrySource& source,
                uint64_t applied_id) {
  std::unique_ptr<WriteTxn> lock = BeginWrite(true);
  const Mapping& m = *CurrentForWriter();
  const MetaValues meta = PublishedMeta(m);
  if (meta.key_count != 0) {
    throw Error(Error::Code::kInvalidArgument, "cannot load entries into " + path_ + ": it holds " +
                                                   std::to_string(meta.key_count) + " already");
  }
  BuildSpec spec;
  spec.reader_slots = m.header->reader_slots;
  spec.version = meta.version + 1;
  spec.applied_id = applied_id;
  spec.user_area = m.header->user_area;
  spec.copy_user_area = options_.copy_user_area;
  spec.expected_keys = expected_keys;
  spec.first_guess_bytes = m.header->data_offset + LoadedBytesBound(expected_keys, expected_bytes);
  const std::string tmp = path_ + ".rebuild";
  SwapInLocked(BuildFile(tmp, spec, source), tmp);
}

void Tree::Verify() {
  std::unique_ptr<WriteTxn> lock = BeginWrite(true);
  Mapping* m = CurrentForWriter();
  VerifyMapping(*m, PublishedMeta(*m));
}

void Tree::Compact() {
  std::unique_ptr<WriteTxn> lock = BeginWrite(true);
  CurrentForWriter();
  RebuildLocked(0);
}

TreeStats Tree::Stats() {
  ReadTxn txn = BeginRead();
  const Mapping& m = *txn.reader_->mapping;
  const FileHeader& h = *m.header;
  const MetaValues meta = PublishedMeta(m);
  ReapDeadSlots(m);  // Writers free only the dead slots that hold space back.
  const PinSummary pins = ScanPins(m, meta.version);
  TreeStats s;
  s.keys = meta.key_count;
  s.version = meta.version;
  s.applied_id = meta.applied_id;
  s.file_bytes = h.file_bytes;
  s.free_bytes = meta.free_bytes;
  s.used_bytes = meta.alloc_top - h.data_offset - meta.free_bytes;
  // This transaction pins a version too; it is at least as new as the published one we read.
  s.oldest_pinned_version = pins.oldest;
  if (pins.oldest < meta.version) {
    // When it is older than the ring remembers, the oldest remembered time is a lower bound.
    const uint64_t superseded_at = meta.version - pins.oldest < kPublishTimeRing
                                       ? pins.oldest + 1
                                       : meta.version + 1 - kPublishTimeRing;
    const int64_t t = h.publish_time_us[superseded_at % kPublishTimeRing].load();
    s.oldest_pinned_age_seconds = t > 0 ? (io::NowMicros() - t) / 1e6 : 0;
  }
  s.reader_slots = h.reader_slots;
  s.reader_slots_in_use = pins.in_use;
  return s;
}

unsigned char* Tree::UserArea() {
  ThreadReader* r = Reader();
  if (!r->active || ((r->active->mapping->header->current.load(std::memory_order_acquire) &
                      kSupersededBit) != 0 &&
                     ShouldLookAtPath(r->active->mapping))) {
    Reattach(r);
  }
  return r->active->mapping->header->user_area;
}

// ---------------------------------------------------------------------------------------------
// ReadTxn

Iterator ReadTxn::LowerBound(std::string_view key) const {
  Iterator it(space_, view_.root);
  it.Seek(key);
  return it;
}

// ---------------------------------------------------------------------------------------------
// WriteTxn

WriteTxn::~WriteTxn() { close(lock_fd_); }

namespace {

void CheckKey(std::string_view key) {
  if (key.size() > kMaxKeyBytes) {
    throw Error(Error::Code::kInvalidArgument, "key of " + std::to_string(key.size()) +
                                                   " bytes exceeds the limit of " +
                                                   std::to_string(kMaxKeyBytes) + " bytes");
  }
}

void CheckValue(std::string_view value) {
  if (value.size() > kMaxValueBytes) {
    throw Error(Error::Code::kInvalidArgument, "value of " + std::to_string(value.size()) +
                                                   " bytes exceeds the limit of " +
                                                   std::to_string(kMaxValueBytes) + " bytes");
  }
}

// Never a null view, even when empty: its bytes are copied with memcpy later.
constexpr char kEmpty[1] = {};

std::string_view NonNull(std::string_view bytes) {
  return bytes.empty() ? std::string_view(kEmpty, 0) : bytes;
}

}  // namespace

void WriteTxn::Put(std::string_view key, std::string_view value) {
  CheckKey(key);
  CheckValue(value);
  const std::string_view kept_key = Keep(key);
  ops_.push_back({kept_key, Keep(value)});
}

void WriteTxn::Erase(std::string_view key) {
  CheckKey(key);
  ops_.push_back({Keep(key), std::nullopt});
}

void WriteTxn::PutBorrowed(std::string_view key, std::string_view value) {
  CheckKey(key);
  CheckValue(value);
  ops_.push_back({NonNull(key), NonNull(value)});
}

void WriteTxn::EraseBorrowed(std::string_view key) {
  CheckKey(key);
  ops_.push_back({NonNull(key), std::nullopt});
}

void WriteTxn::ErasePrefix(std::string_view prefix) {
  CheckKey(prefix);
  erased_prefixes_.push_back({Keep(prefix), ops_.size()});
}

void WriteTxn::ErasePrefixBorrowed(std::string_view prefix) {
  CheckKey(prefix);
  erased_prefixes_.push_back({NonNull(prefix), ops_.size()});
}

void WriteTxn::DropErasedOps() {
  if (erased_prefixes_.empty()) return;
  format::ErasedPrefixes erased;
  for (const PrefixErase& e : erased_prefixes_) erased.Add(e.prefix, {e.ops_before, 0});
  size_t kept = 0;
  for (size_t i = 0; i < ops_.size(); ++i) {
    const std::optional<format::LogPosition> newest = erased.NewestCovering(ops_[i].key);
    if (!newest || newest->id <= i) ops_[kept++] = ops_[i];
  }
  ops_.resize(kept);
}

std::string_view WriteTxn::Keep(std::string_view bytes) {
  constexpr size_t kChunkBytes = size_t{1} << 20;
  if (bytes.empty()) return NonNull(bytes);
  if (bytes.size() > chunk_left_) {
    const size_t n = std::max(kChunkBytes, bytes.size());
    chunks_.push_back(std::make_unique_for_overwrite<char[]>(n));
    chunk_at_ = chunks_.back().get();
    chunk_left_ = n;
  }
  std::memcpy(chunk_at_, bytes.data(), bytes.size());
  const std::string_view kept(chunk_at_, bytes.size());
  chunk_at_ += bytes.size();
  chunk_left_ -= bytes.size();
  return kept;
}

void WriteTxn::Commit(uint64_t applied_id) {
  if (committed_) throw Error(Error::Code::kInvalidArgument, "transaction already committed");
  Tree& t = *tree_;
  DropErasedOps();
  uint64_t min_bytes = 0;
  for (int attempt = 0;; ++attempt) {
    Mapping* m = t.CurrentForWriter();
    const MetaValues meta = PublishedMeta(*m);
    if (t.MergesIntoNewFile(*m, meta, *this)) {
      t.MergeLocked(*m, meta, *this, applied_id);
      break;
    }
    try {
      t.Publish(m, *this, applied_id);
      break;
    } catch (const OutOfSpace&) {
      if (attempt == 8) {
        throw Error(Error::Code::kIOError, "state file " + t.path_ + " cannot grow enough");
      }
      // Grow: at least double, and leave room for this batch.
      min_bytes = std::max(min_bytes * 2, m->size * 2 + EstimateBytes(ops_));
      t.RebuildLocked(min_bytes);
    }
  }
  committed_ = true;
  Mapping* m = t.CurrentForWriter();
  const MetaValues meta = PublishedMeta(*m);
  const uint64_t used = meta.alloc_top - m->header->data_offset - meta.free_bytes;
  if (m->size > t.options_.initial_file_bytes &&
      meta.free_bytes > t.options_.max_free_fraction * static_cast<double>(used)) {
    t.RebuildLocked(0);
  }
}

}  // namespace whycache::tree
