// A process's subscriptions to changes under key prefixes (Cache::Subscribe): what it read from
// the machine's change journal, and the callbacks it owes notices to.
#ifndef WHYCACHE_LIB_CACHE_SUBSCRIPTIONS_H_
#define WHYCACHE_LIB_CACHE_SUBSCRIPTIONS_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "lib/cache/change_journal.h"
#include "whycache/cache.h"

namespace whycache::cache {

// Thread-safe.
class Subscriptions {
 public:
  using Callback = std::function<void(const ChangeNotice&)>;
  // The state's applied id now (a read transaction's).
  using AppliedIdFn = std::function<uint64_t()>;

  // REQUIRES: `journal` outlives this object.
  explicit Subscriptions(ChangeJournal* journal) : journal_(journal) {}

  // Adds a subscription; the first one starts reading the journal at its end, with the state at
  // `applied_id`. Returns its id.
  uint64_t Add(std::string prefix, Callback callback, uint64_t applied_id, int64_t now_us);
  // Removes a subscription and waits for a call of its callback in progress on another thread.
  void Remove(uint64_t id);

  // Whether there is any subscription: a relaxed load, for the path of every Update().
  bool any() const { return any_.load(std::memory_order_relaxed); }

  // Whether Deliver has anything to do at `now_ns` (io::CoarseMonotonicNanos): the journal has
  // records this process has not read, or the lease is due for renewal. Two loads, for the path
  // of every Update().
  bool Due(int64_t now_ns) const {
    return journal_->Head() != read_up_to_.load(std::memory_order_relaxed) ||
           now_ns >= renew_at_ns_.load(std::memory_order_relaxed);
  }

  // Reads the journal's new records and calls the callbacks whose prefix they changed. Returns
  // at once when another thread is delivering. A process that looked too late (the journal moved
  // past it, or no subscriber of the machine renewed the journal's lease, so appliers skipped
  // records) tells every subscription to reload when the state moved meanwhile. `now_ns` is
  // io::CoarseMonotonicNanos(), `now_us` io::NowMicros().
  void Deliver(const AppliedIdFn& applied_id, int64_t now_ns, int64_t now_us);

 private:
  struct Subscription {
    uint64_t id;
    std::string prefix;
    std::shared_ptr<Callback> callback;
  };
  // The notice for `prefix` from `records`, or nullopt when they did not change it.
  static std::optional<ChangeNotice> NoticeFor(const std::string& prefix,
                                               const std::vector<const JournalRecord*>& records);

  ChangeJournal* const journal_;
  std::atomic<bool> any_{false};
  std::mutex mu_;  // Guards the members below it but the delivery state.
  std::vector<Subscription> subscriptions_;
  uint64_t next_id_ = 1;
  // Held while delivering; the delivery state below is the delivering thread's.
  std::mutex delivering_;
  std::atomic<std::thread::id> delivering_thread_{};
  ChangeJournal::Cursor cursor_;
  uint64_t delivered_id_ = 0;  // The state's id as of which notices were given.
  // For Due(), written by the delivering thread: cursor_.position, and when to renew the lease
  // (well within ChangeJournal::kLeaseMicros, on the monotonic clock).
  std::atomic<uint64_t> read_up_to_{0};
  std::atomic<int64_t> renew_at_ns_{0};
};

}  // namespace whycache::cache

#endif  // WHYCACHE_LIB_CACHE_SUBSCRIPTIONS_H_
