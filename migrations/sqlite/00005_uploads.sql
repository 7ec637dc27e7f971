-- Uploads: images and files a user may attach to their messages. The files
-- live in the media folder under media_key; name is the cleaned display name
-- the client gave. Messages copy the attachment objects, so history needs
-- no join with this table.

-- +goose Up
CREATE TABLE uploads (
    id         INTEGER NOT NULL PRIMARY KEY,
    owner_id   INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    kind       TEXT    NOT NULL,
    media_key  TEXT    NOT NULL,
    name       TEXT    NOT NULL DEFAULT '',
    size       INTEGER NOT NULL,
    mime       TEXT    NOT NULL,
    width      INTEGER NOT NULL DEFAULT 0,
    height     INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL
) STRICT;
CREATE UNIQUE INDEX uploads_media_key ON uploads (media_key);
CREATE INDEX uploads_owner_id ON uploads (owner_id, created_at);

-- +goose Down
DROP TABLE uploads;
