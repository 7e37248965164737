// The reader registry: which reader slot (reader_table.h) each thread of this process holds in
// each file a Tree maps, and what becomes of those slots when the thread moves to a newer file,
// when it exits, and in a forked child.
//
// A thread claims a slot in a file at its first read transaction there and keeps it while it
// lives: idle or not, its slot is its own (see reader_table.h for why). When the Tree moves to
// a newer file, the thread claims a slot there at its next read; the old attachment is released
// at once, or, while read transactions of the thread are still open on it, drained: released
// when the last of them ends. A mapping no thread is attached to any longer, and which is not
// the current one, is unmapped. When the thread exits, its slots are released, unless the Tree
// is gone already (its mappings, and their slots, went with it).
//
// Thread-safety: a ThreadReader and its attachments are used by their own thread only; what
// they share with other threads (the mappings, their counts and claimed slots) is changed under
// TreeShared::mu. Process-safety: slots live in the file, shared by every process; a process
// that dies without releasing its slots leaves them to be reaped (liveness_lock.h).
//
// Fork: a forked child inherits its parent's thread-local records, but their slots stay the
// parent's, which goes on using them. A fork handler (InstallForkHandler) moves the child to a
// new fork epoch; the child's first read transaction on a Tree drops the inherited records
// without releasing anything and claims slots of its own, and read transactions begun before
// the fork end in the child without unpinning.
#ifndef WHYCACHE_LIB_TREE_READER_REGISTRY_H_
#define WHYCACHE_LIB_TREE_READER_REGISTRY_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <vector>

#include "lib/tree/art_node.h"
#include "lib/tree/file_layout.h"

namespace whycache::tree {

struct Mapping;
struct ThreadReader;

// Bumped in a forked child: the slots its parent's threads claimed are not the child's.
inline std::atomic<uint64_t> g_fork_epoch{0};

// What a read transaction uses of one published version: its meta record's values, the hash
// directory checked against the file.
struct VersionView {
  uint64_t version = ~uint64_t{0};  // No version yet: never equal to `current`.
  Ref root = 0;
  const uint64_t* hash_dir = nullptr;  // Null when the version has no hash index.
  uint64_t hash_bits = 0;
  uint64_t applied_id = 0;
  uint64_t key_count = 0;
};

// Process-wide state of one Tree object, shared with the thread-local reader records so that
// a thread ending after its Tree is gone can tell.
struct TreeShared {
  std::mutex mu;
  uint64_t uid = 0;
  std::vector<std::unique_ptr<Mapping>> mappings;  // The current one and superseded ones.
  // Changed under `mu`; read without it by readers deciding whether to move.
  std::atomic<Mapping*> current{nullptr};
};

// A thread's use of one mapping: its reader slot there and how many of its read transactions
// are open on it. Kept until they end, even once the thread has moved to a newer file.
struct ReaderAttachment {
  ThreadReader* owner = nullptr;
  Mapping* mapping = nullptr;
  // Of `mapping`, kept here so that a read reaches them without going through it.
  const FileHeader* header = nullptr;
  Space space;
  // The version this thread last began a read transaction of here: the next one, most often of
  // the same version, copies it instead of reading and checking the meta record again.
  VersionView view;
  ReaderSlot* slot = nullptr;    // Own slot; nullptr when every slot was taken.
  ReaderSlot* shared = nullptr;  // Without an own slot: the shared slot joined while depth > 0.
  uint64_t released_seen = 0;    // Without an own slot: header->slots_released when it looked.
  uint32_t depth = 0;
  bool draining = false;  // Superseded; dropped when depth reaches 0.
};

// One thread's reading state for one Tree.
struct ThreadReader {
  uint64_t tree_uid = 0;
  std::weak_ptr<TreeShared> shared;
  uint64_t fork_epoch = 0;
  std::unique_ptr<ReaderAttachment> active;
  std::vector<std::unique_ptr<ReaderAttachment>> draining;
};

// Installs the process's fork handler; later calls do nothing. REQUIRES: called before the
// first reader record of the process is made (Tree::Open calls it).
void InstallForkHandler();

// This thread's record for the Tree of `shared`, made at its first use. In a forked child, the
// record inherited from the parent comes back without attachments (their slots are the
// parent's). Records of Trees that are gone are dropped when a new one is made.
ThreadReader* ReaderForThisThread(const std::shared_ptr<TreeShared>& shared);

// Attaches `r` to the current mapping of `shared`: claims a slot there (none when every slot
// is taken; the thread then reads through shared slots), and leaves its previous attachment,
// released at once or drained. Throws what ClaimSlot throws; `r` then keeps the attachment it
// had. REQUIRES: shared.mu held; `r` is this thread's record for `shared`.
void AttachToCurrentLocked(TreeShared& shared, ThreadReader* r);

// Gives `a`, which has no slot of its own, one freed since it last looked, if any; takes
// shared.mu. Throws what ClaimSlot throws. REQUIRES: `a` belongs to this thread's record for
// `shared`.
void ClaimFreedSlot(TreeShared& shared, ReaderAttachment* a);

// Ends the pin of this thread on `a`: clears its own slot, or leaves the shared one.
// REQUIRES: no read transaction of this thread is open on `a`.
void Unpin(ReaderAttachment* a);

// EndRead of the last read transaction on `a`, when `a` has no own slot or is draining.
void EndLastRead(ReaderAttachment* a);

// Ends a read transaction on `a` that began in `fork_epoch`. The last one of the thread
// unpins, and releases `a` if it is draining. In a forked child, a transaction the parent began
// ends without touching anything. Inline: it runs once per read transaction.
inline void EndRead(ReaderAttachment* a, uint64_t fork_epoch) {
  if (fork_epoch != g_fork_epoch.load(std::memory_order_relaxed)) return;
  if (--a->depth != 0) return;
  if (a->slot != nullptr && !a->draining) [[likely]] {
    a->slot->pinned.store(0, std::memory_order_release);
    return;
  }
  EndLastRead(a);
}

// Unmaps the mappings no thread or writer is attached to, except the current one.
// REQUIRES: shared.mu held.
void CollectRetiredLocked(TreeShared& shared);

}  // namespace whycache::tree

#endif  // WHYCACHE_LIB_TREE_READER_REGISTRY_H_
