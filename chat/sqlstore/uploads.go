package sqlstore

import (
	"context"
	"database/sql"

	"github.com/korobka/korobka/chat"
)

// ---- uploads ----

const uploadCols = `id, owner_id, kind, media_key, name, size, mime, width, height, created_at`

// CreateUpload stores a new upload row; its files are already written.
func (s *Store) CreateUpload(ctx context.Context, u chat.Upload) error {
	return s.write(ctx, "create upload", func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx,
			`INSERT INTO uploads (`+uploadCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			u.ID, u.OwnerID, u.Kind, u.Key, u.Name, u.Size, u.Mime, u.Width, u.Height, s.ts(u.CreatedAt))
		return err
	})
}

// Upload returns the upload with the id.
func (s *Store) Upload(ctx context.Context, id int64) (chat.Upload, error) {
	var u chat.Upload
	err := s.r.QueryRowContext(ctx, `SELECT `+uploadCols+` FROM uploads WHERE id = ?`, id).Scan(
		&u.ID, &u.OwnerID, &u.Kind, &u.Key, &u.Name, &u.Size, &u.Mime, &u.Width, &u.Height, timeCol{&u.CreatedAt})
	if err != nil {
		return chat.Upload{}, s.fail("upload", err)
	}
	return u, nil
}
