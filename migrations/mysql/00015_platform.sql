-- The platform part: content collections defined at run time (their JSON
-- Schema), form submissions, bot API keys, webhooks and their deliveries.

-- +goose Up
CREATE TABLE content_collections (
    name        VARCHAR(64)  CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
    title       VARCHAR(255) NOT NULL DEFAULT '',
    json_schema JSON         NOT NULL,
    form        BOOLEAN      NOT NULL DEFAULT FALSE,
    created_at  DATETIME(6)  NOT NULL,
    updated_at  DATETIME(6)  NOT NULL,
    PRIMARY KEY (name)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE form_submissions (
    id         BIGINT       NOT NULL AUTO_INCREMENT,
    collection VARCHAR(64)  CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
    author_id  BIGINT       NOT NULL,
    data       JSON         NOT NULL,
    dialog_id  BIGINT       NOT NULL,
    created_at DATETIME(6)  NOT NULL,
    PRIMARY KEY (id),
    KEY form_submissions_collection (collection, id),
    KEY form_submissions_author (author_id, id),
    CONSTRAINT form_submissions_author_fk FOREIGN KEY (author_id) REFERENCES users (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE api_keys (
    id           BIGINT        NOT NULL,
    name         VARCHAR(255)  NOT NULL,
    prefix       VARCHAR(32)   CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    hash         VARBINARY(32) NOT NULL,
    created_by   BIGINT        NOT NULL,
    created_at   DATETIME(6)   NOT NULL,
    revoked_at   DATETIME(6)   NULL,
    PRIMARY KEY (id),
    UNIQUE KEY api_keys_hash (hash)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE webhooks (
    id          BIGINT        NOT NULL,
    url         VARCHAR(2048) NOT NULL,
    events      JSON          NOT NULL,
    secret      VARCHAR(128)  CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    created_by  BIGINT        NOT NULL,
    created_at  DATETIME(6)   NOT NULL,
    disabled_at DATETIME(6)   NULL,
    PRIMARY KEY (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE webhook_deliveries (
    id          BIGINT       NOT NULL,
    webhook_id  BIGINT       NOT NULL,
    event       VARCHAR(64)  CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    payload     JSON         NOT NULL,
    state       VARCHAR(16)  CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    attempts    INT          NOT NULL DEFAULT 0,
    last_status INT          NOT NULL DEFAULT 0,
    last_error  VARCHAR(512) NOT NULL DEFAULT '',
    created_at  DATETIME(6)  NOT NULL,
    updated_at  DATETIME(6)  NOT NULL,
    PRIMARY KEY (id),
    KEY webhook_deliveries_webhook (webhook_id, id),
    CONSTRAINT webhook_deliveries_webhook_fk FOREIGN KEY (webhook_id) REFERENCES webhooks (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- +goose Down
DROP TABLE webhook_deliveries;
DROP TABLE webhooks;
DROP TABLE api_keys;
DROP TABLE form_submissions;
DROP TABLE content_collections;
