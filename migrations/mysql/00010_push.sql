-- Push notifications: the devices that receive them, and per member the
-- mute and the highest seq a push alert went out for.
--
-- A device is one push token of one app install, registered by a session
-- family: it ends with that session (logout, revocation) and moves to the
-- latest user who registers the same token. The token is stored as it must
-- be to send (APNs and FCM want it verbatim) and looked up by its SHA-256,
-- so tokens of any length share one fixed-size unique key.
--
-- members.muted_until: NULL while not muted; 9999-12-31 23:59:59 means
-- until unmuted. members.pushed_seq: the highest seq a push alert was sent
-- for since the member last read past it (0: none shown), so that a read on
-- another device sends one silent push that clears them, not one per read.

-- +goose Up
CREATE TABLE devices (
    id         BIGINT        NOT NULL,
    user_id    BIGINT        NOT NULL,
    family     BIGINT        NOT NULL,
    platform   VARCHAR(8)    CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
    token      VARCHAR(4096) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    token_hash BINARY(32)    NOT NULL,
    app_id     VARCHAR(255)  CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL DEFAULT '',
    locale     VARCHAR(35)   CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL DEFAULT '',
    time_zone  VARCHAR(64)   CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL DEFAULT '',
    created_at DATETIME(6)   NOT NULL,
    updated_at DATETIME(6)   NOT NULL,
    PRIMARY KEY (id),
    UNIQUE KEY devices_token_hash (token_hash),
    KEY devices_user_id (user_id, updated_at),
    KEY devices_family (family),
    CONSTRAINT devices_user_id_fk FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

ALTER TABLE members
    ADD COLUMN muted_until DATETIME(6) NULL,
    ADD COLUMN pushed_seq  BIGINT      NOT NULL DEFAULT 0;

-- +goose Down
ALTER TABLE members DROP COLUMN pushed_seq, DROP COLUMN muted_until;
DROP TABLE devices;
