-- Uploads belong to one message once a send claims them, so their files
-- can go with the message (deleted with it, or collected when the message
-- never came), and unattached uploads can be collected after a day.
-- state: unattached, attaching (claimed by a send, message not confirmed
-- yet), attached, deleted (files to remove, then the row). The claim is
-- the message's (dialog_id, owner_id = sender_id, client_id).
--
-- Uploads that stored messages already list become attached to the first
-- such message; the rest are unattached. Messages keep listing the URLs
-- they were stored with; views read the key back from them.

-- +goose Up
ALTER TABLE uploads ADD COLUMN state TEXT NOT NULL DEFAULT 'unattached';
ALTER TABLE uploads ADD COLUMN dialog_id INTEGER NULL;
ALTER TABLE uploads ADD COLUMN client_id TEXT NULL;
ALTER TABLE uploads ADD COLUMN attached_at INTEGER NULL;
UPDATE uploads SET state = 'attached', dialog_id = m.dialog_id, client_id = m.client_id, attached_at = m.created_at
FROM messages AS m
WHERE m.sender_id = uploads.owner_id AND m.deleted_at IS NULL
  AND m.attachments LIKE '%"id":"' || uploads.id || '"%';
CREATE INDEX uploads_state ON uploads (state, created_at);
CREATE INDEX uploads_message ON uploads (dialog_id, owner_id, client_id);

-- +goose Down
DROP INDEX uploads_message;
DROP INDEX uploads_state;
ALTER TABLE uploads DROP COLUMN attached_at;
ALTER TABLE uploads DROP COLUMN client_id;
ALTER TABLE uploads DROP COLUMN dialog_id;
ALTER TABLE uploads DROP COLUMN state;
