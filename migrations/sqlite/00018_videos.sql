-- Videos and the media gallery. A video upload (kind 'video') keeps its
-- duration in milliseconds (0 when it could not be probed); its width and
-- height are the displayed ones. uploads_gallery serves a dialog's media
-- gallery (GET /v1/dialogs/{id}/media): the uploads claimed in a dialog,
-- by kind, newest claim (send) first.

-- +goose Up
ALTER TABLE uploads ADD COLUMN duration_ms INTEGER NOT NULL DEFAULT 0;
CREATE INDEX uploads_gallery ON uploads (dialog_id, kind, attached_at, id);

-- +goose Down
DROP INDEX uploads_gallery;
ALTER TABLE uploads DROP COLUMN duration_ms;
