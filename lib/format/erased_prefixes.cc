#include "lib/format/erased_prefixes.h"

#include <algorithm>

namespace whycache::format {

void ErasedPrefixes::Add(std::string_view prefix, LogPosition at) {
  const auto [it, added] = newest_.try_emplace(std::string(prefix), at);
  if (!added) {
    it->second = std::max(it->second, at);
    return;
  }
  const auto length = std::lower_bound(lengths_.begin(), lengths_.end(), prefix.size());
  if (length == lengths_.end() || *length != prefix.size()) lengths_.insert(length, prefix.size());
}

std::optional<LogPosition> ErasedPrefixes::NewestCovering(std::string_view key) const {
  std::optional<LogPosition> newest;
  for (const size_t length : lengths_) {
    if (length > key.size()) break;
    const auto it = newest_.find(key.substr(0, length));
    if (it != newest_.end() && (!newest || *newest < it->second)) newest = it->second;
  }
  return newest;
}

std::optional<size_t> ErasedPrefixes::ShortestCovering(std::string_view key) const {
  for (const size_t length : lengths_) {
    if (length > key.size()) break;
    if (newest_.contains(key.substr(0, length))) return length;
  }
  return std::nullopt;
}

}  // namespace whycache::format
