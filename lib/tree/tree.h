// The shared tree: an ordered map from byte strings to byte strings in one memory-mapped file
// that any number of processes open at once. Readers pin a published version and get views into
// the mapping without locks or system calls; one writer at a time (across processes) applies a
// batch copy-on-write and publishes it, with the caller's applied id, in one atomic store.
//
// Files: PATH holds the tree; PATH.lock is the writer lock (flock, released by the kernel when
// the holder dies); PATH.rebuild is the temporary file of a rebuild in progress. When PATH is
// full or fragmented, the writer rebuilds a compact copy and renames it over PATH; processes
// move to it at their next read transaction.
#ifndef WHYCACHE_LIB_TREE_TREE_H_
#define WHYCACHE_LIB_TREE_TREE_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "lib/tree/art_node.h"
#include "lib/tree/file_layout.h"
#include "lib/tree/hash_index.h"
#include "lib/tree/reader_registry.h"

namespace whycache::tree {

struct TreeOptions {
  // Create PATH when it does not exist. When false, a missing file is Error(kIOError).
  bool create_if_missing = true;
  // Size of a newly created file. Files grow by rebuild (at least doubling) when full.
  uint64_t initial_file_bytes = uint64_t{16} << 20;
  // Reader slots of a newly created file: one per thread (of every process) that reads it, held
  // until the thread exits. Threads beyond it share a few slots, at the cost of an atomic
  // read-modify-write per read transaction, and take an own slot once one is freed.
  uint32_t reader_slots = 4096;
  // After a commit, rebuild compactly when free space exceeds this fraction of the used space
  // and the file is larger than initial_file_bytes.
  double max_free_fraction = 1.0;
  // Copies the user area into each rebuilt file of this object. Null copies it byte for byte,
  // which is a data race if other threads or processes update it meanwhile: a layer that keeps
  // atomics there passes a copier that reads them as atomics.
  UserAreaCopier copy_user_area = nullptr;
};

struct TreeStats {
  uint64_t keys = 0;
  uint64_t version = 0;     // Published version (counts commits, survives rebuilds).
  uint64_t applied_id = 0;  // Of the published version.
  uint64_t file_bytes = 0;
  uint64_t used_bytes = 0;               // Allocated and not free: nodes, leaves, the free list.
  uint64_t free_bytes = 0;               // Freed by commits, waiting for reuse.
  uint64_t oldest_pinned_version = 0;    // Equal to `version` when no reader lags behind.
  double oldest_pinned_age_seconds = 0;  // How long that version has been superseded.
  uint32_t reader_slots = 0;
  uint32_t reader_slots_in_use = 0;
};

// Calls its argument with every entry of a new tree, in strictly increasing key order.
using EntrySource =
    std::function<void(const std::function<void(std::string_view key, std::string_view value)>&)>;

class Tree;

// Entries in byte order (unsigned lexicographic, as std::string compares). Key and value views
// point into the mapping and stay valid until the ReadTxn that made the iterator ends.
// Throws Error(kCorruption) when it meets a malformed node.
class Iterator {
 public:
  // Iterates the tree at `root` in `space`. REQUIRES: the version of `root` stays pinned (or the
  // writer lock held) while the iterator is used. Usually made by ReadTxn.
  Iterator(const Space& space, Ref root) : space_(space), root_(root) {}

  bool Valid() const { return leaf_ != nullptr; }
  // REQUIRES: Valid().
  std::string_view key() const { return LeafKey(leaf_); }
  std::string_view value() const { return LeafValue(leaf_); }
  void Next();
  // Positions at the first entry with key >= `target` (not Valid() when there is none).
  void Seek(std::string_view target);
  void SeekToFirst();

 private:
  struct Frame {
    const InnerHeader* node;
    int pos;
  };
  // The path from the root to the current leaf. Frames live in the iterator up to a depth no
  // tree of realistic keys reaches (an inner node consumes at least a key byte, and path
  // compression skips the bytes its keys share), so a scan allocates nothing; deeper ones spill
  // to the heap.
  static constexpr size_t kInlineFrames = 24;
  Frame& At(size_t i) { return i < kInlineFrames ? frames_[i] : spilled_[i - kInlineFrames]; }
  Frame& Top() { return At(depth_ - 1); }
  void Pop() {
    if (--depth_ >= kInlineFrames) spilled_.pop_back();
  }
  void Clear() {
    depth_ = 0;
    spilled_.clear();
  }

  void Descend(Ref ref);
  void Advance();
  void Push(const InnerHeader* n, int pos);

  Space space_;
  Ref root_;
  size_t depth_ = 0;
  Frame frames_[kInlineFrames] = {};
  std::vector<Frame> spilled_;
  const LeafHeader* leaf_ = nullptr;
};

// A consistent snapshot of the tree. Ending it (destruction) unpins the version.
// Thread-safety: use and destroy it on the thread that began it. A thread may hold several at
// once; the first one pins its version, which protects every later (newer) one too.
class ReadTxn {
 public:
  ReadTxn(ReadTxn&& other) noexcept
      : reader_(other.reader_),
        fork_epoch_(other.fork_epoch_),
        space_(other.space_),
        view_(other.view_) {
    other.reader_ = nullptr;
  }
  ReadTxn& operator=(ReadTxn&&) = delete;
  ~ReadTxn() {
    if (reader_ != nullptr) EndRead(reader_, fork_epoch_);
  }

  // The value of `key` as a view into the mapping, valid until this transaction ends; nothing
  // when the key is absent.
  // Point gets go through the hash index; a file gets one at its first commit.
  std::optional<std::string_view> Get(std::string_view key) const {
    std::string_view v;
    if (view_.hash_dir != nullptr && HashLookup(space_, view_.hash_dir, view_.hash_bits, key, &v)) {
      return v;
    }
    return std::nullopt;
  }

  // Calls fn(key, value) for every entry whose key starts with `prefix`, in byte order, until
  // fn returns false. Any callable: called directly, nothing allocated.
  template <typename Fn>
  void Scan(std::string_view prefix, Fn&& fn) const {
    for (Iterator it = LowerBound(prefix); it.Valid(); it.Next()) {
      const std::string_view k = it.key();
      if (!k.starts_with(prefix) || !fn(k, it.value())) return;
    }
  }

  // An unpositioned iterator over this snapshot: call Seek or SeekToFirst.
  Iterator NewIterator() const { return Iterator(space_, view_.root); }
  // An iterator at the first key >= `key`.
  Iterator LowerBound(std::string_view key) const;

  uint64_t AppliedId() const { return view_.applied_id; }
  uint64_t Version() const { return view_.version; }
  uint64_t KeyCount() const { return view_.key_count; }

 private:
  friend class Tree;
  ReadTxn(ReaderAttachment* reader, uint64_t fork_epoch, const Space& space,
          const VersionView& view)
      : reader_(reader), fork_epoch_(fork_epoch), space_(space), view_(view) {}

  ReaderAttachment* reader_;
  uint64_t fork_epoch_;  // Of the process that began it: a forked child's copy unpins nothing.
  Space space_;
  VersionView view_;
};

// The fewest ops with which a commit into a tree of `keys` keys merges the batch and the tree's
// entries into a new file in one sorted pass (WriteTxn::Commit); a smaller batch is applied
// copy-on-write, at a cost per op that grows with the tree. For callers that cut a backlog into
// transactions.
uint64_t MergeBatchOps(uint64_t keys);

// A batch of changes, applied and published by Commit. Destroying it without Commit discards
// the batch at no cost. Holds the writer lock of the file until destroyed.
// Thread-safety: one thread at a time.
class WriteTxn {
 public:
  ~WriteTxn();

  // Sets `key` to `value` (both arbitrary bytes; the value may be empty). Throws
  // Error(kInvalidArgument) naming the limit when key or value is longer than kMaxKeyBytes or
  // kMaxValueBytes; the batch is then unchanged.
  void Put(std::string_view key, std::string_view value);
  // Removes `key`; erasing a missing key is fine. Throws like Put for an oversized key.
  void Erase(std::string_view key);

  // Like Put and Erase, but the transaction keeps the caller's bytes instead of a copy: for a
  // caller that holds them anyway (the applier, a page of the log), it saves copying each one.
  // REQUIRES: the bytes stay valid and unchanged until the transaction is destroyed.
  void PutBorrowed(std::string_view key, std::string_view value);
  void EraseBorrowed(std::string_view key);

  // Removes every key that starts with `prefix` (the key equal to it included; an empty prefix:
  // every key) by cutting off the subtree that holds them, in order with the other changes of
  // the transaction: a Put under the prefix before it is undone, one after it stays. Throws like
  // Erase for an oversized prefix. The Borrowed form keeps the caller's bytes, as above.
  void ErasePrefix(std::string_view prefix);
  void ErasePrefixBorrowed(std::string_view prefix);

  // Applies the batch in order and publishes it atomically together with `applied_id`. Grows
  // the file (rebuild and swap) when it is full. A batch large against the tree is merged with
  // the tree's entries into a new file instead, which is swapped in like a rebuild. Throws
  // Error(kIOError) when the file cannot be grown, Error(kCorruption) when the published state is
  // malformed; the published version is then unchanged. REQUIRES: not committed before.
  void Commit(uint64_t applied_id);

  size_t size() const { return ops_.size() + erased_prefixes_.size(); }

  // Views into the transaction's own copies of the bytes, or into the caller's.
  struct Op {
    std::string_view key;
    std::optional<std::string_view> value;  // Nothing for an erase.
  };

 private:
  friend class Tree;
  WriteTxn(Tree* tree, int lock_fd) : tree_(tree), lock_fd_(lock_fd) {}
  // Copies `bytes` into chunks that never move, so the views in ops_ stay valid: one
  // allocation per chunk instead of two per op.
  std::string_view Keep(std::string_view bytes);
  // Drops the ops that a later prefix delete undoes, so that the prefix deletes can be applied
  // before all the ops (they commute with the ops that remain).
  void DropErasedOps();

  Tree* tree_;
  int lock_fd_;
  bool committed_ = false;
  std::vector<Op> ops_;
  struct PrefixErase {
    std::string_view prefix;
    size_t ops_before;  // How many of ops_ came before it.
  };
  std::vector<PrefixErase> erased_prefixes_;
  std::vector<std::unique_ptr<char[]>> chunks_;
  char* chunk_at_ = nullptr;
  size_t chunk_left_ = 0;
};

// What Tree::Install does with a built file older (by applied id) than the current one.
enum class IfOlder { kRefuse, kInstall };

class Tree {
 public:
  // Opens (or creates, per options) the tree at `path`. An existing file is validated: magic,
  // format version, header checksum, size, meta record; a file last built or verified in another
  // boot of the machine (commits do not sync, so a power failure may have torn it) is verified
  // whole, as by Verify, under the writer lock, once per boot. Throws Error(kCorruption) naming
  // the path and the problem for a file that fails, Error(kIOError) when it cannot be opened or
  // created. Options other than create_if_missing matter only when creating.
  static std::unique_ptr<Tree> Open(const std::string& path, const TreeOptions& options = {});

  // REQUIRES: every ReadTxn and WriteTxn of this object has ended.
  ~Tree();
  Tree(const Tree&) = delete;
  Tree& operator=(const Tree&) = delete;

  // Pins the published version. No lock and no atomic read-modify-write: a store into this
  // thread's reader slot (claimed once with a CAS), with a fence only where the kernel offers no
  // membarrier (pin_barrier.h); a thread that found every slot
  // taken joins a shared slot instead (a CAS), so running out of slots never fails a read.
  // Moves this thread to the file at PATH first when its file was superseded (rebuilt, replaced,
  // or moved aside or deleted and made anew); while the file at PATH cannot be mapped (or is
  // still the superseded one: a swap under way), it stays on the superseded one, which is intact
  // (writers report the problem), and one of its threads looks again every 10 ms, so reads on it
  // cost no lock or system call. Throws
  // Error(kCorruption) for a malformed meta record (a thread checks the record of a version, and
  // the hash directory it names, at its first read transaction of that version; later ones reuse
  // what it checked), Error(kIOError) when this process cannot take
  // its reader lock in a new file (liveness_lock.h); this thread then stays on its current file,
  // and the next call tries again. Thread-safe.
  ReadTxn BeginRead();

  // Takes the writer lock of the file. With wait, blocks until it is free; without, returns
  // nullptr at once when another writer holds it. Then moves this process to the file now at
  // PATH if that changed, marking the one it leaves superseded for its readers everywhere; throws
  // Error(kCorruption) or Error(kIOError) when that file cannot be mapped. Thread-safe (writers of
  // one process also exclude each other). REQUIRES: this thread holds no other WriteTxn (it would
  // wait forever).
  std::unique_ptr<WriteTxn> BeginWrite(bool wait = true);

  // Walks the published version and checks every structural invariant: bounds of every offset,
  // node kinds and counts, key order and paths, leaf lengths, key count and content hash, the
  // hash index against the leaves, and that reachable space and the free list do not overlap.
  // Throws Error(kCorruption) describing the first problem. Holds the writer lock meanwhile.
  // REQUIRES: this thread holds no WriteTxn (the lock is not reentrant).
  void Verify();

  // Counts of the published version and of the reader table (reaps dead readers' slots).
  // Thread-safe.
  TreeStats Stats();

  // kUserAreaBytes bytes in the file header for the layer above (its own atomics). Copied into
  // the new file by a rebuild, under the writer lock, with TreeOptions::copy_user_area (updates
  // racing with the copy are lost).
  // The pointer stays valid while this thread stays on that file: until one of its later
  // BeginRead or UserArea calls moves it to a rebuilt one.
  unsigned char* UserArea();

  // Rebuilds the file compactly now (defragmentation), under the writer lock.
  // REQUIRES: this thread holds no WriteTxn.
  void Compact();

  // Replaces the tree with the one in `built_path`, a file written through another Tree object
  // (now closed) in the same directory: used to restore a snapshot or rebuild from the log
  // without stopping readers. Under the writer lock, marks the current file superseded and
  // renames `built_path` over PATH; processes move to it at their next read transaction, and
  // views they hold into the old file stay valid. With IfOlder::kRefuse, a built file whose
  // applied id is below the current file's (writers moved the tree on while it was built) is
  // not installed: returns false and the tree is unchanged, so that readers never go back.
  // Returns true once installed. Throws Error(kCorruption) if `built_path` is not a valid tree
  // file, Error(kIOError) if it cannot be renamed; the tree is then unchanged.
  // REQUIRES: this thread holds no WriteTxn.
  bool Install(const std::string& built_path, IfOlder if_older);

  // Replaces the entries of this tree, which must have none (a file being filled before it is
  // installed), by those of `source`, published with `applied_id`: one sequential pass into a
  // new file sized from `expected_keys` and `expected_bytes` (of keys and values), then swapped
  // in like a rebuild. Throws Error(kInvalidArgument) when the tree has entries or the entries
  // are out of order, and whatever `source` throws; the tree is then unchanged.
  // REQUIRES: this thread holds no WriteTxn.
  void Load(uint64_t expected_keys, uint64_t expected_bytes, const EntrySource& source,
            uint64_t applied_id);

  const std::string& path() const { return path_; }

 private:
  friend class WriteTxn;

  Tree(std::string path, const TreeOptions& options);
  // This thread's reader record for this Tree (reader_registry.h).
  ThreadReader* Reader();
  // BeginRead when this thread cannot simply pin the version it read last: another version, a
  // nested transaction, no own slot, or a superseded file.
  ReadTxn BeginReadSlow(ThreadReader* r);
  // Whether a thread on `m`, which is superseded, should look for the file at PATH now (take the
  // mutex and stat PATH): no system call or lock.
  bool ShouldLookAtPath(Mapping* m);
  // Maps the file at PATH when the current one is superseded and PATH names a file that can be
  // mapped, then attaches `reader` to the current mapping (reader_registry.h) if it is not yet.
  void Reattach(ThreadReader* reader);
  // Moves this process to the file at PATH when PATH names another file than the one it maps,
  // and returns the current mapping. REQUIRES: writer lock.
  Mapping* FollowPathLocked();
  Mapping* CurrentForWriter();
  // Verifies the file and stamps it with this boot (boot_id.h). REQUIRES: no WriteTxn held.
  void VerifyForThisBoot();
  // Whether the changes of `txn` to the version `meta` of `m` are better merged into a new file
  // (MergeLocked) than made in place (Publish).
  bool MergesIntoNewFile(const Mapping& m, const MetaValues& meta, const WriteTxn& txn);
  // Publishes the changes of `txn` (prefix deletes first, then its ops in key order) as a new
  // version of `m`. REQUIRES: writer lock; txn.DropErasedOps() ran.
  void Publish(Mapping* m, const WriteTxn& txn, uint64_t applied_id);
  // Publishes the entries of `meta` with the changes of `txn` applied as a new file.
  // REQUIRES: writer lock; txn.DropErasedOps() ran.
  void MergeLocked(const Mapping& m, const MetaValues& meta, const WriteTxn& txn,
                   uint64_t applied_id);
  void RebuildLocked(uint64_t min_file_bytes);
  Mapping* CurrentMapping();  // shared_->current, read under its mutex.
  // Makes `fresh`, a complete file at `from_path`, the tree at PATH. REQUIRES: writer lock.
  void SwapInLocked(std::unique_ptr<Mapping> fresh, const std::string& from_path);

  std::string path_;
  TreeOptions options_;
  std::shared_ptr<TreeShared> shared_;
  uint64_t uid_;  // shared_->uid, read by every BeginRead.
};

}  // namespace whycache::tree

#endif  // WHYCACHE_LIB_TREE_TREE_H_
