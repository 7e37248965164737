// The simulation's oracle: the full, uncompacted history of every write the log acknowledged,
// kept by the test itself. The state at any update id is computed by replaying that history,
// never by asking the system under test.
#ifndef WHYCACHE_TESTS_SIM_SIM_MODEL_H_
#define WHYCACHE_TESTS_SIM_SIM_MODEL_H_

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "tests/support/model_state.h"
#include "whycache/change_log.h"

namespace whycache::sim {

using State = testing::ModelState;

// Applies `batch` to `state` in order: later mutations of a key win, and a prefix delete removes
// every key that starts with its prefix (the key equal to it included).
void ApplyBatch(const std::vector<Mutation>& batch, State* state);

class Oracle {
 public:
  Oracle();

  // Records `batch`, acknowledged by the log as update `id`. Returns false and records nothing
  // when `id` is not above every id acknowledged before: ids are handed out in increasing order
  // and each only once, and the simulation appends one batch at a time.
  bool Acknowledge(uint64_t id, std::vector<Mutation> batch);

  // The id of the newest acknowledged batch, or 0.
  uint64_t head() const { return history_.empty() ? 0 : history_.back().first; }
  size_t batches() const { return history_.size(); }
  // The id of the index-th acknowledged batch. REQUIRES: index < batches().
  uint64_t IdAt(size_t index) const { return history_[index].first; }

  // The index of the first acknowledged batch with an id at or above `id`, or batches().
  size_t IndexAtOrAbove(uint64_t id) const;

  // True for 0 (the empty state) and every acknowledged id.
  bool Acknowledged(uint64_t id) const;

  // Every acknowledged batch with an id up to `id` replayed from the empty state.
  State StateAt(uint64_t id) const;

 private:
  // Every kCheckpointEvery batches the state is kept, so that StateAt replays few batches.
  static constexpr size_t kCheckpointEvery = 64;

  std::vector<std::pair<uint64_t, std::vector<Mutation>>> history_;  // In id order.
  std::vector<State> checkpoints_;  // checkpoints_[c]: the first c * kCheckpointEvery batches.
  State head_state_;
};

}  // namespace whycache::sim

#endif  // WHYCACHE_TESTS_SIM_SIM_MODEL_H_
