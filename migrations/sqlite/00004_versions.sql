-- Change counters for cheap ETags: a screen's data version is read from
-- these instead of fetching and hashing the data. dialogs.version moves
-- with every new message, edit, delete and receipt in the dialog;
-- users.version with every change to a profile.

-- +goose Up
ALTER TABLE dialogs ADD COLUMN version INTEGER NOT NULL DEFAULT 0;
ALTER TABLE users ADD COLUMN version INTEGER NOT NULL DEFAULT 0;

-- +goose Down
ALTER TABLE users DROP COLUMN version;
ALTER TABLE dialogs DROP COLUMN version;
