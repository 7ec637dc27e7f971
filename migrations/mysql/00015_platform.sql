-- The platform part: content collections defined at run time (their JSON
-- Schema), form submissions, bot API keys, webhooks and their deliveries.

-- +goose Up
CREATE TABLE content_collections (
    name       VARCHAR(64)  CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
    title      VARCHAR(200) NOT NULL DEFAULT '',
    json_schema JSON        NOT NULL,
    created_at DATETIME(6)  NOT NULL,
    updated_at DATETIME(6)  NOT NULL,
    PRIMARY KEY (name)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- +goose Down
DROP TABLE content_collections;
