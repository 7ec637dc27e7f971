package sqlstore

import (
	"context"
	"database/sql"

	"github.com/korobka/korobka/chat"
)

var _ chat.FormStore = (*Store)(nil)

// CreateSubmission stores a form submission under the next id.
func (s *Store) CreateSubmission(ctx context.Context, f chat.FormSubmission) (chat.FormSubmission, error) {
	err := s.write(ctx, "create submission", func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `INSERT INTO form_submissions (collection, author_id, data, dialog_id, created_at) VALUES (?, ?, ?, ?, ?)`,
			f.Collection, f.AuthorID, string(f.Data), f.DialogID, s.ts(f.CreatedAt))
		if err != nil {
			return err
		}
		f.ID, err = res.LastInsertId()
		return err
	})
	return f, err
}

// Submissions pages a form's submissions backwards by id.
func (s *Store) Submissions(ctx context.Context, collection string, before int64, limit int) ([]chat.FormSubmission, error) {
	q := `SELECT id, collection, author_id, data, dialog_id, created_at FROM form_submissions WHERE collection = ?`
	args := []any{collection}
	if before > 0 {
		q += ` AND id < ?`
		args = append(args, before)
	}
	q += ` ORDER BY id DESC LIMIT ?`
	args = append(args, limit)
	rows, err := s.r.QueryContext(ctx, q, args...)
	out, err := collect(rows, err, func(r interface{ Scan(...any) error }) (chat.FormSubmission, error) {
		var f chat.FormSubmission
		var data []byte
		err := r.Scan(&f.ID, &f.Collection, &f.AuthorID, &data, &f.DialogID, timeCol{&f.CreatedAt})
		f.Data = data
		return f, err
	})
	if err != nil {
		return nil, s.fail("submissions", err)
	}
	return out, nil
}
