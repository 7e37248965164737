// Comparing a pinned version of the tree with a std::map model, for the tree's tests.
#ifndef WHYCACHE_TESTS_TREE_TREE_MODEL_H_
#define WHYCACHE_TESTS_TREE_TREE_MODEL_H_

#include <gtest/gtest.h>

#include <map>
#include <string>

#include "lib/tree/tree.h"

namespace whycache::tree {

// Success if iterating `txn` from its first key yields exactly the entries of `model`, in order;
// else a failure naming the first difference.
inline ::testing::AssertionResult MatchesModel(const ReadTxn& txn,
                                               const std::map<std::string, std::string>& model) {
  Iterator it = txn.NewIterator();
  it.SeekToFirst();
  for (const auto& [k, v] : model) {
    if (!it.Valid()) return ::testing::AssertionFailure() << "the tree ends before key " << k;
    if (it.key() != k) {
      return ::testing::AssertionFailure() << "key " << it.key() << " where " << k << " belongs";
    }
    if (it.value() != v) return ::testing::AssertionFailure() << "the value of " << k << " differs";
    it.Next();
  }
  if (it.Valid()) return ::testing::AssertionFailure() << "extra key " << it.key();
  return ::testing::AssertionSuccess();
}

}  // namespace whycache::tree

#endif  // WHYCACHE_TESTS_TREE_TREE_MODEL_H_
