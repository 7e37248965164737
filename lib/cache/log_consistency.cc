#include "lib/cache/log_consistency.h"

#include <algorithm>
#include <map>
#include <optional>
#include <string_view>

#include "lib/format/erased_prefixes.h"
#include "lib/format/escape.h"
#include "whycache/error.h"

namespace whycache::cache {
namespace {

constexpr size_t kPage = 4096;

// Removes the entries of `map` whose keys start with `prefix`.
template <typename Map>
void EraseUnder(Map& map, std::string_view prefix) {
  auto end = map.lower_bound(prefix);
  while (end != map.end() && std::string_view(end->first).starts_with(prefix)) ++end;
  map.erase(map.lower_bound(prefix), end);
}

// The entries of a version with changes laid over it, in key order: the version's keys under
// an erased prefix are gone, unless a change sets them again.
class CaughtUpView {
 public:
  CaughtUpView(const tree::ReadTxn& txn,
               const std::map<std::string, std::optional<std::string>, std::less<>>& changes,
               const format::ErasedPrefixes& erased)
      : it_(txn.LowerBound("")), change_(changes.begin()), end_(changes.end()), erased_(erased) {
    Settle();
  }

  bool Valid() const { return valid_; }
  std::string_view key() const { return key_; }
  std::string_view value() const { return value_; }
  void Next() {
    if (from_change_) {
      if (it_.Valid() && it_.key() == change_->first) it_.Next();
      ++change_;
    } else {
      it_.Next();
    }
    Settle();
  }

 private:
  // Positions on the next entry that exists: a changed key takes its new value, and a deleted
  // one is passed over.
  void Settle() {
    for (;;) {
      const bool tree_left = it_.Valid();
      const bool changes_left = change_ != end_;
      if (!tree_left && !changes_left) {
        valid_ = false;
        return;
      }
      from_change_ = changes_left && (!tree_left || change_->first <= it_.key());
      if (!from_change_ && !erased_.empty() && erased_.NewestCovering(it_.key()).has_value()) {
        it_.Next();
        continue;
      }
      if (!from_change_) {
        key_ = it_.key();
        value_ = it_.value();
        valid_ = true;
        return;
      }
      if (change_->second.has_value()) {
        key_ = change_->first;
        value_ = *change_->second;
        valid_ = true;
        return;
      }
      if (tree_left && it_.key() == change_->first) it_.Next();
      ++change_;
    }
  }

  tree::Iterator it_;
  std::map<std::string, std::optional<std::string>, std::less<>>::const_iterator change_;
  const std::map<std::string, std::optional<std::string>, std::less<>>::const_iterator end_;
  const format::ErasedPrefixes& erased_;
  bool from_change_ = false;
  bool valid_ = false;
  std::string_view key_;
  std::string_view value_;
};

void ThrowIfBelowHorizon(uint64_t applied, uint64_t replay_horizon, ChangeLog& log) {
  const uint64_t horizon = log.Horizon();
  if (applied == 0 || applied >= horizon || horizon == replay_horizon) return;
  throw Error(Error::Code::kBusy,
              "the state at update " + std::to_string(applied) + " is below the log's horizon " +
                  std::to_string(horizon) + " (" + log.Describe() +
                  "): compaction dropped deletes it has not applied, so the log cannot show "
                  "what it should hold; run `whycache update` (it resyncs) and check again");
}

std::string FirstDifference(CaughtUpView& actual,
                            const std::map<std::string, std::string, std::less<>>& replayed) {
  auto expected = replayed.begin();
  for (; actual.Valid(); actual.Next(), ++expected) {
    if (expected == replayed.end() || expected->first > actual.key()) {
      return "key '" + format::EscapeBytes(actual.key()) +
             "' is in the state but not in the log replayed";
    }
    if (expected->first != actual.key()) {
      return "key '" + format::EscapeBytes(expected->first) + "' is missing from the state";
    }
    if (expected->second != actual.value()) {
      return "the value of key '" + format::EscapeBytes(actual.key()) +
             "' differs from the log replayed";
    }
  }
  if (expected != replayed.end()) {
    return "key '" + format::EscapeBytes(expected->first) + "' is missing from the state";
  }
  return "";
}

// Reports update ids read, in both passes, against the head the log had at the start.
class CheckProgress {
 public:
  CheckProgress(const ProgressCallback& callback, uint64_t applied, uint64_t head)
      : callback_(callback), applied_(applied), total_(head - std::min(applied, head) + head) {}

  void CatchingUp(uint64_t id) { Report(id - applied_); }
  void Replaying(uint64_t caught_up_to, uint64_t id) { Report(caught_up_to - applied_ + id); }
  void Finish() {
    if (callback_) callback_(total_, total_);
  }

 private:
  void Report(uint64_t done) {
    if (callback_) callback_(std::min(done, total_), total_);
  }

  const ProgressCallback& callback_;
  const uint64_t applied_;
  const uint64_t total_;
};

}  // namespace

std::string CompareWithLog(const tree::ReadTxn& txn, ChangeLog& log, uint64_t replay_horizon,
                           const ProgressCallback& progress) {
  const uint64_t applied = txn.AppliedId();
  CheckProgress shown(progress, applied, progress ? log.HeadId() : 0);
  // What the log holds after the state's id, as it would apply it. The horizon is read after
  // the log, since it rises before the deletes it covers disappear.
  std::map<std::string, std::optional<std::string>, std::less<>> changes;
  format::ErasedPrefixes erased;  // Prefixes erased after the state's id.
  uint64_t head = applied;
  for (std::vector<Update> page; !(page = log.ReadAfter(head, kPage)).empty();) {
    for (const Update& u : page) {
      for (const Mutation& m : u.mutations) {
        if (m.op == Mutation::Op::kErasePrefix) {
          EraseUnder(changes, m.key);
          erased.Add(m.key, {});
        } else {
          changes[m.key] = m.op == Mutation::Op::kSet ? std::optional(m.value) : std::nullopt;
        }
      }
    }
    head = page.back().id;
    shown.CatchingUp(head);
  }
  ThrowIfBelowHorizon(applied, replay_horizon, log);

  std::map<std::string, std::string, std::less<>> replayed;
  uint64_t after = 0;
  while (after < head) {
    std::vector<Update> page = log.ReadAfter(after, kPage);
    if (page.empty()) break;
    for (const Update& u : page) {
      if (u.id > head) break;
      for (const Mutation& m : u.mutations) {
        switch (m.op) {
          case Mutation::Op::kSet:
            replayed[m.key] = m.value;
            break;
          case Mutation::Op::kDelete:
            replayed.erase(m.key);
            break;
          case Mutation::Op::kErasePrefix:
            EraseUnder(replayed, m.key);
            break;
        }
      }
      after = u.id;
    }
    shown.Replaying(head, after);
    if (page.back().id > head) break;
  }
  shown.Finish();
  // Compaction may have dropped the batches between the last one left and the state's id.
  if (after != head && log.HeadId() < head) {
    return "the log " + log.Describe() + " ends at update " + std::to_string(log.HeadId()) +
           ", before the state's applied id " + std::to_string(head);
  }
  CaughtUpView actual(txn, changes, erased);
  std::string difference = FirstDifference(actual, replayed);
  if (!difference.empty() && head != applied) {
    difference += " (compared at update " + std::to_string(head) +
                  ", with the state brought up from update " + std::to_string(applied) +
                  " by the log's updates after it)";
  }
  return difference;
}

}  // namespace whycache::cache
