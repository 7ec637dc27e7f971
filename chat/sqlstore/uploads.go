package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"slices"
	"time"

	"github.com/korobka/korobka/chat"
)

// ---- uploads ----

const uploadCols = `id, owner_id, kind, media_key, name, size, mime, width, height, created_at, state, dialog_id, client_id, attached_at, duration_ms`

func scanUpload(row interface{ Scan(...any) error }) (chat.Upload, error) {
	var u chat.Upload
	var dialogID sql.NullInt64
	var clientID sql.NullString
	err := row.Scan(&u.ID, &u.OwnerID, &u.Kind, &u.Key, &u.Name, &u.Size, &u.Mime, &u.Width, &u.Height,
		timeCol{&u.CreatedAt}, &u.State, &dialogID, &clientID, timeCol{&u.AttachedAt}, &u.DurationMS)
	u.DialogID, u.ClientID = dialogID.Int64, clientID.String
	return u, err
}

// CreateUpload stores a new upload row; its files are already written.
func (s *Store) CreateUpload(ctx context.Context, u chat.Upload) error {
	state := u.State
	if state == "" {
		state = chat.UploadUnattached
	}
	var dialogID, clientID any
	if u.DialogID != 0 {
		dialogID, clientID = u.DialogID, u.ClientID
	}
	return s.write(ctx, "create upload", func(tx *sql.Tx) error {
		return s.insertUpload(ctx, tx, u, state, dialogID, clientID)
	})
}

func (s *Store) insertUpload(ctx context.Context, tx *sql.Tx, u chat.Upload, state chat.UploadState, dialogID, clientID any) error {
	_, err := tx.ExecContext(ctx,
		`INSERT INTO uploads (`+uploadCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		u.ID, u.OwnerID, u.Kind, u.Key, u.Name, u.Size, u.Mime, u.Width, u.Height, s.ts(u.CreatedAt),
		string(state), dialogID, clientID, s.nullTS(u.AttachedAt), u.DurationMS)
	return err
}

// Upload returns the upload with the id.
func (s *Store) Upload(ctx context.Context, id int64) (chat.Upload, error) {
	u, err := scanUpload(s.r.QueryRowContext(ctx, `SELECT `+uploadCols+` FROM uploads WHERE id = ?`, id))
	if err != nil {
		return chat.Upload{}, s.fail("upload", err)
	}
	return u, nil
}

// ClaimUpload reads the upload under a row lock and claims it when it is
// free, in one transaction, so two sends never both claim one upload.
func (s *Store) ClaimUpload(ctx context.Context, id, owner, dialogID int64, clientID string, now time.Time) (chat.Upload, bool, error) {
	var u chat.Upload
	var ok bool
	err := s.write(ctx, "claim upload", func(tx *sql.Tx) error {
		var err error
		u, err = scanUpload(tx.QueryRowContext(ctx, `SELECT `+uploadCols+` FROM uploads WHERE id = ?`+s.forUpdate(), id))
		if err != nil {
			return err
		}
		if u.OwnerID != owner {
			return chat.ErrNotFound
		}
		switch {
		case u.State == chat.UploadUnattached:
			now = now.UTC().Truncate(time.Microsecond)
			if _, err := tx.ExecContext(ctx,
				`UPDATE uploads SET state = ?, dialog_id = ?, client_id = ?, attached_at = ? WHERE id = ?`,
				string(chat.UploadAttaching), dialogID, clientID, s.ts(now), id); err != nil {
				return err
			}
			u.State, u.DialogID, u.ClientID, u.AttachedAt = chat.UploadAttaching, dialogID, clientID, now
			ok = true
		case u.State != chat.UploadDeleted && u.DialogID == dialogID && u.ClientID == clientID:
			ok = true // the same message, sent again
		default:
			ok = false
		}
		return nil
	})
	if err != nil {
		return chat.Upload{}, false, err
	}
	return u, ok, nil
}

// ExpireUploads settles the claims older than cutoff against their
// messages, then marks the unattached uploads older than cutoff deleted,
// at most limit rows of each, in one transaction.
func (s *Store) ExpireUploads(ctx context.Context, cutoff time.Time, limit int) (int, error) {
	if limit <= 0 {
		return 0, nil
	}
	var looked int
	err := s.write(ctx, "expire uploads", func(tx *sql.Tx) error {
		looked = 0
		rows, err := tx.QueryContext(ctx,
			`SELECT `+uploadCols+` FROM uploads WHERE state = ? AND attached_at < ? ORDER BY created_at LIMIT ?`+s.forUpdate(),
			string(chat.UploadAttaching), s.ts(cutoff), limit)
		claims, err := collect(rows, err, scanUpload)
		if err != nil {
			return err
		}
		var attached, deleted []int64
		for _, u := range claims {
			lists, err := s.messageLists(ctx, tx, u)
			if err != nil {
				return err
			}
			if lists {
				attached = append(attached, u.ID)
			} else {
				deleted = append(deleted, u.ID)
			}
		}
		rows, err = tx.QueryContext(ctx,
			`SELECT id FROM uploads WHERE state = ? AND created_at < ? ORDER BY created_at LIMIT ?`+s.forUpdate(),
			string(chat.UploadUnattached), s.ts(cutoff), limit)
		stale, err := collect(rows, err, scanID)
		if err != nil {
			return err
		}
		deleted = append(deleted, stale...)
		if err := s.setUploadState(ctx, tx, attached, chat.UploadAttached); err != nil {
			return err
		}
		if err := s.setUploadState(ctx, tx, deleted, chat.UploadDeleted); err != nil {
			return err
		}
		looked = max(len(claims), len(stale))
		return nil
	})
	return looked, err
}

// messageLists reports whether the message that claimed u exists, is not
// deleted and lists u among its attachments.
func (s *Store) messageLists(ctx context.Context, tx *sql.Tx, u chat.Upload) (bool, error) {
	var att []byte
	var deletedAt time.Time
	err := tx.QueryRowContext(ctx,
		`SELECT attachments, deleted_at FROM messages WHERE sender_id = ? AND client_id = ? AND dialog_id = ?`,
		u.OwnerID, u.ClientID, u.DialogID).Scan(&att, timeCol{&deletedAt})
	if err == sql.ErrNoRows {
		return false, nil
	}
	if err != nil || !deletedAt.IsZero() {
		return false, err
	}
	return indexOfUpload(att, u.ID) >= 0, nil
}

// indexOfUpload returns where a message's attachments JSON lists the
// upload id, or -1.
func indexOfUpload(att []byte, id int64) int {
	var list []struct {
		ID string `json:"id"`
	}
	if len(att) == 0 || json.Unmarshal(att, &list) != nil {
		return -1
	}
	return slices.IndexFunc(list, func(a struct {
		ID string `json:"id"`
	}) bool {
		return a.ID == chat.FormatID(id)
	})
}

func scanID(row interface{ Scan(...any) error }) (int64, error) {
	var id int64
	err := row.Scan(&id)
	return id, err
}

func (s *Store) setUploadState(ctx context.Context, tx *sql.Tx, ids []int64, state chat.UploadState) error {
	for chunk := range slices.Chunk(ids, commitChunk) {
		args := make([]any, 0, len(chunk)+1)
		args = append(args, string(state))
		for _, id := range chunk {
			args = append(args, id)
		}
		if _, err := tx.ExecContext(ctx, `UPDATE uploads SET state = ? WHERE id IN (`+placeholders(len(chunk))+`)`, args...); err != nil {
			return err
		}
	}
	return nil
}

// DeletedUploads reads uploads in state deleted.
func (s *Store) DeletedUploads(ctx context.Context, ids []int64, limit int) ([]chat.Upload, error) {
	if limit <= 0 || ids != nil && len(ids) == 0 {
		return []chat.Upload{}, nil
	}
	q := `SELECT ` + uploadCols + ` FROM uploads WHERE state = ?`
	args := []any{string(chat.UploadDeleted)}
	if ids != nil {
		ids = ids[:min(len(ids), commitChunk)]
		q += ` AND id IN (` + placeholders(len(ids)) + `)`
		for _, id := range ids {
			args = append(args, id)
		}
	}
	rows, err := s.r.QueryContext(ctx, q+` ORDER BY created_at LIMIT ?`, append(args, limit)...)
	ups, err := collect(rows, err, scanUpload)
	if err != nil {
		return nil, s.fail("deleted uploads", err)
	}
	return ups, nil
}

// PurgeUploads removes rows of deleted uploads.
func (s *Store) PurgeUploads(ctx context.Context, ids []int64) error {
	if len(ids) == 0 {
		return nil
	}
	return s.write(ctx, "purge uploads", func(tx *sql.Tx) error {
		for chunk := range slices.Chunk(ids, commitChunk) {
			args := make([]any, 0, len(chunk)+1)
			args = append(args, string(chat.UploadDeleted))
			for _, id := range chunk {
				args = append(args, id)
			}
			if _, err := tx.ExecContext(ctx, `DELETE FROM uploads WHERE state = ? AND id IN (`+placeholders(len(chunk))+`)`, args...); err != nil {
				return err
			}
		}
		return nil
	})
}

// releaseUploads moves the uploads a message claimed to deleted, inside
// the transaction that deletes the message.
func (s *Store) releaseUploads(ctx context.Context, tx *sql.Tx, m chat.Message) error {
	_, err := tx.ExecContext(ctx,
		`UPDATE uploads SET state = ? WHERE dialog_id = ? AND owner_id = ? AND client_id = ? AND state IN (?, ?)`,
		string(chat.UploadDeleted), m.DialogID, m.SenderID, m.ClientID, string(chat.UploadAttaching), string(chat.UploadAttached))
	return err
}

// DialogMedia reads the gallery along uploads_gallery (dialog_id, kind,
// attached_at, id), joining each upload to its claiming message through
// (sender_id, client_id) and keeping those whose message exists and is not
// deleted; Listed says whether the message lists the upload.
func (s *Store) DialogMedia(ctx context.Context, dialogID int64, kind string, after chat.DialogCursor, limit int) ([]chat.MediaEntry, error) {
	if limit <= 0 {
		return []chat.MediaEntry{}, nil
	}
	q := `SELECT u.id, u.owner_id, u.kind, u.media_key, u.name, u.size, u.mime, u.width, u.height, u.created_at,
		u.state, u.dialog_id, u.client_id, u.attached_at, u.duration_ms, m.seq, m.created_at, m.attachments
	FROM uploads u JOIN messages m ON m.sender_id = u.owner_id AND m.client_id = u.client_id AND m.dialog_id = u.dialog_id
	WHERE u.dialog_id = ? AND u.kind = ? AND u.state IN (?, ?) AND m.deleted_at IS NULL`
	args := []any{dialogID, kind, string(chat.UploadAttaching), string(chat.UploadAttached)}
	if after.ID != 0 {
		q += ` AND (u.attached_at < ? OR u.attached_at = ? AND u.id < ?)`
		args = append(args, s.ts(after.UpdatedAt), s.ts(after.UpdatedAt), after.ID)
	}
	q += ` ORDER BY u.attached_at DESC, u.id DESC LIMIT ?`
	args = append(args, limit)
	rows, err := s.r.QueryContext(ctx, q, args...)
	out, err := collect(rows, err, func(row interface{ Scan(...any) error }) (chat.MediaEntry, error) {
		var e chat.MediaEntry
		var dID sql.NullInt64
		var cID sql.NullString
		var att []byte
		err := row.Scan(&e.Upload.ID, &e.Upload.OwnerID, &e.Upload.Kind, &e.Upload.Key, &e.Upload.Name, &e.Upload.Size,
			&e.Upload.Mime, &e.Upload.Width, &e.Upload.Height, timeCol{&e.Upload.CreatedAt}, &e.Upload.State, &dID, &cID,
			timeCol{&e.Upload.AttachedAt}, &e.Upload.DurationMS, &e.Seq, timeCol{&e.CreatedAt}, &att)
		e.Upload.DialogID, e.Upload.ClientID, e.SenderID = dID.Int64, cID.String, e.Upload.OwnerID
		if err == nil {
			e.Index = indexOfUpload(att, e.Upload.ID)
			e.Listed = e.Index >= 0
		}
		return e, err
	})
	if err != nil {
		return nil, s.fail("dialog media", err)
	}
	return out, nil
}
