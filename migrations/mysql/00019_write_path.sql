-- Write path (issue 15). On SQLite this migration swaps the idempotency
-- key to (dialog_id, sender_id, client_id) and drops messages_dialog_sender,
-- one index fewer per message. MySQL keeps its indexes: InnoDB needs an
-- index led by sender_id for messages_sender_id_fk, which the unique key
-- (sender_id, dialog_id, client_id) provides, so the swap would trade
-- messages_dialog_sender for a (sender_id) index and save nothing. The
-- number is taken here so both dialects stay at the same version.

-- +goose Up
DO 0;

-- +goose Down
DO 0;
