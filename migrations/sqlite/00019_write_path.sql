-- Write path (issue 15): one index fewer for every message inserted.
-- The idempotency key (sender_id, dialog_id, client_id) becomes
-- (dialog_id, sender_id, client_id): the same columns, so the same rows
-- are unique and existing data cannot fail the new index, and it leads
-- with the dialog like the clustered key. Its prefix then serves what
-- messages_dialog_sender (00006) served, "both wrote in this dialog"
-- (accounts.go), so that index goes: each insert updates the table and
-- one index instead of two. No query looks messages up by sender alone
-- (the sender's foreign key needs no index on SQLite unless users are
-- deleted, and they are not).

-- +goose Up
CREATE UNIQUE INDEX messages_dialog_sender_client ON messages (dialog_id, sender_id, client_id);
DROP INDEX messages_sender_dialog_client;
DROP INDEX messages_dialog_sender;

-- +goose Down
CREATE INDEX messages_dialog_sender ON messages (dialog_id, sender_id);
CREATE UNIQUE INDEX messages_sender_dialog_client ON messages (sender_id, dialog_id, client_id);
DROP INDEX messages_dialog_sender_client;
