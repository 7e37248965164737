#include "tests/support/model_state.h"

namespace whycache::testing {

void ApplyMutations(std::span<const Mutation> mutations, ModelState* state) {
  for (const Mutation& m : mutations) {
    switch (m.op) {
      case Mutation::Op::kSet:
        (*state)[m.key] = m.value;
        break;
      case Mutation::Op::kDelete:
        state->erase(m.key);
        break;
      case Mutation::Op::kErasePrefix:
        for (auto it = state->lower_bound(m.key);
             it != state->end() && it->first.starts_with(m.key);) {
          it = state->erase(it);
        }
        break;
    }
  }
}

}  // namespace whycache::testing
