-- Link previews: the preview a message's first URL got (messages.preview,
-- JSON with the image's media key, never a URL), and the cache of what
-- each URL's page showed, so a link posted many times is fetched once per
-- expiry. url_hash is the SHA-256 of the URL (hex); image_key names the
-- cache's own re-encoded image files (each message gets its copy, an
-- upload row of the message). found = 0 caches a page without a preview.

-- +goose Up
ALTER TABLE messages ADD COLUMN preview TEXT NULL;
CREATE TABLE link_previews (
    url_hash    TEXT    NOT NULL PRIMARY KEY,
    url         TEXT    NOT NULL,
    found       INTEGER NOT NULL,
    site_name   TEXT    NOT NULL DEFAULT '',
    title       TEXT    NOT NULL DEFAULT '',
    description TEXT    NOT NULL DEFAULT '',
    image_key   TEXT    NOT NULL DEFAULT '',
    image_size  INTEGER NOT NULL DEFAULT 0,
    image_w     INTEGER NOT NULL DEFAULT 0,
    image_h     INTEGER NOT NULL DEFAULT 0,
    fetched_at  INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL
) STRICT;
CREATE INDEX link_previews_expires_at ON link_previews (expires_at);

-- +goose Down
DROP TABLE link_previews;
ALTER TABLE messages DROP COLUMN preview;
