-- The platform part: content collections defined at run time (their JSON
-- Schema), form submissions, bot API keys, webhooks and their deliveries.

-- +goose Up
CREATE TABLE content_collections (
    name       TEXT    NOT NULL PRIMARY KEY,
    title      TEXT    NOT NULL DEFAULT '',
    json_schema TEXT   NOT NULL CHECK (json_valid(json_schema)),
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
) STRICT, WITHOUT ROWID;

-- +goose Down
DROP TABLE content_collections;
