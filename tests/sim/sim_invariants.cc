#include "tests/sim/sim_invariants.h"

#include "tests/sim/sim_steps.h"

namespace whycache::sim {
namespace {

std::string ValueOrAbsent(const State& state, const std::string& key) {
  auto it = state.find(key);
  return it == state.end() ? "<absent>" : Quote(it->second);
}

}  // namespace

std::string FirstDifference(const State& expected, const State& actual) {
  auto e = expected.begin();
  auto a = actual.begin();
  while (e != expected.end() || a != actual.end()) {
    const std::string* key = nullptr;
    if (a == actual.end() || (e != expected.end() && e->first < a->first)) {
      key = &e->first;
    } else if (e == expected.end() || a->first < e->first) {
      key = &a->first;
    } else if (e->second != a->second) {
      key = &e->first;
    } else {
      ++e;
      ++a;
      continue;
    }
    return "key " + Quote(*key) + ": expected " + ValueOrAbsent(expected, *key) + ", actual " +
           ValueOrAbsent(actual, *key);
  }
  return "";
}

uint64_t CheckMachineState(Cache& cache, const Oracle& oracle, MachineRecord* machine) {
  State actual;
  uint64_t applied = 0;
  uint64_t key_count = 0;
  {
    ReadTransaction txn = cache.BeginRead();
    applied = txn.applied_id();
    key_count = txn.key_count();
    txn.Scan("", [&](std::string_view k, std::string_view v) {
      actual.emplace(k, v);
      return true;
    });
  }
  const std::string where =
      "machine " + machine->name + " at applied id " + std::to_string(applied) + ": ";
  if (applied < machine->highest_seen) {
    throw SimFailure(where + "applied id went back from " + std::to_string(machine->highest_seen) +
                     " for its readers");
  }
  machine->highest_seen = applied;
  if (!oracle.Acknowledged(applied)) {
    throw SimFailure(where + "no acknowledged write has this id (head " +
                     std::to_string(oracle.head()) + ")");
  }
  const std::string difference = FirstDifference(oracle.StateAt(applied), actual);
  if (!difference.empty()) throw SimFailure(where + difference);
  if (key_count != actual.size()) {
    throw SimFailure(where + "key_count() says " + std::to_string(key_count) + ", a scan finds " +
                     std::to_string(actual.size()));
  }
  return applied;
}

void CheckAtHead(const MachineRecord& machine, uint64_t applied, const Oracle& oracle,
                 const std::string& how) {
  if (applied != oracle.head()) {
    throw SimFailure("machine " + machine.name + ": " + how + " left it at applied id " +
                     std::to_string(applied) + ", head is " + std::to_string(oracle.head()));
  }
}

void CheckLibraryCheckAgrees(const MachineRecord& machine, uint64_t applied,
                             const std::string& report) {
  if (!report.empty()) {
    throw SimFailure("machine " + machine.name + " at applied id " + std::to_string(applied) +
                     ": check against the log reports \"" + report +
                     "\" but the state equals the oracle's");
  }
}

}  // namespace whycache::sim
