-- whycache MySQL change log, schema version 4: prefix deletes.
--
-- A row may now hold op 3, a prefix delete (Mutation::ErasePrefix): it deletes every key that
-- starts with the bytes in k, the key equal to them included. So the `op` column of
-- {prefix}_log reads:
--   op:        1 = set, 2 = delete, 3 = prefix delete (k is the prefix, never empty).
--              A delete and a prefix delete have an empty value.
-- The procedures of version 2 refused op 3, so no client could append one through them; the
-- ones here accept it, checked like the C++ writer checks it (a non-empty prefix, no value), and
-- the view spells it 'del-prefix'. Releases that know only the earlier versions stop applying at
-- the first op 3 row with an error naming its update id; `whycache init` brings a version 3 log
-- here in place, keeping its rows.
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
  IF p_op IS NULL OR p_op NOT IN (1, 2, 3) THEN
    SET v_message = CONCAT(p_caller, ': op must be 1 (set), 2 (delete) or 3 (prefix delete)');
  ELSEIF p_key IS NULL THEN
    SET v_message = CONCAT(p_caller, ': key must not be NULL');
  ELSEIF LENGTH(p_key) > 4096 THEN
    SET v_message = CONCAT(p_caller, ': key of ', LENGTH(p_key),
                           ' bytes exceeds kMaxKeyBytes (4096)');
  ELSEIF p_op = 2 AND LENGTH(IFNULL(p_value, '')) > 0 THEN
    SET v_message = CONCAT(p_caller, ': a delete carries no value');
  ELSEIF p_op = 3 AND LENGTH(p_key) = 0 THEN
    SET v_message = CONCAT(p_caller, ': a prefix delete needs a non-empty prefix',
                           ' (an empty one would delete every key)');
  ELSEIF p_op = 3 AND LENGTH(IFNULL(p_value, '')) > 0 THEN
    SET v_message = CONCAT(p_caller, ': a prefix delete carries no value');
  ELSEIF LENGTH(IFNULL(p_value, '')) > 67108864 THEN
    SET v_message = CONCAT(p_caller, ': value of ', LENGTH(p_value),
                           ' bytes exceeds kMaxValueBytes (67108864)');
  END IF;
  IF v_message IS NOT NULL THEN
    SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = v_message;
  END IF;
END
//

-- As in version 2, with op 3 among the ops a staged row may hold. The staging table is the
-- connection's to write, so {prefix}_batch_add's checks may have been bypassed: the first staged
-- row that breaks a rule is found by one query and refused by {prefix}_check_mutation, which
-- alone spells the rules out.
DROP PROCEDURE IF EXISTS {prefix}_batch_commit
//

CREATE PROCEDURE {prefix}_batch_commit(IN p_token BINARY(16), OUT p_update_id BIGINT UNSIGNED)
  MODIFIES SQL DATA
BEGIN
  DECLARE v_token BINARY(16) DEFAULT IFNULL(p_token, UNHEX(REPLACE(UUID(), '-', '')));
  DECLARE v_id BIGINT UNSIGNED;
  DECLARE v_count BIGINT UNSIGNED DEFAULT 0;
  DECLARE v_bytes BIGINT UNSIGNED DEFAULT 0;
  DECLARE v_bad_pos INT UNSIGNED;
  DECLARE v_bad_op TINYINT UNSIGNED;
  DECLARE v_bad_key LONGBLOB;
  DECLARE v_bad_value LONGBLOB;
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
           MIN(IF(op NOT IN (1, 2, 3) OR (op IN (2, 3) AND LENGTH(value) > 0)
                  OR (op = 3 AND LENGTH(k) = 0) OR LENGTH(value) > 67108864, pos, NULL))
      INTO v_count, v_bytes, v_bad_pos
      FROM {prefix}_staged;
    IF v_count = 0 THEN
      SET v_message = '{prefix}_batch_commit: no mutations staged with {prefix}_batch_add';
    ELSEIF v_count > 1000000 THEN
      SET v_message = CONCAT('{prefix}_batch_commit: batch of ', v_count,
                             ' mutations exceeds kMaxBatchMutations (1000000)');
    ELSEIF v_bytes > 134217728 THEN
      SET v_message = CONCAT('{prefix}_batch_commit: batch of ', v_bytes,
                             ' key and value bytes exceeds kMaxBatchBytes (134217728)');
    END IF;
    IF v_message IS NOT NULL THEN
      SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = v_message;
    END IF;
    IF v_bad_pos IS NOT NULL THEN
      SELECT op, k, value INTO v_bad_op, v_bad_key, v_bad_value
        FROM {prefix}_staged WHERE pos = v_bad_pos;
      CALL {prefix}_check_mutation('{prefix}_batch_commit', v_bad_op, v_bad_key, v_bad_value);
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

-- The log for people: one line per mutation with the op spelled out and the time readable.
-- Values with encoding 1 are compressed and shown as stored.
CREATE OR REPLACE VIEW {prefix}_history AS
  SELECT update_id, pos,
         CASE op WHEN 1 THEN 'set' WHEN 2 THEN 'del' WHEN 3 THEN 'del-prefix'
                 ELSE CONCAT('op', op) END AS op,
         k, value, encoding, FROM_UNIXTIME(write_time_us / 1000000) AS written_at
  FROM {prefix}_log
//
