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
    day     INT    NOT NULL,
    user_id BIGINT NOT NULL,
    PRIMARY KEY (day, user_id)
) ENGINE=InnoDB;

CREATE TABLE daily_counts (
    day     INT          NOT NULL,
    counter VARCHAR(32)  CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    node    VARCHAR(128) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    value   BIGINT       NOT NULL DEFAULT 0,
    PRIMARY KEY (day, counter, node)
) ENGINE=InnoDB;

CREATE TABLE broadcasts (
    id          BIGINT       NOT NULL AUTO_INCREMENT,
    created_by  BIGINT       NOT NULL,
    created_at  DATETIME(6)  NOT NULL,
    text        TEXT         NOT NULL,
    segment     JSON         NOT NULL,
    status      VARCHAR(16)  CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    sent        BIGINT       NOT NULL DEFAULT 0,
    batches     BIGINT       NOT NULL DEFAULT 0,
    cursor_at   DATETIME(6)  NULL,
    cursor_id   BIGINT       NOT NULL DEFAULT 0,
    finished_at DATETIME(6)  NULL,
    PRIMARY KEY (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE screen_versions (
    id         BIGINT       NOT NULL AUTO_INCREMENT,
    name       VARCHAR(64)  CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    source     MEDIUMTEXT   NOT NULL,
    created_by BIGINT       NOT NULL,
    created_at DATETIME(6)  NOT NULL,
    retired_at DATETIME(6)  NULL,
    PRIMARY KEY (id),
    KEY screen_versions_name (name, id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- +goose Down
DROP TABLE screen_versions;
DROP TABLE broadcasts;
DROP TABLE daily_counts;
DROP TABLE user_days;
DROP INDEX users_created ON users;
