#include "lib/cache/subscriptions.h"

#include <algorithm>
#include <cstdio>
#include <set>

namespace whycache::cache {

namespace {

// A sixth of the lease: the lease never lapses while the process calls Update().
constexpr int64_t kRenewEveryNs = ChangeJournal::kLeaseMicros * 1000 / 6;

}  // namespace

uint64_t Subscriptions::Add(std::string prefix, Callback callback, uint64_t applied_id,
                            int64_t now_us) {
  const bool delivering_here = delivering_thread_.load() == std::this_thread::get_id();
  std::unique_lock delivery(delivering_, std::defer_lock);
  if (!delivering_here) delivery.lock();
  std::lock_guard lock(mu_);
  if (subscriptions_.empty() && !delivering_here) {
    // Nothing before this point is owed to anyone.
    journal_->RenewLease(now_us);
    cursor_ = journal_->End();
    delivered_id_ = applied_id;
    read_up_to_.store(cursor_.position, std::memory_order_relaxed);
  }
  const uint64_t id = next_id_++;
  subscriptions_.push_back(
      {id, std::move(prefix), std::make_shared<Callback>(std::move(callback))});
  any_.store(true, std::memory_order_relaxed);
  return id;
}

void Subscriptions::Remove(uint64_t id) {
  {
    std::lock_guard lock(mu_);
    std::erase_if(subscriptions_, [id](const Subscription& s) { return s.id == id; });
    any_.store(!subscriptions_.empty(), std::memory_order_relaxed);
  }
  // A delivery on another thread may be inside the callback: it has returned once the delivery
  // lock is free.
  if (delivering_thread_.load() != std::this_thread::get_id()) {
    std::lock_guard wait(delivering_);
  }
}

std::optional<ChangeNotice> Subscriptions::NoticeFor(
    const std::string& prefix, const std::vector<const JournalRecord*>& records) {
  ChangeNotice notice;
  std::set<std::string_view> keys;
  for (const JournalRecord* r : records) {
    for (const Mutation& m : r->changes) {
      if (m.op == Mutation::Op::kErasePrefix) {
        if (m.key.starts_with(prefix) || prefix.starts_with(m.key)) {
          notice.erased_prefixes.push_back(m.key);
        }
      } else if (m.key.starts_with(prefix)) {
        keys.insert(m.key);
      }
    }
  }
  if (keys.empty() && notice.erased_prefixes.empty()) return std::nullopt;
  if (keys.size() > ChangeNotice::kMaxKeys) {
    notice.reload = true;
    notice.erased_prefixes.clear();
  } else {
    notice.keys.assign(keys.begin(), keys.end());
  }
  return notice;
}

void Subscriptions::Deliver(const AppliedIdFn& applied_id, int64_t now_ns, int64_t now_us) {
  // Called from a callback (through Update()): this thread is delivering already.
  if (delivering_thread_.load() == std::this_thread::get_id()) return;
  std::unique_lock delivery(delivering_, std::try_to_lock);
  if (!delivery.owns_lock()) return;
  delivering_thread_.store(std::this_thread::get_id());
  std::vector<JournalRecord> records;
  const bool complete = journal_->ReadNew(&cursor_, &records);
  read_up_to_.store(cursor_.position, std::memory_order_relaxed);
  const bool lease_held = journal_->RenewLease(now_us);
  renew_at_ns_.store(now_ns + kRenewEveryNs, std::memory_order_relaxed);
  uint64_t last_id = delivered_id_;
  bool reload = false;
  std::vector<const JournalRecord*> changed;
  for (const JournalRecord& r : records) {
    if (r.reload) {
      // A reload up to where this process already is (the gap before its first record) says
      // nothing new.
      if (r.last_id != delivered_id_) {
        reload = true;
        last_id = r.last_id;
      }
    } else if (r.last_id > delivered_id_) {
      changed.push_back(&r);
      last_id = std::max(last_id, r.last_id);
    }
  }
  if (!complete || !lease_held) {
    const uint64_t now = applied_id();
    if (now != delivered_id_) {
      reload = true;
      last_id = std::max(last_id, now);
    }
  }
  if (reload || !changed.empty()) {
    std::vector<Subscription> subscriptions;
    {
      std::lock_guard lock(mu_);
      subscriptions = subscriptions_;
    }
    for (const Subscription& s : subscriptions) {
      std::optional<ChangeNotice> notice;
      if (reload) {
        notice.emplace();
        notice->reload = true;
      } else {
        notice = NoticeFor(s.prefix, changed);
      }
      if (!notice) continue;
      notice->after_id = delivered_id_;
      notice->last_id = last_id;
      {
        // Unsubscribed by an earlier callback of this delivery: owed nothing more.
        std::lock_guard lock(mu_);
        if (std::none_of(subscriptions_.begin(), subscriptions_.end(),
                         [&](const Subscription& live) { return live.id == s.id; })) {
          continue;
        }
      }
      try {
        (*s.callback)(*notice);
      } catch (const std::exception& e) {
        std::fprintf(stderr, "whycache: a subscription's callback threw: %s\n", e.what());
      } catch (...) {
        std::fprintf(stderr, "whycache: a subscription's callback threw\n");
      }
    }
    delivered_id_ = last_id;
  }
  delivering_thread_.store(std::thread::id());
}

}  // namespace whycache::cache
