-- Former members of groups (docs/api.md, "Groups": "A removed member
-- keeps the history up to the removal only").
--
-- A member removed from a group, or who left it, loses their members row
-- (so nothing of the group reaches them any more) and gets a row here:
-- end_seq is the dialog's last seq after the system messages of their
-- removal (they read seqs visible_from..end_seq and nothing after, and no
-- media at all), ended_at orders the dialog in their list, reason is
-- 'removed' or 'left'. Adding them again deletes the row (the membership
-- resumes); deleting the dialog deletes its rows.
--
-- dialogs.pinned_seq: the seq of the dialog's pinned message, 0 for none
-- (PUT /v1/dialogs/{id}/pin).

-- +goose Up
CREATE TABLE former_members (
    dialog_id    INTEGER NOT NULL REFERENCES dialogs (id) ON DELETE CASCADE,
    user_id      INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    visible_from INTEGER NOT NULL DEFAULT 0,
    end_seq      INTEGER NOT NULL,
    ended_at     INTEGER NOT NULL,
    reason       TEXT    NOT NULL CHECK (reason IN ('removed', 'left')),
    PRIMARY KEY (dialog_id, user_id)
) STRICT, WITHOUT ROWID;
CREATE INDEX former_members_user ON former_members (user_id, ended_at, dialog_id);
ALTER TABLE dialogs ADD COLUMN pinned_seq INTEGER NOT NULL DEFAULT 0;

-- +goose Down
ALTER TABLE dialogs DROP COLUMN pinned_seq;
DROP TABLE former_members;
