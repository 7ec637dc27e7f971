-- Operators and content tags.
--
-- dialog_assignments: which operator (or admin) a dialog of the business
-- is assigned to; one row per dialog, replaced by a reassignment (the
-- history is in the audit log, action dialog.assign).
-- operator_replies: who answered, per message the business sent through
-- an operator: (dialog_id, seq) is the message. Operators and admins see
-- it; clients see only the business.
-- content_collections.tags: the content tags of a collection (a JSON
-- array of strings); a broadcast segment by tag reaches the users who
-- interacted with content carrying it (docs/api.md, "Broadcasts").
--
-- Assignments and replies recorded before this migration lived only in
-- the audit log; the latest dialog.assign of each dialog and every
-- operator.reply are copied over.

-- +goose Up
CREATE TABLE dialog_assignments (
    dialog_id   BIGINT      NOT NULL,
    operator_id BIGINT      NOT NULL,
    assigned_by BIGINT      NOT NULL,
    assigned_at DATETIME(6) NOT NULL,
    PRIMARY KEY (dialog_id),
    KEY dialog_assignments_operator (operator_id, dialog_id),
    CONSTRAINT dialog_assignments_dialog_fk FOREIGN KEY (dialog_id) REFERENCES dialogs (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE operator_replies (
    dialog_id   BIGINT      NOT NULL,
    seq         BIGINT      NOT NULL,
    operator_id BIGINT      NOT NULL,
    created_at  DATETIME(6) NOT NULL,
    PRIMARY KEY (dialog_id, seq),
    CONSTRAINT operator_replies_dialog_fk FOREIGN KEY (dialog_id) REFERENCES dialogs (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

ALTER TABLE content_collections ADD COLUMN tags JSON NOT NULL DEFAULT ('[]');

INSERT INTO dialog_assignments (dialog_id, operator_id, assigned_by, assigned_at)
SELECT CAST(a.target_id AS SIGNED), CAST(JSON_UNQUOTE(JSON_EXTRACT(a.details, '$.operator_id')) AS SIGNED), a.actor_id, a.at
FROM audit_log a
WHERE a.action = 'dialog.assign' AND a.target_type = 'dialog'
  AND JSON_EXTRACT(a.details, '$.operator_id') IS NOT NULL
  AND EXISTS (SELECT 1 FROM dialogs d WHERE d.id = CAST(a.target_id AS SIGNED))
  AND a.id = (SELECT MAX(b.id) FROM audit_log b
              WHERE b.action = 'dialog.assign' AND b.target_type = 'dialog' AND b.target_id = a.target_id);

INSERT IGNORE INTO operator_replies (dialog_id, seq, operator_id, created_at)
SELECT CAST(a.target_id AS SIGNED),
       CAST(SUBSTRING_INDEX(JSON_UNQUOTE(JSON_EXTRACT(a.details, '$.message_id')), '.', -1) AS SIGNED),
       a.actor_id, a.at
FROM audit_log a
WHERE a.action = 'operator.reply' AND a.target_type = 'dialog'
  AND LOCATE('.', JSON_UNQUOTE(JSON_EXTRACT(a.details, '$.message_id'))) > 0
  AND EXISTS (SELECT 1 FROM dialogs d WHERE d.id = CAST(a.target_id AS SIGNED));

-- +goose Down
ALTER TABLE content_collections DROP COLUMN tags;
DROP TABLE operator_replies;
DROP TABLE dialog_assignments;
