// The data of `whycache demo`: feature flags and permissions as services keep them, the batches
// an admin tool writes, and the heartbeats that readers measure replication lag with.
#ifndef WHYCACHE_CLI_DEMO_WORKLOAD_H_
#define WHYCACHE_CLI_DEMO_WORKLOAD_H_

#include <cstdint>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "whycache/change_log.h"

namespace whycache::cli::demo {

inline constexpr int kServices = 20;
inline constexpr int kFlagsPerService = 25;
inline constexpr int kUsers = 2000;
inline constexpr int kResourcesPerUser = 8;

// "flag:svcS:fF" for n in [0, kServices * kFlagsPerService); larger n wrap around.
std::string FlagKey(uint64_t n);
// "perm:user:U:resR".
std::string PermissionKey(uint64_t user, uint64_t resource);

// Every flag and every permission, in batches of at most `batch_size` sets: the dataset as it
// stands before the demo's writer starts changing it.
std::vector<std::vector<Mutation>> InitialDataset(size_t batch_size);

// A batch as an admin tool would write it: 1 to 20 flag flips, permission grants and
// revocations, drawn from `rng`.
std::vector<Mutation> ChangeBatch(std::mt19937_64& rng);

// Heartbeat `seq` carries the wall-clock time it was written at. Heartbeats rotate over a ring of
// kHeartbeatSlots keys, so a reader that sees several of them appear in one poll measures each
// one's lag, not only the newest's.
inline constexpr uint64_t kHeartbeatSlots = 256;
std::string HeartbeatKey(uint64_t seq);
Mutation Heartbeat(uint64_t seq, int64_t written_wall_us);

struct HeartbeatValue {
  uint64_t seq = 0;
  int64_t written_wall_us = 0;
};
// The heartbeat stored as `value`, or nullopt if it is not one.
std::optional<HeartbeatValue> ParseHeartbeat(std::string_view value);

}  // namespace whycache::cli::demo

#endif  // WHYCACHE_CLI_DEMO_WORKLOAD_H_
