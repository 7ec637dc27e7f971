package sqlstore

import (
	"context"
	"database/sql"
	"errors"

	"github.com/korobka/korobka/chat"
)

var _ chat.OperatorStore = (*Store)(nil)

// AssignDialog replaces the dialog's assignment, reading the one it
// replaces under the row lock.
func (s *Store) AssignDialog(ctx context.Context, a chat.DialogAssignment) (chat.DialogAssignment, bool, error) {
	var (
		prev chat.DialogAssignment
		had  bool
	)
	err := s.write(ctx, "assign dialog", func(tx *sql.Tx) error {
		prev, had = chat.DialogAssignment{}, false
		var one int
		if err := tx.QueryRowContext(ctx, `SELECT 1 FROM dialogs WHERE id = ?`, a.DialogID).Scan(&one); err != nil {
			return err // sql.ErrNoRows: chat.ErrNotFound
		}
		err := tx.QueryRowContext(ctx, `SELECT dialog_id, operator_id, assigned_by, assigned_at FROM dialog_assignments WHERE dialog_id = ?`+s.forUpdate(), a.DialogID).
			Scan(&prev.DialogID, &prev.OperatorID, &prev.AssignedBy, timeCol{&prev.AssignedAt})
		switch {
		case err == nil:
			had = true
			_, err = tx.ExecContext(ctx, `UPDATE dialog_assignments SET operator_id = ?, assigned_by = ?, assigned_at = ? WHERE dialog_id = ?`,
				a.OperatorID, a.AssignedBy, s.ts(a.AssignedAt), a.DialogID)
			return err
		case !errors.Is(err, sql.ErrNoRows):
			return err
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO dialog_assignments (dialog_id, operator_id, assigned_by, assigned_at) VALUES (?, ?, ?, ?)`,
			a.DialogID, a.OperatorID, a.AssignedBy, s.ts(a.AssignedAt))
		return err
	})
	return prev, had, err
}

func scanAssignment(r interface{ Scan(...any) error }) (chat.DialogAssignment, error) {
	var a chat.DialogAssignment
	err := r.Scan(&a.DialogID, &a.OperatorID, &a.AssignedBy, timeCol{&a.AssignedAt})
	return a, err
}

// Assignments reads the assignments of the dialogs in one query.
func (s *Store) Assignments(ctx context.Context, dialogIDs []int64) ([]chat.DialogAssignment, error) {
	if len(dialogIDs) == 0 {
		return []chat.DialogAssignment{}, nil
	}
	rows, err := s.r.QueryContext(ctx, `SELECT dialog_id, operator_id, assigned_by, assigned_at FROM dialog_assignments WHERE dialog_id IN (`+
		placeholders(len(dialogIDs))+`)`, int64Args(dialogIDs)...)
	out, err := collect(rows, err, scanAssignment)
	if err != nil {
		return nil, s.fail("assignments", err)
	}
	return out, nil
}

// RecordReply inserts the record unless the message has one.
func (s *Store) RecordReply(ctx context.Context, r chat.ReplyRecord) error {
	return s.write(ctx, "record reply", func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO operator_replies (dialog_id, seq, operator_id, created_at) VALUES (?, ?, ?, ?)`+s.onConflictDoNothing("seq"),
			r.DialogID, r.Seq, r.OperatorID, s.ts(r.At))
		return err
	})
}

func scanReply(r interface{ Scan(...any) error }) (chat.ReplyRecord, error) {
	var x chat.ReplyRecord
	err := r.Scan(&x.DialogID, &x.Seq, &x.OperatorID, timeCol{&x.At})
	return x, err
}

// RepliesOf reads the records of the messages in one query.
func (s *Store) RepliesOf(ctx context.Context, dialogID int64, seqs []int64) ([]chat.ReplyRecord, error) {
	if len(seqs) == 0 {
		return []chat.ReplyRecord{}, nil
	}
	args := append([]any{dialogID}, int64Args(seqs)...)
	rows, err := s.r.QueryContext(ctx, `SELECT dialog_id, seq, operator_id, created_at FROM operator_replies WHERE dialog_id = ? AND seq IN (`+
		placeholders(len(seqs))+`)`, args...)
	out, err := collect(rows, err, scanReply)
	if err != nil {
		return nil, s.fail("replies of", err)
	}
	return out, nil
}

// Replies pages the dialog's records by seq, newest first.
func (s *Store) Replies(ctx context.Context, dialogID, before int64, limit int) ([]chat.ReplyRecord, error) {
	if limit <= 0 {
		return []chat.ReplyRecord{}, nil
	}
	q := `SELECT dialog_id, seq, operator_id, created_at FROM operator_replies WHERE dialog_id = ?`
	args := []any{dialogID}
	if before > 0 {
		q += ` AND seq < ?`
		args = append(args, before)
	}
	rows, err := s.r.QueryContext(ctx, q+` ORDER BY seq DESC LIMIT ?`, append(args, limit)...)
	out, err := collect(rows, err, scanReply)
	if err != nil {
		return nil, s.fail("replies", err)
	}
	return out, nil
}

// int64Args turns ids into query arguments.
func int64Args(ids []int64) []any {
	out := make([]any, len(ids))
	for i, id := range ids {
		out[i] = id
	}
	return out
}
