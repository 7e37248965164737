#include "lib/cache/log_consistency.h"

#include <map>

#include "lib/format/escape.h"

namespace whycache::cache {

std::string CompareWithLog(const tree::ReadTxn& txn, ChangeLog& log) {
  const uint64_t target = txn.AppliedId();
  std::map<std::string, std::string> replayed;
  uint64_t after = 0;
  while (after < target) {
    std::vector<Update> page = log.ReadAfter(after, 4096);
    if (page.empty()) break;
    for (const Update& u : page) {
      if (u.id > target) break;
      for (const Mutation& m : u.mutations) {
        if (m.op == Mutation::Op::kSet) {
          replayed[m.key] = m.value;
        } else {
          replayed.erase(m.key);
        }
      }
      after = u.id;
    }
    if (page.back().id > target) break;
  }
  // Compaction may have dropped the batches between the last one left and the state's id.
  if (after != target) {
    const uint64_t head = log.HeadId();
    if (head < target) {
      return "the log " + log.Describe() + " ends at update " + std::to_string(head) +
             ", before the state's applied id " + std::to_string(target);
    }
  }
  auto expected = replayed.begin();
  for (tree::Iterator it = txn.LowerBound(""); it.Valid(); it.Next(), ++expected) {
    if (expected == replayed.end()) {
      return "key '" + format::EscapeBytes(it.key()) +
             "' is in the state but not in the log replayed";
    }
    if (expected->first != it.key()) {
      return expected->first < it.key()
                 ? "key '" + format::EscapeBytes(expected->first) + "' is missing from the state"
                 : "key '" + format::EscapeBytes(it.key()) +
                       "' is in the state but not in the log replayed";
    }
    if (expected->second != it.value()) {
      return "the value of key '" + format::EscapeBytes(it.key()) +
             "' differs from the log replayed";
    }
  }
  if (expected != replayed.end()) {
    return "key '" + format::EscapeBytes(expected->first) + "' is missing from the state";
  }
  return "";
}

}  // namespace whycache::cache
