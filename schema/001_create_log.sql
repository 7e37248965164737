-- whycache MySQL change log, schema version 1.
--
-- Applied in file-name order by `whycache init`, which records each applied version in
-- {prefix}_schema_version; every statement is idempotent. `{prefix}` stands for the table
-- prefix of the log URI (`?table=NAME`, default `whycache`); to read this file by hand,
-- substitute it, e.g. `sed 's/{prefix}/whycache/g' 001_create_log.sql | mariadb DATABASE`.
--
-- The commit-order protocol that every writer follows (the C++ client and the stored
-- procedure below alike): in one transaction, lock the meta row with SELECT ... FOR UPDATE,
-- take head_id + 1 as the new update id, insert the batch's rows, set head_id to the new id,
-- commit. Writers are serialized on the meta row, so update ids become visible in id order
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

-- Appends a batch of one mutation with the same guarantees as the C++ client, for clients in
-- any language:
--   CALL {prefix}_append(op, key, value, token, @id); SELECT @id;
-- op is 1 (set) or 2 (delete, value '' or NULL). token may be NULL; a caller that retries
-- after a lost connection passes the same 16-byte token on every attempt and gets the id of
-- the attempt that committed instead of a second copy. Call it with autocommit on and outside
-- a transaction: it commits by itself.
DROP PROCEDURE IF EXISTS {prefix}_append
//

CREATE PROCEDURE {prefix}_append(IN p_op TINYINT UNSIGNED, IN p_key VARBINARY(4096),
                                 IN p_value LONGBLOB, IN p_token BINARY(16),
                                 OUT p_update_id BIGINT UNSIGNED)
  MODIFIES SQL DATA
BEGIN
  DECLARE v_value LONGBLOB DEFAULT IFNULL(p_value, '');
  DECLARE v_token BINARY(16) DEFAULT IFNULL(p_token, UNHEX(REPLACE(UUID(), '-', '')));
  DECLARE v_id BIGINT UNSIGNED;
  DECLARE EXIT HANDLER FOR SQLEXCEPTION
  BEGIN
    ROLLBACK;
    RESIGNAL;
  END;
  IF p_op IS NULL OR p_op NOT IN (1, 2) THEN
    SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = '{prefix}_append: op must be 1 (set) or 2 (delete)';
  END IF;
  IF p_key IS NULL THEN
    SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = '{prefix}_append: key must not be NULL';
  END IF;
  IF p_op = 2 AND LENGTH(v_value) > 0 THEN
    SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = '{prefix}_append: a delete carries no value';
  END IF;
  START TRANSACTION;
  SELECT head_id + 1 INTO v_id FROM {prefix}_meta WHERE id = 1 FOR UPDATE;
  SET p_update_id = (SELECT update_id FROM {prefix}_batch WHERE token = v_token);
  IF p_update_id IS NULL THEN
    INSERT INTO {prefix}_batch (update_id, token) VALUES (v_id, v_token);
    INSERT INTO {prefix}_log
      (update_id, pos, batch_size, op, k, value, encoding, checksum, write_time_us)
      VALUES (v_id, 0, 1, p_op, p_key, v_value, 0,
              CRC32(CONCAT(CHAR(p_op), UNHEX(LPAD(HEX(LENGTH(p_key)), 8, '0')), p_key, CHAR(0),
                           v_value)),
              ROUND(@@timestamp * 1000000));
    UPDATE {prefix}_meta SET head_id = v_id WHERE id = 1;
    SET p_update_id = v_id;
  END IF;
  COMMIT;
END
//

-- Batches of several mutations, appended atomically, from any language: stage the mutations
-- on one connection with {prefix}_batch_add, then append them as one batch:
--   CALL {prefix}_batch_add(1, 'k1', 'v1');
--   CALL {prefix}_batch_add(2, 'k2', NULL);
--   CALL {prefix}_batch_commit(token, @id); SELECT @id;
-- The staged mutations live in a temporary table of the connection: a lost connection discards
-- them, and a retry stages them again and commits with the same token (NULL for none), which
-- returns the id of an earlier attempt that committed instead of appending again.
-- {prefix}_batch_discard drops what is staged.
DROP PROCEDURE IF EXISTS {prefix}_batch_add
//

CREATE PROCEDURE {prefix}_batch_add(IN p_op TINYINT UNSIGNED, IN p_key VARBINARY(4096),
                                    IN p_value LONGBLOB)
  MODIFIES SQL DATA
BEGIN
  IF p_op IS NULL OR p_op NOT IN (1, 2) THEN
    SIGNAL SQLSTATE '45000'
      SET MESSAGE_TEXT = '{prefix}_batch_add: op must be 1 (set) or 2 (delete)';
  END IF;
  IF p_key IS NULL THEN
    SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = '{prefix}_batch_add: key must not be NULL';
  END IF;
  IF p_op = 2 AND LENGTH(IFNULL(p_value, '')) > 0 THEN
    SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = '{prefix}_batch_add: a delete carries no value';
  END IF;
  CREATE TEMPORARY TABLE IF NOT EXISTS {prefix}_staged (
    pos INT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
    op TINYINT UNSIGNED NOT NULL,
    k VARBINARY(4096) NOT NULL,
    value LONGBLOB NOT NULL
  );
  INSERT INTO {prefix}_staged (op, k, value) VALUES (p_op, p_key, IFNULL(p_value, ''));
END
//

DROP PROCEDURE IF EXISTS {prefix}_batch_discard
//

CREATE PROCEDURE {prefix}_batch_discard()
  MODIFIES SQL DATA
BEGIN
  DROP TEMPORARY TABLE IF EXISTS {prefix}_staged;
END
//

DROP PROCEDURE IF EXISTS {prefix}_batch_commit
//

CREATE PROCEDURE {prefix}_batch_commit(IN p_token BINARY(16), OUT p_update_id BIGINT UNSIGNED)
  MODIFIES SQL DATA
BEGIN
  DECLARE v_token BINARY(16) DEFAULT IFNULL(p_token, UNHEX(REPLACE(UUID(), '-', '')));
  DECLARE v_id BIGINT UNSIGNED;
  DECLARE v_count INT UNSIGNED DEFAULT 0;
  DECLARE EXIT HANDLER FOR SQLEXCEPTION
  BEGIN
    ROLLBACK;
    RESIGNAL;
  END;
  CREATE TEMPORARY TABLE IF NOT EXISTS {prefix}_staged (
    pos INT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
    op TINYINT UNSIGNED NOT NULL,
    k VARBINARY(4096) NOT NULL,
    value LONGBLOB NOT NULL
  );
  START TRANSACTION;
  SELECT head_id + 1 INTO v_id FROM {prefix}_meta WHERE id = 1 FOR UPDATE;
  SET p_update_id = (SELECT update_id FROM {prefix}_batch WHERE token = v_token);
  IF p_update_id IS NULL THEN
    SET v_count = (SELECT COUNT(*) FROM {prefix}_staged);
    IF v_count = 0 THEN
      SIGNAL SQLSTATE '45000'
        SET MESSAGE_TEXT = '{prefix}_batch_commit: no mutations staged with {prefix}_batch_add';
    END IF;
    INSERT INTO {prefix}_batch (update_id, token) VALUES (v_id, v_token);
    INSERT INTO {prefix}_log
      (update_id, pos, batch_size, op, k, value, encoding, checksum, write_time_us)
      SELECT v_id, pos - 1, v_count, op, k, value, 0,
             CRC32(CONCAT(CHAR(op), UNHEX(LPAD(HEX(LENGTH(k)), 8, '0')), k, CHAR(0), value)),
             ROUND(@@timestamp * 1000000)
      FROM {prefix}_staged ORDER BY pos;
    UPDATE {prefix}_meta SET head_id = v_id WHERE id = 1;
    SET p_update_id = v_id;
  END IF;
  COMMIT;
  DROP TEMPORARY TABLE IF EXISTS {prefix}_staged;
END
//
