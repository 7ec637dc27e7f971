-- Chat: dialogs, their members and their messages.
-- Receipts are watermarks on members (delivered_seq, read_seq), never rows
-- per message. A message is identified by (dialog_id, seq): messages is a
-- WITHOUT ROWID table clustered on that key, so history reads walk one
-- dialog's rows in order. (sender_id, client_id) is the sender's
-- idempotency key.

-- +goose Up
-- AUTOINCREMENT: a dialog id is never reused, even after the newest dialog
-- is deleted, as on MySQL.
CREATE TABLE dialogs (
    id              INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    kind            TEXT    NOT NULL,
    title           TEXT    NOT NULL DEFAULT '',
    avatar          TEXT    NOT NULL DEFAULT '',
    subject         TEXT    NOT NULL DEFAULT '',
    created_by      INTEGER NOT NULL REFERENCES users (id),
    -- "<min user id>:<max user id>:<subject>" for direct dialogs, NULL for
    -- groups: the unique key that makes get-or-create race-safe.
    direct_key      TEXT    NULL,
    last_seq        INTEGER NOT NULL DEFAULT 0,
    last_message_at INTEGER NULL,
    created_at      INTEGER NOT NULL,
    -- max(created_at, last_message_at): the dialog list's sort key.
    updated_at      INTEGER NOT NULL
) STRICT;
CREATE UNIQUE INDEX dialogs_direct_key ON dialogs (direct_key);
CREATE INDEX dialogs_created_by ON dialogs (created_by);

CREATE TABLE members (
    dialog_id     INTEGER NOT NULL REFERENCES dialogs (id) ON DELETE CASCADE,
    user_id       INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    delivered_seq INTEGER NOT NULL DEFAULT 0,
    read_seq      INTEGER NOT NULL DEFAULT 0,
    joined_at     INTEGER NOT NULL,
    PRIMARY KEY (dialog_id, user_id)
) STRICT, WITHOUT ROWID;
CREATE INDEX members_user_id ON members (user_id, dialog_id);

-- A sender's messages are not deleted with the sender (no cascade): that
-- would leave holes in other people's histories.
CREATE TABLE messages (
    dialog_id   INTEGER NOT NULL REFERENCES dialogs (id) ON DELETE CASCADE,
    seq         INTEGER NOT NULL,
    sender_id   INTEGER NOT NULL REFERENCES users (id),
    client_id   TEXT    NOT NULL,
    text        TEXT    NOT NULL,
    attachments TEXT    NULL CHECK (attachments IS NULL OR json_valid(attachments)),
    created_at  INTEGER NOT NULL,
    edited_at   INTEGER NULL,
    deleted_at  INTEGER NULL,
    PRIMARY KEY (dialog_id, seq)
) STRICT, WITHOUT ROWID;
CREATE UNIQUE INDEX messages_sender_client ON messages (sender_id, client_id);

-- +goose Down
DROP TABLE messages;
DROP TABLE members;
DROP TABLE dialogs;
