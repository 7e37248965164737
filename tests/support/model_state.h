// The tests' oracle for a dataset's state: a std::map that replays the mutations a test wrote
// itself, in id order, as every machine must apply them.
#ifndef WHYCACHE_TESTS_SUPPORT_MODEL_STATE_H_
#define WHYCACHE_TESTS_SUPPORT_MODEL_STATE_H_

#include <map>
#include <span>
#include <string>

#include "whycache/change_log.h"

namespace whycache::testing {

using ModelState = std::map<std::string, std::string>;

// Applies `mutations` to `state` in order: a set, a delete, or a delete of every key that starts
// with the prefix (the run of the ordered map that begins at it).
void ApplyMutations(std::span<const Mutation> mutations, ModelState* state);

}  // namespace whycache::testing

#endif  // WHYCACHE_TESTS_SUPPORT_MODEL_STATE_H_
