package sqlstore

import (
	"context"
	"database/sql"

	"github.com/korobka/korobka/chat"
)

// AppendAudit adds one entry to the audit log.
func (s *Store) AppendAudit(ctx context.Context, e chat.AuditEntry) (chat.AuditEntry, error) {
	var details any
	if len(e.Details) > 0 {
		details = string(e.Details)
	}
	err := s.write(ctx, "append audit", func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx,
			`INSERT INTO audit_log (at, actor_id, actor_role, action, target_type, target_id, details) VALUES (?, ?, ?, ?, ?, ?, ?)`,
			s.ts(e.At), e.ActorID, string(e.ActorRole), e.Action, e.TargetType, e.TargetID, details)
		if err != nil {
			return err
		}
		e.ID, err = res.LastInsertId()
		return err
	})
	return e, err
}

// Audit returns the entries that match f, newest first, at most limit.
func (s *Store) Audit(ctx context.Context, f chat.AuditFilter, limit int) ([]chat.AuditEntry, error) {
	q := `SELECT id, at, actor_id, actor_role, action, target_type, target_id, details FROM audit_log WHERE 1 = 1`
	var args []any
	if f.ActorID != 0 {
		q += ` AND actor_id = ?`
		args = append(args, f.ActorID)
	}
	if f.Action != "" {
		q += ` AND action = ?`
		args = append(args, f.Action)
	}
	if f.TargetType != "" {
		q += ` AND target_type = ?`
		args = append(args, f.TargetType)
	}
	if f.TargetID != "" {
		q += ` AND target_id = ?`
		args = append(args, f.TargetID)
	}
	if f.Before > 0 {
		q += ` AND id < ?`
		args = append(args, f.Before)
	}
	q += ` ORDER BY id DESC LIMIT ?`
	args = append(args, limit)
	rows, err := s.r.QueryContext(ctx, q, args...)
	out, err := collect(rows, err, func(r interface{ Scan(...any) error }) (chat.AuditEntry, error) {
		var (
			e       chat.AuditEntry
			role    string
			details sql.NullString
		)
		err := r.Scan(&e.ID, timeCol{&e.At}, &e.ActorID, &role, &e.Action, &e.TargetType, &e.TargetID, &details)
		e.ActorRole = chat.Role(role)
		if details.Valid && details.String != "" {
			e.Details = []byte(details.String)
		}
		return e, err
	})
	if err != nil {
		return nil, s.fail("audit", err)
	}
	return out, nil
}
