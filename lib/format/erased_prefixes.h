// The prefix deletes (Mutation::Op::kErasePrefix) of a stretch of the log, each with the newest
// position it was made at: what compaction needs to tell whether a prefix delete after an entry
// erased it.
#ifndef WHYCACHE_LIB_FORMAT_ERASED_PREFIXES_H_
#define WHYCACHE_LIB_FORMAT_ERASED_PREFIXES_H_

#include <compare>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace whycache::format {

// Where a mutation lies in the log: its update id, then its position in the batch.
struct LogPosition {
  uint64_t id = 0;
  uint32_t pos = 0;
  friend auto operator<=>(const LogPosition&, const LogPosition&) = default;
};

// Not thread-safe.
class ErasedPrefixes {
 public:
  // Notes a delete of every key under `prefix` at `at`; a prefix keeps its newest position.
  void Add(std::string_view prefix, LogPosition at);

  // The newest position among the deletes of a prefix that `key` starts with (`key` itself
  // included), or nullopt. Costs one hash lookup per distinct prefix length added.
  std::optional<LogPosition> NewestCovering(std::string_view key) const;

  // The length of the shortest prefix of `key` added, or nullopt: where the range of keys under
  // it that `key` lies in begins.
  std::optional<size_t> ShortestCovering(std::string_view key) const;

  bool empty() const { return newest_.empty(); }

 private:
  struct Hash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>()(s); }
  };
  std::unordered_map<std::string, LogPosition, Hash, std::equal_to<>> newest_;
  std::vector<size_t> lengths_;  // The distinct prefix lengths, ascending.
};

}  // namespace whycache::format

#endif  // WHYCACHE_LIB_FORMAT_ERASED_PREFIXES_H_
