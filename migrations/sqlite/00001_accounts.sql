-- Accounts: users, their sessions, login codes and address books.
-- STRICT tables so that a wrong type is an error, as it is on MySQL. Times
-- are INTEGER unix microseconds, UTC: the same precision as MySQL's
-- DATETIME(6), compared and ordered as plain integers.

-- +goose Up
CREATE TABLE users (
    id           INTEGER NOT NULL PRIMARY KEY,
    phone        TEXT    NOT NULL,
    first_name   TEXT    NOT NULL DEFAULT '',
    last_name    TEXT    NOT NULL DEFAULT '',
    -- lower("first last"), lower-cased in Go (strings.ToLower): SQLite's
    -- lower() and LIKE fold ASCII only, so Cyrillic is folded before storing.
    search_name  TEXT    NOT NULL DEFAULT '',
    avatar       TEXT    NOT NULL DEFAULT '',
    role         TEXT    NOT NULL DEFAULT 'user',
    blocked_at   INTEGER NULL,
    created_at   INTEGER NOT NULL,
    last_seen_at INTEGER NULL
) STRICT;
CREATE UNIQUE INDEX users_phone ON users (phone);

CREATE TABLE sessions (
    id                INTEGER NOT NULL PRIMARY KEY,
    user_id           INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    family            INTEGER NOT NULL,
    access_hash       BLOB    NOT NULL,
    refresh_hash      BLOB    NOT NULL,
    device            TEXT    NOT NULL DEFAULT '',
    created_at        INTEGER NOT NULL,
    access_expires_at INTEGER NOT NULL,
    expires_at        INTEGER NOT NULL,
    rotated_at        INTEGER NULL,
    revoked_at        INTEGER NULL
) STRICT;
CREATE UNIQUE INDEX sessions_access_hash ON sessions (access_hash);
CREATE UNIQUE INDEX sessions_refresh_hash ON sessions (refresh_hash);
CREATE INDEX sessions_family ON sessions (family);
CREATE INDEX sessions_user_id ON sessions (user_id);

CREATE TABLE otp_codes (
    phone      TEXT    NOT NULL PRIMARY KEY,
    hash       BLOB    NOT NULL,
    salt       BLOB    NOT NULL,
    attempts   INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
) STRICT, WITHOUT ROWID;

-- Address books are kept by phone, not by user id, so that a number which
-- registers later shows up in its owners' contacts without a rewrite.
CREATE TABLE contacts (
    owner_id   INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    phone      TEXT    NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (owner_id, phone)
) STRICT, WITHOUT ROWID;
CREATE INDEX contacts_phone ON contacts (phone);

-- +goose Down
DROP TABLE contacts;
DROP TABLE otp_codes;
DROP TABLE sessions;
DROP TABLE users;
