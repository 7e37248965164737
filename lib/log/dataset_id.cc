#include "lib/log/dataset_id.h"

#include <random>

namespace whycache::log {

std::string NewDatasetId() {
  static constexpr char kHex[] = "0123456789abcdef";
  std::random_device random;
  std::string id;
  for (int i = 0; i < 8; ++i) {
    uint32_t word = random();
    for (int j = 0; j < 4; ++j, word >>= 4) id.push_back(kHex[word & 15]);
  }
  return id;
}

}  // namespace whycache::log
