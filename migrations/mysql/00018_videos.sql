-- Videos and the media gallery. A video upload (kind 'video') keeps its
-- duration in milliseconds (0 when it could not be probed); its width and
-- height are the displayed ones. uploads_gallery serves a dialog's media
-- gallery (GET /v1/dialogs/{id}/media): the uploads claimed in a dialog,
-- by kind, newest claim (send) first.

-- +goose Up
ALTER TABLE uploads
    ADD COLUMN duration_ms BIGINT NOT NULL DEFAULT 0,
    ADD KEY uploads_gallery (dialog_id, kind, attached_at, id);

-- +goose Down
ALTER TABLE uploads
    DROP KEY uploads_gallery,
    DROP COLUMN duration_ms;
