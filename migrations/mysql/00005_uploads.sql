-- Uploads: images and files a user may attach to their messages. The files
-- live in the media folder under key; name is the cleaned display name the
-- client gave. Messages copy the attachment objects, so history needs no
-- join with this table.

-- +goose Up
CREATE TABLE uploads (
    id         BIGINT        NOT NULL,
    owner_id   BIGINT        NOT NULL,
    kind       VARCHAR(16)   CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
    media_key  VARCHAR(255)  CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
    name       VARCHAR(255)  NOT NULL DEFAULT '',
    size       BIGINT        NOT NULL,
    mime       VARCHAR(255)  CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
    width      INT           NOT NULL DEFAULT 0,
    height     INT           NOT NULL DEFAULT 0,
    created_at DATETIME(6)   NOT NULL,
    PRIMARY KEY (id),
    UNIQUE KEY uploads_media_key (media_key),
    KEY uploads_owner_id (owner_id, created_at),
    CONSTRAINT uploads_owner_id_fk FOREIGN KEY (owner_id) REFERENCES users (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- +goose Down
DROP TABLE uploads;
