-- Text and time (docs/api.md, "Text" and "Time zones").
-- users.time_zone: the IANA zone a shell of the user last sent
-- (X-Korobka-TZ or a watch's tz), "" when none did; push notifications
-- format times in it.
-- users.search_name grows: full case folding may triple a name's code
-- points (U+0390 folds to three), and names are up to 255 code points each.
-- backfills: which version of a Go-computed column the rows hold. A
-- migration cannot run Go, so the store recomputes such columns at start
-- when the version here is older than the code's (users.search_name:
-- chat.SearchKeyVersion, NFC and full case folding since version 2).

-- +goose Up
ALTER TABLE users
    ADD COLUMN time_zone VARCHAR(64) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL DEFAULT '',
    MODIFY search_name VARCHAR(1536) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL DEFAULT '';
CREATE TABLE backfills (
    name    VARCHAR(64) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
    version INT         NOT NULL,
    PRIMARY KEY (name)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- +goose Down
DROP TABLE backfills;
ALTER TABLE users
    DROP COLUMN time_zone,
    MODIFY search_name VARCHAR(511) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL DEFAULT '';
