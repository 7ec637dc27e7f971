-- Chat: dialogs, their members and their messages.
-- Receipts are watermarks on members (delivered_seq, read_seq), never rows
-- per message. A message is identified by (dialog_id, seq): the primary key
-- is the clustered index, so history reads walk one dialog's rows in order.
-- (sender_id, client_id) is the sender's idempotency key.

-- +goose Up
CREATE TABLE dialogs (
    id              BIGINT       NOT NULL AUTO_INCREMENT,
    kind            VARCHAR(16)  CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
    title           VARCHAR(255) NOT NULL DEFAULT '',
    avatar          VARCHAR(255) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL DEFAULT '',
    subject         VARCHAR(255) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL DEFAULT '',
    created_by      BIGINT       NOT NULL,
    -- "<min user id>:<max user id>:<subject>" for direct dialogs, NULL for
    -- groups: the unique key that makes get-or-create race-safe.
    direct_key      VARCHAR(300) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NULL,
    last_seq        BIGINT       NOT NULL DEFAULT 0,
    last_message_at DATETIME(6)  NULL,
    created_at      DATETIME(6)  NOT NULL,
    -- max(created_at, last_message_at): the dialog list's sort key.
    updated_at      DATETIME(6)  NOT NULL,
    PRIMARY KEY (id),
    UNIQUE KEY dialogs_direct_key (direct_key),
    KEY dialogs_created_by (created_by),
    CONSTRAINT dialogs_created_by_fk FOREIGN KEY (created_by) REFERENCES users (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE members (
    dialog_id     BIGINT      NOT NULL,
    user_id       BIGINT      NOT NULL,
    delivered_seq BIGINT      NOT NULL DEFAULT 0,
    read_seq      BIGINT      NOT NULL DEFAULT 0,
    joined_at     DATETIME(6) NOT NULL,
    PRIMARY KEY (dialog_id, user_id),
    KEY members_user_id (user_id, dialog_id),
    CONSTRAINT members_dialog_id_fk FOREIGN KEY (dialog_id) REFERENCES dialogs (id) ON DELETE CASCADE,
    CONSTRAINT members_user_id_fk FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- A sender's messages are not deleted with the sender (no cascade): that
-- would leave holes in other people's histories.
CREATE TABLE messages (
    dialog_id   BIGINT      NOT NULL,
    seq         BIGINT      NOT NULL,
    sender_id   BIGINT      NOT NULL,
    client_id   VARCHAR(64) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
    text        TEXT        NOT NULL,
    attachments JSON        NULL,
    created_at  DATETIME(6) NOT NULL,
    edited_at   DATETIME(6) NULL,
    deleted_at  DATETIME(6) NULL,
    PRIMARY KEY (dialog_id, seq),
    UNIQUE KEY messages_sender_client (sender_id, client_id),
    CONSTRAINT messages_dialog_id_fk FOREIGN KEY (dialog_id) REFERENCES dialogs (id) ON DELETE CASCADE,
    CONSTRAINT messages_sender_id_fk FOREIGN KEY (sender_id) REFERENCES users (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- +goose Down
DROP TABLE messages;
DROP TABLE members;
DROP TABLE dialogs;
