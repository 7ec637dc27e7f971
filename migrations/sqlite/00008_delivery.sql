-- Delivery: idempotency scoped to the dialog, a change order per dialog,
-- and unread counts that leave deleted messages out.
--
-- messages.client_digest fingerprints what a sender sent under a client_id
-- (chat.PayloadDigest), so that a retry is told from a different message
-- under the same key. The key is unique per (sender, dialog): a client that
-- numbers its ids per chat loses nothing. sender_id leads the index as the
-- old one did, so it still serves the foreign key to users.
--
-- dialogs.last_change and messages.change_seq are the dialog's change
-- order: every new message, edit and delete takes the next number, and a
-- message row carries the number of its latest change, so resuming from a
-- cursor reads messages by (dialog_id, change_seq) and finds each changed
-- message once, as it is now. Nothing is copied: a deleted message's row
-- is its only record and keeps no content.
--
-- members.uncounted is how many messages after read_seq do not count as
-- unread (the deleted ones), so unread = last_seq - read_seq - uncounted.
--
-- The backfill rewrites every message row once; existing rows get
-- change_seq = seq, their dialogs last_change = last_seq.

-- +goose Up
ALTER TABLE dialogs ADD COLUMN last_change INTEGER NOT NULL DEFAULT 0;
UPDATE dialogs SET last_change = last_seq;

ALTER TABLE messages ADD COLUMN change_seq INTEGER NOT NULL DEFAULT 0;
ALTER TABLE messages ADD COLUMN client_digest BLOB NULL;
UPDATE messages SET change_seq = seq;
CREATE INDEX messages_change ON messages (dialog_id, change_seq);
DROP INDEX messages_sender_client;
CREATE UNIQUE INDEX messages_sender_dialog_client ON messages (sender_id, dialog_id, client_id);

ALTER TABLE members ADD COLUMN uncounted INTEGER NOT NULL DEFAULT 0;
UPDATE members SET uncounted = (
    SELECT COUNT(*) FROM messages x
    WHERE x.dialog_id = members.dialog_id AND x.seq > members.read_seq AND x.deleted_at IS NOT NULL);

-- +goose Down
-- Fails if a sender has reused a client_id in two dialogs since the Up.
ALTER TABLE members DROP COLUMN uncounted;
DROP INDEX messages_sender_dialog_client;
CREATE UNIQUE INDEX messages_sender_client ON messages (sender_id, client_id);
DROP INDEX messages_change;
ALTER TABLE messages DROP COLUMN client_digest;
ALTER TABLE messages DROP COLUMN change_seq;
ALTER TABLE dialogs DROP COLUMN last_change;
