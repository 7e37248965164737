#include "cli/demo_workload.h"

#include <charconv>

namespace whycache::cli::demo {
namespace {

// Flags hold a small JSON document, as flag services store them: on/off and a rollout share.
std::string FlagValue(std::mt19937_64& rng) {
  return std::string("{\"enabled\":") + (rng() % 2 ? "true" : "false") +
         ",\"rollout_percent\":" + std::to_string(rng() % 101) + "}";
}

std::string PermissionValue(std::mt19937_64& rng) {
  static constexpr const char* kRoles[] = {"read", "read,comment", "read,write", "admin"};
  return kRoles[rng() % 4];
}

}  // namespace

std::string FlagKey(uint64_t n) {
  return "flag:svc" + std::to_string(n / kFlagsPerService % kServices) + ":f" +
         std::to_string(n % kFlagsPerService);
}

std::string PermissionKey(uint64_t user, uint64_t resource) {
  return "perm:user:" + std::to_string(user) + ":res" + std::to_string(resource);
}

std::vector<std::vector<Mutation>> InitialDataset(size_t batch_size) {
  std::mt19937_64 rng(7);
  std::vector<Mutation> all;
  for (uint64_t n = 0; n < kServices * kFlagsPerService; ++n) {
    all.push_back(Mutation::Set(FlagKey(n), FlagValue(rng)));
  }
  for (uint64_t user = 0; user < kUsers; ++user) {
    for (uint64_t resource = 0; resource < kResourcesPerUser; ++resource) {
      all.push_back(Mutation::Set(PermissionKey(user, resource), PermissionValue(rng)));
    }
  }
  std::vector<std::vector<Mutation>> batches;
  for (size_t i = 0; i < all.size(); i += batch_size) {
    batches.emplace_back(
        all.begin() + static_cast<std::ptrdiff_t>(i),
        all.begin() + static_cast<std::ptrdiff_t>(std::min(all.size(), i + batch_size)));
  }
  return batches;
}

std::vector<Mutation> ChangeBatch(std::mt19937_64& rng) {
  std::vector<Mutation> batch;
  const int size = 1 + static_cast<int>(rng() % 20);
  for (int i = 0; i < size; ++i) {
    const uint64_t user = rng() % kUsers;
    const uint64_t resource = rng() % kResourcesPerUser;
    switch (rng() % 4) {
      case 0:
        batch.push_back(Mutation::Set(FlagKey(rng()), FlagValue(rng)));
        break;
      case 1:
        batch.push_back(Mutation::Delete(PermissionKey(user, resource)));
        break;
      default:
        batch.push_back(Mutation::Set(PermissionKey(user, resource), PermissionValue(rng)));
    }
  }
  return batch;
}

std::string HeartbeatKey(uint64_t seq) {
  return "demo:heartbeat:" + std::to_string(seq % kHeartbeatSlots);
}

Mutation Heartbeat(uint64_t seq, int64_t written_wall_us) {
  return Mutation::Set(HeartbeatKey(seq),
                       std::to_string(seq) + " " + std::to_string(written_wall_us));
}

std::optional<HeartbeatValue> ParseHeartbeat(std::string_view value) {
  HeartbeatValue hb;
  const char* end = value.data() + value.size();
  auto [space, ec] = std::from_chars(value.data(), end, hb.seq);
  if (ec != std::errc() || space == end || *space != ' ') return std::nullopt;
  auto [last, ec2] = std::from_chars(space + 1, end, hb.written_wall_us);
  if (ec2 != std::errc() || last != end) return std::nullopt;
  return hb;
}

}  // namespace whycache::cli::demo
