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
    dialog_id    BIGINT      NOT NULL,
    user_id      BIGINT      NOT NULL,
    visible_from BIGINT      NOT NULL DEFAULT 0,
    end_seq      BIGINT      NOT NULL,
    ended_at     DATETIME(6) NOT NULL,
    reason       VARCHAR(8) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    PRIMARY KEY (dialog_id, user_id),
    KEY former_members_user (user_id, ended_at, dialog_id),
    CONSTRAINT former_members_reason_check CHECK (reason IN ('removed', 'left')),
    CONSTRAINT former_members_dialog_id_fk FOREIGN KEY (dialog_id) REFERENCES dialogs (id) ON DELETE CASCADE,
    CONSTRAINT former_members_user_id_fk FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
ALTER TABLE dialogs ADD COLUMN pinned_seq BIGINT NOT NULL DEFAULT 0;

-- +goose Down
ALTER TABLE dialogs DROP COLUMN pinned_seq;
DROP TABLE former_members;
