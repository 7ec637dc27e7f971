-- Link previews: the preview a message's first URL got (messages.preview,
-- JSON with the image's media key, never a URL), and the cache of what
-- each URL's page showed, so a link posted many times is fetched once per
-- expiry. url_hash is the SHA-256 of the URL (hex); image_key names the
-- cache's own re-encoded image files (each message gets its copy, an
-- upload row of the message). found = 0 caches a page without a preview.

-- +goose Up
ALTER TABLE messages ADD COLUMN preview JSON NULL;
CREATE TABLE link_previews (
    url_hash    CHAR(64)      CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    url         VARCHAR(2048) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
    found       BOOLEAN       NOT NULL,
    site_name   VARCHAR(512)  NOT NULL DEFAULT '',
    title       VARCHAR(1024) NOT NULL DEFAULT '',
    description TEXT          NOT NULL,
    image_key   VARCHAR(64)   CHARACTER SET ascii COLLATE ascii_bin NOT NULL DEFAULT '',
    image_size  BIGINT        NOT NULL DEFAULT 0,
    image_w     INT           NOT NULL DEFAULT 0,
    image_h     INT           NOT NULL DEFAULT 0,
    fetched_at  DATETIME(6)   NOT NULL,
    expires_at  DATETIME(6)   NOT NULL,
    PRIMARY KEY (url_hash),
    KEY link_previews_expires_at (expires_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- +goose Down
DROP TABLE link_previews;
ALTER TABLE messages DROP COLUMN preview;
