// History compaction of the MySQL log: ChangeLog::Compact for {prefix}_log.
//
// The log is rewritten in chunks of consecutive update ids (a few thousand rows each, one short
// transaction per chunk) while writers append and readers tail:
//
// - One compactor per log: it holds a named lock (GET_LOCK) for the whole run and checks at the
//   start of every step that it still holds it (a reconnect loses it, and another compactor may
//   have taken it meanwhile: then it waits its turn).
// - before_id is clamped to head + 1 at the start, so rows with update_id < before_id change
//   only through the compactor: writers append above the head.
// - Pass 1 walks the rows below before_id from the newest down, remembering every key it has
//   seen set or deleted and every prefix it has seen deleted (op 3): a set or delete whose key
//   was seen already or lies under a seen prefix is superseded and deleted, and so is a prefix
//   delete under a seen prefix (its own included). A set or delete never supersedes a prefix
//   delete, not even of the same bytes: the prefix delete still deletes the other keys under
//   it. No index on the key is needed, and writers pay nothing for compaction; the price is
//   memory for the distinct keys and prefixes below before_id (about the dataset's key set,
//   which every machine holds anyway).
// - Pass 2 drops the expired tombstones (deletes that are their key's newest entry below
//   before_id, and prefix deletes that nothing below before_id supersedes, written more than
//   tombstone_retention ago) found by pass 1, after raising the horizon to the largest of them
//   in a transaction committed first. It runs only once pass 1 is complete, so no older set of
//   a key outlives the tombstone that deleted it: a full replay of the compacted log never
//   brings a deleted key back. A compactor killed in between leaves a horizon higher than
//   needed (more resyncs), never a dropped tombstone above it. A delete superseded by a prefix
//   delete goes in pass 1 without moving the horizon, like any superseded row: the newest row
//   that deletes or sets its key stays, or is dropped as a tombstone with the horizon raised.
// - Readers never see part of a batch: a transaction deletes rows of a batch and renumbers the
//   survivors (pos 0 .. n-1, batch_size n) together, so each statement a reader runs sees a
//   batch either as it was or as it is now. ReadAfter reads a batch that a page cut in two again
//   whole, in one statement, so it never joins rows of two versions of a batch.
// - Idempotency tokens: a batch whose rows are all dropped disappears with its row in
//   {prefix}_batch, the token a writer looks up when it retries after losing the answer to its
//   COMMIT. Such a retry comes within the writer's reconnect budget and socket timeouts
//   (minutes at most). So only batches written more than MysqlLogOptions::token_retention ago
//   disappear; a younger one keeps one row and its token until a later compaction: a delete or
//   prefix delete if it has one, else its last row, a superseded set, rewritten as a delete of
//   its key (replayed before the key's newest entry, a delete changes nothing; the set would
//   come back once that entry, a tombstone, is dropped). So below the limit of a finished pass 1
//   no superseded set remains, kept token or not.
//
// Every step is one transaction, repeated from a fresh read if its connection is lost, and the
// horizon only goes up: a compactor killed at any point leaves a consistent log, and the next
// compaction takes up the rest.
#ifndef WHYCACHE_LIB_LOG_MYSQL_MYSQL_COMPACTION_H_
#define WHYCACHE_LIB_LOG_MYSQL_MYSQL_COMPACTION_H_

#include "lib/log/mysql/connection.h"
#include "lib/log/mysql/mysql_log_options.h"
#include "whycache/change_log.h"

namespace whycache::mysql_log {

// Compacts the log of `connection` (its URI names the table prefix) as ChangeLog::Compact says.
// CompactionResult::bytes_before/bytes_after count the stored key and value bytes of every row
// of {prefix}_log (LENGTH(k) + LENGTH(value), values as stored): InnoDB's data_length lags and
// does not shrink after deletes until the table is rebuilt, so it would not show the effect.
// Progress is reported in rows below before_id: pass 1's rows, then pass 2's tombstones.
// Throws Error(kUnavailable) if the server cannot be reached within the reconnect budget or
// refuses a statement, Error(kTimedOut) if another compactor holds the lock for over an hour.
CompactionResult CompactMysqlLog(MysqlConnection& connection, const CompactionOptions& options,
                                 const MysqlLogOptions& settings);

}  // namespace whycache::mysql_log

#endif  // WHYCACHE_LIB_LOG_MYSQL_MYSQL_COMPACTION_H_
