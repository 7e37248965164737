-- whycache MySQL change log, schema version 1.
--
-- Applied in file-name order by `whycache init`, which records each applied version in
-- {prefix}_schema_version; every statement is idempotent. `{prefix}` stands for the table
-- prefix of the log URI (`?table=NAME`, default `whycache`); to read this file by hand,
-- substitute it, e.g. `sed 's/{prefix}/whycache/g' 001_create_log.sql | mariadb DATABASE`.
--
-- The commit-order protocol that every writer follows (the C++ client and the stored
-- procedures of 002_checked_procedures.sql alike): in one transaction, lock the meta row with
-- SELECT ... FOR UPDATE, take head_id + 1 as the new update id, insert the batch's rows, set
-- head_id to the new id, commit. Writers are serialized on the meta row, so update ids become visible in id order
-- and a reader that asks for `update_id > last` never skips a batch. (AUTO_INCREMENT ids are
-- handed out at insert time but become visible at commit time, in commit order: a reader that
-- jumps past a not yet committed id loses it forever.)
DELIMITER //

-- The log's single metadata row (id = 1). head_id is the newest committed update id (0 for an
-- empty log); horizon is the id below which history has been compacted so that a machine
-- behind it must resync (0 while history is complete); dataset_id, made once here, is the
-- dataset's identity that state files and snapshots are checked against. Writers lock this row to order their
-- commits.
CREATE TABLE IF NOT EXISTS {prefix}_meta (
  id TINYINT UNSIGNED NOT NULL PRIMARY KEY,
  head_id BIGINT UNSIGNED NOT NULL,
  horizon BIGINT UNSIGNED NOT NULL,
  dataset_id CHAR(32) NOT NULL
) ENGINE = InnoDB
//

INSERT IGNORE INTO {prefix}_meta (id, head_id, horizon, dataset_id)
  VALUES (1, 0, 0, REPLACE(UUID(), '-', ''))
//

-- Readers make what they read durable before returning it. InnoDB makes a commit visible to
-- other connections a moment before its redo log is flushed; a server crash in that moment loses a
-- batch that a tailer has already seen, and the id is then reused by another batch. A reader
-- that has seen new batches therefore commits a change to this row first: its commit flushes
-- the redo log up to its own record, which lies after the commit records of everything it read.
CREATE TABLE IF NOT EXISTS {prefix}_reader_sync (
  id TINYINT UNSIGNED NOT NULL PRIMARY KEY,
  syncs BIGINT UNSIGNED NOT NULL
) ENGINE = InnoDB
//

INSERT IGNORE INTO {prefix}_reader_sync (id, syncs) VALUES (1, 0)
//

-- One row per committed batch. token is a random 128-bit value chosen by the writer before
-- its first attempt: a writer whose COMMIT was interrupted looks the token up after
-- reconnecting, so a retry never appends the same batch twice.
CREATE TABLE IF NOT EXISTS {prefix}_batch (
  update_id BIGINT UNSIGNED NOT NULL PRIMARY KEY,
  token BINARY(16) NOT NULL,
  UNIQUE KEY token (token)
) ENGINE = InnoDB
//

-- One row per mutation, in batch order (pos = 0 .. batch_size - 1).
--   op:        1 = set, 2 = delete (a delete has an empty value).
--   encoding:  0 = value stored as is, 1 = value is one zstd frame.
--   checksum:  CRC32 (zlib polynomial, as SQL's CRC32()) of
--              CONCAT(CHAR(op), 4-byte big-endian LENGTH(k), k, CHAR(encoding), value).
--   write_time_us: wall clock at append, microseconds since the Unix epoch.
-- Readers page through it in primary-key order; batch_size lets them tell a whole batch from
-- one cut off by a page limit.
CREATE TABLE IF NOT EXISTS {prefix}_log (
  update_id BIGINT UNSIGNED NOT NULL,
  pos INT UNSIGNED NOT NULL,
  batch_size INT UNSIGNED NOT NULL,
  op TINYINT UNSIGNED NOT NULL,
  k VARBINARY(4096) NOT NULL,
  value LONGBLOB NOT NULL,
  encoding TINYINT UNSIGNED NOT NULL,
  checksum INT UNSIGNED NOT NULL,
  write_time_us BIGINT NOT NULL,
  PRIMARY KEY (update_id, pos)
) ENGINE = InnoDB
//

-- The log for people: one line per mutation with the op spelled out and the time readable.
-- Values with encoding 1 are compressed and shown as stored.
CREATE OR REPLACE VIEW {prefix}_history AS
  SELECT update_id, pos, IF(op = 1, 'set', IF(op = 2, 'del', CONCAT('op', op))) AS op, k,
         value, encoding, FROM_UNIXTIME(write_time_us / 1000000) AS written_at
  FROM {prefix}_log
//
