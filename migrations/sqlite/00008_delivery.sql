-- Delivery: idempotency scoped to the dialog, a change order per dialog,
-- and unread counts that leave deleted messages out.
--
-- messages.client_digest fingerprints what a sender sent under a client_id
-- (chat.PayloadDigest), so that a retry is told from a different message
-- under the same key. The key is unique per (sender, dialog): a client that
-- numbers its ids per chat loses nothing. sender_id leads the index as the
-- old one did, so it still serves the foreign key to users.
--
-- dialogs.last_change is the dialog's change order: every new message,
-- edit and delete takes the next number, and messages.change_seq is the
-- number of a message's latest change. The send path pays no index for it:
-- a new message's change follows from its seq, since between two
-- non-insert changes every change is an insert that adds one seq. The
-- non-insert changes (edits, deletes; member changes with groups) are the
-- rows of dialog_changes, each with the dialog's last_seq at that moment,
-- so a cursor maps to the seq it has seen up to by one index seek, and
-- resuming reads the messages inserted after that seq plus those whose
-- latest change is a dialog_changes row after the cursor: each changed
-- message once, as it is now. dialog_changes holds numbers only: a deleted
-- message's row is its only record and keeps no content.
--
-- members.uncounted is how many messages after read_seq do not count as
-- unread (the deleted ones), so unread = last_seq - read_seq - uncounted.
--
-- The backfill rewrites every message row once; existing rows get
-- change_seq = seq, their dialogs last_change = last_seq (no non-insert
-- change before this migration is numbered: none needs to be, since no
-- device holds a cursor yet).

-- +goose Up
ALTER TABLE dialogs ADD COLUMN last_change INTEGER NOT NULL DEFAULT 0;
UPDATE dialogs SET last_change = last_seq;

ALTER TABLE messages ADD COLUMN change_seq INTEGER NOT NULL DEFAULT 0;
ALTER TABLE messages ADD COLUMN client_digest BLOB NULL;
UPDATE messages SET change_seq = seq;
DROP INDEX messages_sender_client;
CREATE UNIQUE INDEX messages_sender_dialog_client ON messages (sender_id, dialog_id, client_id);

CREATE TABLE dialog_changes (
    dialog_id  INTEGER NOT NULL REFERENCES dialogs (id) ON DELETE CASCADE,
    change_seq INTEGER NOT NULL,
    seq        INTEGER NOT NULL, -- the message changed
    last_seq   INTEGER NOT NULL, -- the dialog's last_seq at this change
    PRIMARY KEY (dialog_id, change_seq)
) STRICT, WITHOUT ROWID;

ALTER TABLE members ADD COLUMN uncounted INTEGER NOT NULL DEFAULT 0;
UPDATE members SET uncounted = (
    SELECT COUNT(*) FROM messages x
    WHERE x.dialog_id = members.dialog_id AND x.seq > members.read_seq AND x.deleted_at IS NOT NULL);

-- +goose Down
-- Fails if a sender has reused a client_id in two dialogs since the Up.
ALTER TABLE members DROP COLUMN uncounted;
DROP TABLE dialog_changes;
DROP INDEX messages_sender_dialog_client;
CREATE UNIQUE INDEX messages_sender_client ON messages (sender_id, client_id);
ALTER TABLE messages DROP COLUMN client_digest;
ALTER TABLE messages DROP COLUMN change_seq;
ALTER TABLE dialogs DROP COLUMN last_change;
