// What must hold after every step of a simulation, checked against the oracle (sim_model.h)
// only. A broken invariant throws SimFailure.
#ifndef WHYCACHE_TESTS_SIM_SIM_INVARIANTS_H_
#define WHYCACHE_TESTS_SIM_SIM_INVARIANTS_H_

#include <cstdint>
#include <stdexcept>
#include <string>

#include "tests/sim/sim_model.h"
#include "whycache/cache.h"

namespace whycache::sim {

// A broken invariant, or an error the step did not allow.
class SimFailure : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// What the test knows of one machine across its handles, closes and reboots.
struct MachineRecord {
  std::string name;           // "m0", ... for messages.
  uint64_t highest_seen = 0;  // The largest applied id any reader of the machine has seen.
};

// The machine's state, scanned whole in one read transaction, equals the oracle's state at
// the transaction's applied id; that id was acknowledged and is not below any id a reader of
// the machine saw before. Returns the applied id.
uint64_t CheckMachineState(Cache& cache, const Oracle& oracle, MachineRecord* machine);

// A machine that polled the log until it caught up is at the oracle's head.
void CheckAtHead(const MachineRecord& machine, uint64_t applied, const Oracle& oracle,
                 const std::string& how);

// The library's check against the log agrees with the oracle: `report` is what
// Cache::CheckAgainstLog returned for a state the oracle found right at `applied`.
void CheckLibraryCheckAgrees(const MachineRecord& machine, uint64_t applied,
                             const std::string& report);

// The first difference between two states, keys and values escaped, or "".
std::string FirstDifference(const State& expected, const State& actual);

}  // namespace whycache::sim

#endif  // WHYCACHE_TESTS_SIM_SIM_INVARIANTS_H_
