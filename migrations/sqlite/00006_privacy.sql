-- Privacy: who sees a user's presence, by the user's own setting, and an
-- index that tells cheaply whether a member has written in a dialog (two
-- members who both wrote in a direct dialog have "exchanged messages",
-- which the setting "everybody" counts as consent).

-- +goose Up
ALTER TABLE users ADD COLUMN presence TEXT NOT NULL DEFAULT 'everybody'
    CHECK (presence IN ('everybody', 'contacts', 'nobody'));
CREATE INDEX messages_dialog_sender ON messages (dialog_id, sender_id);

-- +goose Down
DROP INDEX messages_dialog_sender;
ALTER TABLE users DROP COLUMN presence;
