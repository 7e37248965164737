-- whycache MySQL change log, schema version 3: how far compaction has rewritten history.
--
-- compacted_below: compaction has rewritten rows with a smaller update_id (dropping entries
-- superseded by newer ones), so a machine that applies the log in parts must not publish a
-- state at an id inside that range: it could show a state that never existed. Compaction
-- raises it, in a transaction of its own, before it deletes a row. A log compacted by an older
-- version recorded nothing, so it starts at head_id + 1: machines then read on to the head
-- once, the most that an older compaction can have rewritten.
DELIMITER //

-- ADD COLUMN IF NOT EXISTS is MariaDB's alone: the check goes through information_schema.
DROP PROCEDURE IF EXISTS {prefix}_add_compacted_below
//

CREATE PROCEDURE {prefix}_add_compacted_below()
  MODIFIES SQL DATA
BEGIN
  IF NOT EXISTS (SELECT 1 FROM information_schema.COLUMNS
                 WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = '{prefix}_meta'
                   AND COLUMN_NAME = 'compacted_below') THEN
    ALTER TABLE {prefix}_meta ADD COLUMN compacted_below BIGINT UNSIGNED NOT NULL DEFAULT 0;
  END IF;
END
//

CALL {prefix}_add_compacted_below()
//

DROP PROCEDURE {prefix}_add_compacted_below
//

UPDATE {prefix}_meta SET compacted_below = GREATEST(compacted_below, head_id + 1) WHERE id = 1
//
