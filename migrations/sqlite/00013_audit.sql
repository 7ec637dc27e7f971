-- The audit log: every admin and operator action, who did it, to what,
-- and when. Rows are only ever added.

-- +goose Up
CREATE TABLE audit_log (
    id          INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    at          INTEGER NOT NULL,
    actor_id    INTEGER NOT NULL,
    actor_role  TEXT    NOT NULL,
    action      TEXT    NOT NULL,
    target_type TEXT    NOT NULL DEFAULT '',
    target_id   TEXT    NOT NULL DEFAULT '',
    details     TEXT    NULL
) STRICT;
CREATE INDEX audit_log_actor ON audit_log (actor_id, id);
CREATE INDEX audit_log_target ON audit_log (target_type, target_id, id);

-- +goose Down
DROP TABLE audit_log;
