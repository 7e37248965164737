// The file log's memory of append tokens (whycache::AppendToken): the file TOKENS in the log
// directory, so that an append retried with its token, by this process or another, finds the
// batch an earlier attempt wrote instead of appending it again.
//
// TOKENS holds fixed-size records in update-id order, little-endian:
//   u8[16]   token
//   fixed64  update id
//   fixed64  write time (microseconds since the epoch)
//   fixed32  CRC-32C of the preceding 32 bytes
//   u8[4]    zero
// An appender writes (and, with fsync, syncs) a batch's record before its frame, so a batch in the
// log always has its record. A record whose frame never completed (a crash in between) has an
// id above the log's last one; the next appender drops it before taking that id. Records older
// than the token retention are dropped when the file has grown large.
#ifndef WHYCACHE_LIB_LOG_APPEND_TOKENS_H_
#define WHYCACHE_LIB_LOG_APPEND_TOKENS_H_

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <unordered_map>

#include "lib/io/posix_file.h"
#include "whycache/change_log.h"

namespace whycache::log {

inline constexpr const char* kTokensFileName = "TOKENS";

// Thread-safety: one thread at a time. REQUIRES for every method: the caller holds the log's
// appenders' lock, which orders all writers of TOKENS.
class AppendTokens {
 public:
  // `dir`: the log directory. `retention`: how long a token is remembered at least.
  AppendTokens(std::string dir, std::chrono::seconds retention);

  // Drops the records of ids above `last_id`, the log's last committed id: their frames never
  // completed, and the id goes to another batch.
  void DropAfter(uint64_t last_id);

  // The update id appended with `token`, or nullopt. Throws Error(kCorruption) naming the file
  // and offset of a damaged record.
  std::optional<uint64_t> Find(const AppendToken& token);

  // Records that update `id` is appended with `token` at `write_time_us` (now); durable when it
  // returns if `sync`.
  void Add(const AppendToken& token, uint64_t id, int64_t write_time_us, bool sync);

 private:
  // Opens TOKENS if it exists, again if it was replaced. Returns false if it does not exist.
  bool Open(bool create);
  // Loads the records another process appended since the last call.
  void LoadNew();
  // Rewrites TOKENS without the records older than the retention before `now_us`, once it has
  // grown large and its oldest record is that old.
  void PruneIfLarge(int64_t now_us);

  const std::string dir_;
  const std::string path_;
  const std::chrono::seconds retention_;
  io::File file_;
  uint64_t inode_ = 0;
  uint64_t loaded_ = 0;  // Bytes of file_ whose records are in ids_.
  std::unordered_map<std::string, uint64_t> ids_;
};

}  // namespace whycache::log

#endif  // WHYCACHE_LIB_LOG_APPEND_TOKENS_H_
