#include "tests/sim/sim_model.h"

#include <algorithm>

namespace whycache::sim {

void ApplyBatch(const std::vector<Mutation>& batch, State* state) {
  testing::ApplyMutations(batch, state);
}

Oracle::Oracle() : checkpoints_(1) {}

bool Oracle::Acknowledge(uint64_t id, std::vector<Mutation> batch) {
  if (id <= head()) return false;
  ApplyBatch(batch, &head_state_);
  history_.emplace_back(id, std::move(batch));
  if (history_.size() % kCheckpointEvery == 0) checkpoints_.push_back(head_state_);
  return true;
}

size_t Oracle::IndexAtOrAbove(uint64_t id) const {
  return std::lower_bound(history_.begin(), history_.end(), id,
                          [](const auto& entry, uint64_t v) { return entry.first < v; }) -
         history_.begin();
}

bool Oracle::Acknowledged(uint64_t id) const {
  if (id == 0) return true;
  const size_t index = IndexAtOrAbove(id);
  return index < history_.size() && history_[index].first == id;
}

State Oracle::StateAt(uint64_t id) const {
  if (id >= head()) return head_state_;
  const size_t count =
      std::upper_bound(history_.begin(), history_.end(), id,
                       [](uint64_t v, const auto& entry) { return v < entry.first; }) -
      history_.begin();
  const size_t checkpoint = count / kCheckpointEvery;
  State state = checkpoints_[checkpoint];
  for (size_t i = checkpoint * kCheckpointEvery; i < count; ++i) {
    ApplyBatch(history_[i].second, &state);
  }
  return state;
}

}  // namespace whycache::sim
