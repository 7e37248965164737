#include "lib/tree/reader_registry.h"

#include <pthread.h>

#include <algorithm>

#include "lib/tree/mapped_file.h"
#include "lib/tree/reader_table.h"

namespace whycache::tree {

namespace {

std::once_flag g_atfork_once;

void OnForkChild() { g_fork_epoch.fetch_add(1, std::memory_order_relaxed); }

// REQUIRES: the Tree's mutex held.
void DetachLocked(ReaderAttachment* a) {
  Mapping* m = a->mapping;
  if (a->slot != nullptr) {
    ReleaseSlot(m->header, a->slot);
    m->claimed.erase(std::find(m->claimed.begin(), m->claimed.end(), a->slot));
  }
  --m->attached;
}

struct ThreadReaders {
  std::vector<std::unique_ptr<ThreadReader>> list;

  ~ThreadReaders() {
    const uint64_t epoch = g_fork_epoch.load(std::memory_order_relaxed);
    for (auto& r : list) {
      if (r->fork_epoch != epoch) continue;
      if (std::shared_ptr<TreeShared> s = r->shared.lock()) {
        std::lock_guard<std::mutex> lock(s->mu);
        if (r->active) DetachLocked(r->active.get());
        for (auto& a : r->draining) DetachLocked(a.get());
        CollectRetiredLocked(*s);
      }
    }
  }
};

thread_local ThreadReaders t_readers;

// Releases `a`, a draining attachment whose last read transaction ended.
void EndDraining(ReaderAttachment* a) {
  ThreadReader* r = a->owner;
  std::shared_ptr<TreeShared> s = r->shared.lock();
  if (!s) return;
  std::lock_guard<std::mutex> lock(s->mu);
  DetachLocked(a);
  std::erase_if(r->draining, [a](const auto& d) { return d.get() == a; });
  CollectRetiredLocked(*s);
}

}  // namespace

void InstallForkHandler() {
  std::call_once(g_atfork_once, [] { pthread_atfork(nullptr, nullptr, OnForkChild); });
}

ThreadReader* ReaderForThisThread(const std::shared_ptr<TreeShared>& shared) {
  const uint64_t epoch = g_fork_epoch.load(std::memory_order_relaxed);
  ThreadReader* r = nullptr;
  for (auto& e : t_readers.list) {
    if (e->tree_uid == shared->uid) r = e.get();
  }
  if (r == nullptr) {
    // Records of Trees that are gone are dropped here, so the list stays short.
    std::erase_if(t_readers.list, [](const auto& e) { return e->shared.expired(); });
    t_readers.list.push_back(std::make_unique<ThreadReader>());
    r = t_readers.list.back().get();
    r->tree_uid = shared->uid;
    r->shared = shared;
    r->fork_epoch = epoch;
  }
  if (r->fork_epoch != epoch) {
    // Forked: the slots belong to the parent.
    r->fork_epoch = epoch;
    r->active.reset();
    r->draining.clear();
  }
  return r;
}

void AttachToCurrentLocked(TreeShared& shared, ThreadReader* r) {
  // The new slot first, and nothing that throws after it: a thread that cannot move keeps the
  // attachment it has, whose slot is still its own.
  auto a = std::make_unique<ReaderAttachment>();
  Mapping* m = shared.current.load(std::memory_order_relaxed);
  a->owner = r;
  a->mapping = m;
  a->header = m->header;
  a->space = m->space();
  m->claimed.reserve(m->claimed.size() + 1);
  r->draining.reserve(r->draining.size() + 1);
  a->released_seen = m->header->slots_released.load(std::memory_order_relaxed);
  a->slot = ClaimSlot(m);
  if (a->slot != nullptr) m->claimed.push_back(a->slot);
  ++m->attached;
  if (r->active) {
    if (r->active->depth > 0) {
      r->active->draining = true;
      r->draining.push_back(std::move(r->active));
    } else {
      DetachLocked(r->active.get());
    }
  }
  r->active = std::move(a);
  CollectRetiredLocked(shared);
}

void ClaimFreedSlot(TreeShared& shared, ReaderAttachment* a) {
  std::lock_guard<std::mutex> lock(shared.mu);
  Mapping* m = a->mapping;
  a->released_seen = m->header->slots_released.load(std::memory_order_relaxed);
  m->claimed.reserve(m->claimed.size() + 1);
  a->slot = ClaimSlot(m);
  if (a->slot != nullptr) m->claimed.push_back(a->slot);
}

void Unpin(ReaderAttachment* a) {
  if (a->slot != nullptr) {
    a->slot->pinned.store(0, std::memory_order_release);
  } else {
    LeaveSharedSlot(a->shared);
    a->shared = nullptr;
  }
}

void EndLastRead(ReaderAttachment* a) {
  Unpin(a);
  if (a->draining) EndDraining(a);
}

void CollectRetiredLocked(TreeShared& shared) {
  std::erase_if(shared.mappings, [&](const std::unique_ptr<Mapping>& m) {
    return m.get() != shared.current.load(std::memory_order_relaxed) && m->attached == 0;
  });
}

}  // namespace whycache::tree
