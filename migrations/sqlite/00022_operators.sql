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
    dialog_id   INTEGER NOT NULL PRIMARY KEY REFERENCES dialogs (id) ON DELETE CASCADE,
    operator_id INTEGER NOT NULL,
    assigned_by INTEGER NOT NULL,
    assigned_at INTEGER NOT NULL
) STRICT;
CREATE INDEX dialog_assignments_operator ON dialog_assignments (operator_id, dialog_id);

CREATE TABLE operator_replies (
    dialog_id   INTEGER NOT NULL REFERENCES dialogs (id) ON DELETE CASCADE,
    seq         INTEGER NOT NULL,
    operator_id INTEGER NOT NULL,
    created_at  INTEGER NOT NULL,
    PRIMARY KEY (dialog_id, seq)
) STRICT, WITHOUT ROWID;

ALTER TABLE content_collections ADD COLUMN tags TEXT NOT NULL DEFAULT '[]';

INSERT INTO dialog_assignments (dialog_id, operator_id, assigned_by, assigned_at)
SELECT CAST(a.target_id AS INTEGER), CAST(json_extract(a.details, '$.operator_id') AS INTEGER), a.actor_id, a.at
FROM audit_log a
WHERE a.action = 'dialog.assign' AND a.target_type = 'dialog'
  AND json_valid(a.details) AND json_extract(a.details, '$.operator_id') IS NOT NULL
  AND EXISTS (SELECT 1 FROM dialogs d WHERE d.id = CAST(a.target_id AS INTEGER))
  AND a.id = (SELECT MAX(b.id) FROM audit_log b
              WHERE b.action = 'dialog.assign' AND b.target_type = 'dialog' AND b.target_id = a.target_id);

INSERT INTO operator_replies (dialog_id, seq, operator_id, created_at)
SELECT CAST(a.target_id AS INTEGER),
       CAST(substr(json_extract(a.details, '$.message_id'), instr(json_extract(a.details, '$.message_id'), '.') + 1) AS INTEGER),
       a.actor_id, a.at
FROM audit_log a
WHERE a.action = 'operator.reply' AND a.target_type = 'dialog'
  AND json_valid(a.details) AND instr(json_extract(a.details, '$.message_id'), '.') > 0
  AND EXISTS (SELECT 1 FROM dialogs d WHERE d.id = CAST(a.target_id AS INTEGER))
ON CONFLICT DO NOTHING;

-- +goose Down
ALTER TABLE content_collections DROP COLUMN tags;
DROP TABLE operator_replies;
DROP TABLE dialog_assignments;
