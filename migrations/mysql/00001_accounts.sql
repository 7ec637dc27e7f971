-- Accounts: users, their sessions, login codes and address books.
-- Identifiers and phones compare byte for byte (utf8mb4_bin) so that MySQL
-- and SQLite agree on equality and order. Times are UTC, DATETIME(6).

-- +goose Up
CREATE TABLE users (
    id           BIGINT       NOT NULL,
    phone        VARCHAR(32)  CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
    first_name   VARCHAR(255) NOT NULL DEFAULT '',
    last_name    VARCHAR(255) NOT NULL DEFAULT '',
    -- lower("first last"), lower-cased in Go (strings.ToLower) so that
    -- Cyrillic folds the same on both dialects; searched with LIKE.
    search_name  VARCHAR(511) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL DEFAULT '',
    avatar       VARCHAR(255) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL DEFAULT '',
    role         VARCHAR(16)  CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL DEFAULT 'user',
    blocked_at   DATETIME(6)  NULL,
    created_at   DATETIME(6)  NOT NULL,
    last_seen_at DATETIME(6)  NULL,
    PRIMARY KEY (id),
    UNIQUE KEY users_phone (phone)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE sessions (
    id                BIGINT         NOT NULL,
    user_id           BIGINT         NOT NULL,
    family            BIGINT         NOT NULL,
    access_hash       VARBINARY(64)  NOT NULL,
    refresh_hash      VARBINARY(64)  NOT NULL,
    device            VARCHAR(255)   NOT NULL DEFAULT '',
    created_at        DATETIME(6)    NOT NULL,
    access_expires_at DATETIME(6)    NOT NULL,
    expires_at        DATETIME(6)    NOT NULL,
    rotated_at        DATETIME(6)    NULL,
    revoked_at        DATETIME(6)    NULL,
    PRIMARY KEY (id),
    UNIQUE KEY sessions_access_hash (access_hash),
    UNIQUE KEY sessions_refresh_hash (refresh_hash),
    KEY sessions_family (family),
    KEY sessions_user_id (user_id),
    CONSTRAINT sessions_user_id_fk FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE otp_codes (
    phone      VARCHAR(32)   CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
    hash       VARBINARY(64) NOT NULL,
    salt       VARBINARY(64) NOT NULL,
    attempts   INT           NOT NULL DEFAULT 0,
    created_at DATETIME(6)   NOT NULL,
    expires_at DATETIME(6)   NOT NULL,
    PRIMARY KEY (phone)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- Address books are kept by phone, not by user id, so that a number which
-- registers later shows up in its owners' contacts without a rewrite.
CREATE TABLE contacts (
    owner_id   BIGINT      NOT NULL,
    phone      VARCHAR(32) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
    created_at DATETIME(6) NOT NULL,
    PRIMARY KEY (owner_id, phone),
    KEY contacts_phone (phone),
    CONSTRAINT contacts_owner_id_fk FOREIGN KEY (owner_id) REFERENCES users (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- +goose Down
DROP TABLE contacts;
DROP TABLE otp_codes;
DROP TABLE sessions;
DROP TABLE users;
