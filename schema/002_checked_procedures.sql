-- whycache MySQL change log, schema version 2: the stored procedures through which clients in
-- any language append, checked like the C++ writer.
--
-- A row that breaks a limit of include/whycache/limits.h, or a batch whose positions are not
-- 0 .. batch_size - 1, stops every reader at its update id (they report corruption rather than
-- skip it). So the procedures refuse, with an error naming the limit, what the C++ writer
-- refuses, and number positions themselves instead of taking them from AUTO_INCREMENT, which
-- counts in steps of auto_increment_increment from auto_increment_offset. They replace the
-- procedures of version 1, which did neither.
--
-- The limits (keep them equal to include/whycache/limits.h):
--   kMaxKeyBytes 4096, kMaxValueBytes 67108864 (64 MiB),
--   kMaxBatchMutations 1000000, kMaxBatchBytes 134217728 (128 MiB of keys and values).
DELIMITER //

-- Signals SQLSTATE 45000 naming `p_caller` and the broken rule unless (op, key, value) is a
-- mutation the C++ writer would accept.
DROP PROCEDURE IF EXISTS {prefix}_check_mutation
//

CREATE PROCEDURE {prefix}_check_mutation(IN p_caller VARCHAR(64), IN p_op TINYINT UNSIGNED,
                                         IN p_key LONGBLOB, IN p_value LONGBLOB)
  NO SQL
BEGIN
  DECLARE v_message VARCHAR(255);
  IF p_op IS NULL OR p_op NOT IN (1, 2) THEN
    SET v_message = CONCAT(p_caller, ': op must be 1 (set) or 2 (delete)');
  ELSEIF p_key IS NULL THEN
    SET v_message = CONCAT(p_caller, ': key must not be NULL');
  ELSEIF LENGTH(p_key) > 4096 THEN
    SET v_message = CONCAT(p_caller, ': key of ', LENGTH(p_key),
                           ' bytes exceeds kMaxKeyBytes (4096)');
  ELSEIF p_op = 2 AND LENGTH(IFNULL(p_value, '')) > 0 THEN
    SET v_message = CONCAT(p_caller, ': a delete carries no value');
  ELSEIF LENGTH(IFNULL(p_value, '')) > 67108864 THEN
    SET v_message = CONCAT(p_caller, ': value of ', LENGTH(p_value),
                           ' bytes exceeds kMaxValueBytes (67108864)');
  END IF;
  IF v_message IS NOT NULL THEN
    SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = v_message;
  END IF;
END
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

CREATE PROCEDURE {prefix}_append(IN p_op TINYINT UNSIGNED, IN p_key LONGBLOB,
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
  CALL {prefix}_check_mutation('{prefix}_append', p_op, p_key, v_value);
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
-- {prefix}_batch_discard drops what is staged. {prefix}_batch_add refuses a mutation beyond a
-- limit at once; {prefix}_batch_commit checks the whole batch again (the staging table is the
-- connection's to write) and refuses it, leaving it staged, beyond kMaxBatchMutations or
-- kMaxBatchBytes.
DROP PROCEDURE IF EXISTS {prefix}_batch_add
//

CREATE PROCEDURE {prefix}_batch_add(IN p_op TINYINT UNSIGNED, IN p_key LONGBLOB,
                                    IN p_value LONGBLOB)
  MODIFIES SQL DATA
BEGIN
  CALL {prefix}_check_mutation('{prefix}_batch_add', p_op, p_key, p_value);
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

-- The staging table's pos orders the mutations but is not their position: AUTO_INCREMENT
-- values start at auto_increment_offset and step by auto_increment_increment. Positions are
-- numbered 0 .. batch_size - 1 here, in pos order.
DROP PROCEDURE IF EXISTS {prefix}_batch_commit
//

CREATE PROCEDURE {prefix}_batch_commit(IN p_token BINARY(16), OUT p_update_id BIGINT UNSIGNED)
  MODIFIES SQL DATA
BEGIN
  DECLARE v_token BINARY(16) DEFAULT IFNULL(p_token, UNHEX(REPLACE(UUID(), '-', '')));
  DECLARE v_id BIGINT UNSIGNED;
  DECLARE v_count BIGINT UNSIGNED DEFAULT 0;
  DECLARE v_bytes BIGINT UNSIGNED DEFAULT 0;
  DECLARE v_invalid BIGINT UNSIGNED DEFAULT 0;
  DECLARE v_message VARCHAR(255);
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
    SELECT COUNT(*), IFNULL(SUM(LENGTH(k) + LENGTH(value)), 0),
           IFNULL(SUM(op NOT IN (1, 2) OR (op = 2 AND LENGTH(value) > 0)
                      OR LENGTH(value) > 67108864), 0)
      INTO v_count, v_bytes, v_invalid
      FROM {prefix}_staged;
    IF v_count = 0 THEN
      SET v_message = '{prefix}_batch_commit: no mutations staged with {prefix}_batch_add';
    ELSEIF v_count > 1000000 THEN
      SET v_message = CONCAT('{prefix}_batch_commit: batch of ', v_count,
                             ' mutations exceeds kMaxBatchMutations (1000000)');
    ELSEIF v_bytes > 134217728 THEN
      SET v_message = CONCAT('{prefix}_batch_commit: batch of ', v_bytes,
                             ' key and value bytes exceeds kMaxBatchBytes (134217728)');
    ELSEIF v_invalid > 0 THEN
      SET v_message = CONCAT('{prefix}_batch_commit: ', v_invalid, ' staged mutations have an',
                             ' unknown op, a delete with a value, or a value beyond',
                             ' kMaxValueBytes (67108864)');
    END IF;
    IF v_message IS NOT NULL THEN
      SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = v_message;
    END IF;
    INSERT INTO {prefix}_batch (update_id, token) VALUES (v_id, v_token);
    INSERT INTO {prefix}_log
      (update_id, pos, batch_size, op, k, value, encoding, checksum, write_time_us)
      SELECT v_id, ROW_NUMBER() OVER (ORDER BY pos) - 1, v_count, op, k, value, 0,
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
