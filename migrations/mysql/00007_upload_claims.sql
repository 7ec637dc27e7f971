-- Uploads belong to one message once a send claims them, so their files
-- can go with the message (deleted with it, or collected when the message
-- never came), and unattached uploads can be collected after a day.
-- state: unattached, attaching (claimed by a send, message not confirmed
-- yet), attached, deleted (files to remove, then the row). The claim is
-- the message's (dialog_id, owner_id = sender_id, client_id).
--
-- Uploads that stored messages already list become attached to the first
-- such message; the rest are unattached. Messages keep listing the URLs
-- they were stored with; views read the key back from them. (MySQL stores
-- JSON normalised, with a space after the colon; MariaDB as written.)

-- +goose Up
ALTER TABLE uploads
    ADD COLUMN state       VARCHAR(16) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL DEFAULT 'unattached',
    ADD COLUMN dialog_id   BIGINT      NULL,
    ADD COLUMN client_id   VARCHAR(64) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NULL,
    ADD COLUMN attached_at DATETIME(6) NULL,
    ADD KEY uploads_state (state, created_at),
    ADD KEY uploads_message (dialog_id, owner_id, client_id);
UPDATE uploads u
JOIN messages m ON m.sender_id = u.owner_id AND m.deleted_at IS NULL
    AND (m.attachments LIKE CONCAT('%"id":"', u.id, '"%') OR m.attachments LIKE CONCAT('%"id": "', u.id, '"%'))
SET u.state = 'attached', u.dialog_id = m.dialog_id, u.client_id = m.client_id, u.attached_at = m.created_at;

-- +goose Down
ALTER TABLE uploads
    DROP KEY uploads_message,
    DROP KEY uploads_state,
    DROP COLUMN attached_at,
    DROP COLUMN client_id,
    DROP COLUMN dialog_id,
    DROP COLUMN state;
