package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/korobka/korobka/chat"
)

const screenVersionCols = `id, name, source, created_by, created_at`

func scanScreenVersion(r interface{ Scan(...any) error }) (chat.ScreenVersion, error) {
	var v chat.ScreenVersion
	var src string
	err := r.Scan(&v.ID, &v.Name, &src, &v.CreatedBy, timeCol{&v.CreatedAt})
	v.Source = []byte(src)
	return v, err
}

// AddScreenVersion inserts a version.
func (s *Store) AddScreenVersion(ctx context.Context, v chat.ScreenVersion) (chat.ScreenVersion, error) {
	err := s.write(ctx, "add screen version", func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx,
			`INSERT INTO screen_versions (name, source, created_by, created_at) VALUES (?, ?, ?, ?)`,
			v.Name, string(v.Source), v.CreatedBy, s.ts(v.CreatedAt))
		if err != nil {
			return err
		}
		v.ID, err = res.LastInsertId()
		return err
	})
	return v, err
}

// LiveScreenVersions reads, per name, the newest row not retired.
func (s *Store) LiveScreenVersions(ctx context.Context) ([]chat.ScreenVersion, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT `+prefixed("v", screenVersionCols)+` FROM screen_versions v
		WHERE v.retired_at IS NULL AND v.id = (SELECT MAX(w.id) FROM screen_versions w WHERE w.name = v.name AND w.retired_at IS NULL)
		ORDER BY v.name`)
	out, err := collect(rows, err, scanScreenVersion)
	if err != nil {
		return nil, s.fail("live screen versions", err)
	}
	return out, nil
}

// RetireScreenVersion retires the newest live row of the name under a
// row lock, so two rollbacks at once retire two versions, one each.
func (s *Store) RetireScreenVersion(ctx context.Context, name string, at time.Time) (chat.ScreenVersion, error) {
	var v chat.ScreenVersion
	err := s.write(ctx, "retire screen version", func(tx *sql.Tx) error {
		var err error
		v, err = scanScreenVersion(tx.QueryRowContext(ctx, `SELECT `+screenVersionCols+` FROM screen_versions
			WHERE name = ? AND retired_at IS NULL ORDER BY id DESC LIMIT 1`+s.forUpdate(), name))
		if errors.Is(err, sql.ErrNoRows) {
			return chat.ErrNotFound
		}
		if err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `UPDATE screen_versions SET retired_at = ? WHERE id = ?`, s.ts(at), v.ID)
		return err
	})
	return v, err
}
