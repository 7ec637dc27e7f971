-- Content collections: admin-edited JSON documents bound to screens.

-- +goose Up
CREATE TABLE content (
    collection VARCHAR(64)  CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
    id         VARCHAR(128) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
    position   INT          NOT NULL DEFAULT 0,
    published  BOOLEAN      NOT NULL DEFAULT FALSE,
    data       JSON         NOT NULL,
    updated_at DATETIME(6)  NOT NULL,
    PRIMARY KEY (collection, id),
    KEY content_collection_position (collection, position)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- +goose Down
DROP TABLE content;
