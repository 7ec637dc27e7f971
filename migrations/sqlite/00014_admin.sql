-- The admin core: the orders the admin lists page in, the daily figures
-- of the stats, broadcasts and their progress, and uploaded screen
-- versions.
--
-- user_days: one row per user and UTC day (yyyymmdd) on which the user
-- made an authenticated request: the daily actives. Each node writes a
-- user's row once a day.
-- daily_counts: per UTC day, counter (messages, pushes) and node, what
-- that node counted; the day's figure is the sum over nodes. Nodes add
-- their own rows only, so no two nodes contend for one row.
-- broadcasts: a system message to a segment of users; cursor_at and
-- cursor_id are the (created_at, id) of the last user a batch reached.
-- screen_versions: screens uploaded through the admin API. The live
-- version of a screen is its newest row that is not retired; with none,
-- the screen the server was started with serves. A rollback retires the
-- newest row.

-- +goose Up
CREATE INDEX users_created ON users (created_at, id);

CREATE TABLE user_days (
    day     INTEGER NOT NULL,
    user_id INTEGER NOT NULL,
    PRIMARY KEY (day, user_id)
) STRICT, WITHOUT ROWID;

CREATE TABLE daily_counts (
    day     INTEGER NOT NULL,
    counter TEXT    NOT NULL,
    node    TEXT    NOT NULL,
    value   INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (day, counter, node)
) STRICT, WITHOUT ROWID;

CREATE TABLE broadcasts (
    id               INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    created_by       INTEGER NOT NULL,
    created_at       INTEGER NOT NULL,
    text             TEXT    NOT NULL,
    segment          TEXT    NOT NULL,
    status           TEXT    NOT NULL,
    sent             INTEGER NOT NULL DEFAULT 0,
    batches          INTEGER NOT NULL DEFAULT 0,
    cursor_at        INTEGER NULL,
    cursor_id        INTEGER NOT NULL DEFAULT 0,
    finished_at      INTEGER NULL
) STRICT;

CREATE TABLE screen_versions (
    id         INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    name       TEXT    NOT NULL,
    source     TEXT    NOT NULL,
    created_by INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    retired_at INTEGER NULL
) STRICT;
CREATE INDEX screen_versions_name ON screen_versions (name, id);

-- +goose Down
DROP TABLE screen_versions;
DROP TABLE broadcasts;
DROP TABLE daily_counts;
DROP TABLE user_days;
DROP INDEX users_created;
