-- Text and time (docs/api.md, "Text" and "Time zones").
-- users.time_zone: the IANA zone a shell of the user last sent
-- (X-Korobka-TZ or a watch's tz), "" when none did; push notifications
-- format times in it.
-- backfills: which version of a Go-computed column the rows hold. A
-- migration cannot run Go, so the store recomputes such columns at start
-- when the version here is older than the code's (users.search_name:
-- chat.SearchKeyVersion, NFC and full case folding since version 2).

-- +goose Up
ALTER TABLE users ADD COLUMN time_zone TEXT NOT NULL DEFAULT '';
CREATE TABLE backfills (
    name    TEXT    NOT NULL PRIMARY KEY,
    version INTEGER NOT NULL
) STRICT, WITHOUT ROWID;

-- +goose Down
DROP TABLE backfills;
ALTER TABLE users DROP COLUMN time_zone;
