// Dataset identities: made once when a log's storage is created, stored with the log.
#ifndef WHYCACHE_LIB_LOG_DATASET_ID_H_
#define WHYCACHE_LIB_LOG_DATASET_ID_H_

#include <string>

namespace whycache::log {

// 32 lowercase hex digits from the system's random source: unique across logs without any
// coordination.
std::string NewDatasetId();

}  // namespace whycache::log

#endif  // WHYCACHE_LIB_LOG_DATASET_ID_H_
