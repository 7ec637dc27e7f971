-- Push notifications: the devices that receive them, and per member the
-- mute and the highest seq a push alert went out for.
--
-- A device is one push token of one app install, registered by a session
-- family: it ends with that session (logout, revocation) and moves to the
-- latest user who registers the same token. The token is stored as it must
-- be to send (APNs and FCM want it verbatim) and looked up by its SHA-256,
-- so tokens of any length share one fixed-size unique key.
--
-- members.muted_until: NULL while not muted; 9999-12-31T23:59:59Z means
-- until unmuted. members.pushed_seq: the highest seq a push alert was sent
-- for since the member last read past it (0: none shown), so that a read on
-- another device sends one silent push that clears them, not one per read.

-- +goose Up
CREATE TABLE devices (
    id         INTEGER NOT NULL PRIMARY KEY,
    user_id    INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    family     INTEGER NOT NULL,
    platform   TEXT    NOT NULL,
    token      TEXT    NOT NULL,
    token_hash BLOB    NOT NULL,
    app_id     TEXT    NOT NULL DEFAULT '',
    locale     TEXT    NOT NULL DEFAULT '',
    time_zone  TEXT    NOT NULL DEFAULT '',
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
) STRICT;
CREATE UNIQUE INDEX devices_token_hash ON devices (token_hash);
CREATE INDEX devices_user_id ON devices (user_id, updated_at);
CREATE INDEX devices_family ON devices (family);

ALTER TABLE members ADD COLUMN muted_until INTEGER NULL;
ALTER TABLE members ADD COLUMN pushed_seq INTEGER NOT NULL DEFAULT 0;

-- +goose Down
ALTER TABLE members DROP COLUMN pushed_seq;
ALTER TABLE members DROP COLUMN muted_until;
DROP TABLE devices;
