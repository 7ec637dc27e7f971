-- The platform part: content collections defined at run time (their JSON
-- Schema), form submissions, bot API keys, webhooks and their deliveries.

-- +goose Up
CREATE TABLE content_collections (
    name        TEXT    NOT NULL PRIMARY KEY,
    title       TEXT    NOT NULL DEFAULT '',
    json_schema TEXT    NOT NULL CHECK (json_valid(json_schema)),
    form        INTEGER NOT NULL DEFAULT 0 CHECK (form IN (0, 1)),
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
) STRICT, WITHOUT ROWID;

CREATE TABLE form_submissions (
    id         INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    collection TEXT    NOT NULL,
    author_id  INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    data       TEXT    NOT NULL CHECK (json_valid(data)),
    dialog_id  INTEGER NOT NULL,
    created_at INTEGER NOT NULL
) STRICT;
CREATE INDEX form_submissions_collection ON form_submissions (collection, id);
CREATE INDEX form_submissions_author ON form_submissions (author_id, id);

CREATE TABLE api_keys (
    id           INTEGER NOT NULL PRIMARY KEY,
    name         TEXT    NOT NULL,
    prefix       TEXT    NOT NULL,
    hash         BLOB    NOT NULL,
    created_by   INTEGER NOT NULL,
    created_at   INTEGER NOT NULL,
    revoked_at   INTEGER NULL
) STRICT;
CREATE UNIQUE INDEX api_keys_hash ON api_keys (hash);

CREATE TABLE webhooks (
    id          INTEGER NOT NULL PRIMARY KEY,
    url         TEXT    NOT NULL,
    events      TEXT    NOT NULL CHECK (json_valid(events)),
    secret      TEXT    NOT NULL,
    created_by  INTEGER NOT NULL,
    created_at  INTEGER NOT NULL,
    disabled_at INTEGER NULL
) STRICT;

CREATE TABLE webhook_deliveries (
    id           INTEGER NOT NULL PRIMARY KEY,
    webhook_id   INTEGER NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
    event        TEXT    NOT NULL,
    payload      TEXT    NOT NULL CHECK (json_valid(payload)),
    state        TEXT    NOT NULL,
    attempts     INTEGER NOT NULL DEFAULT 0,
    last_status  INTEGER NOT NULL DEFAULT 0,
    last_error   TEXT    NOT NULL DEFAULT '',
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL
) STRICT;
CREATE INDEX webhook_deliveries_webhook ON webhook_deliveries (webhook_id, id);

-- +goose Down
DROP TABLE webhook_deliveries;
DROP TABLE webhooks;
DROP TABLE api_keys;
DROP TABLE form_submissions;
DROP TABLE content_collections;
