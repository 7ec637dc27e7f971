package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"time"

	"github.com/korobka/korobka/chat"
)

const broadcastCols = `id, created_by, created_at, text, segment, status, sent, batches, cursor_at, cursor_id, finished_at`

func scanBroadcast(r interface{ Scan(...any) error }) (chat.Broadcast, error) {
	var (
		b        chat.Broadcast
		segment  string
		finished time.Time
	)
	err := r.Scan(&b.ID, &b.CreatedBy, timeCol{&b.CreatedAt}, &b.Text, &segment, &b.Status, &b.Sent, &b.Batches,
		timeCol{&b.Cursor.CreatedAt}, &b.Cursor.ID, timeCol{&finished})
	if err != nil {
		return b, err
	}
	if !finished.IsZero() {
		b.FinishedAt = &finished
	}
	if err := json.Unmarshal([]byte(segment), &b.Segment); err != nil {
		return b, err
	}
	return b, nil
}

// CreateBroadcast inserts the broadcast at batch 0.
func (s *Store) CreateBroadcast(ctx context.Context, b chat.Broadcast) (chat.Broadcast, error) {
	seg, err := json.Marshal(b.Segment)
	if err != nil {
		return b, err
	}
	err = s.write(ctx, "create broadcast", func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx,
			`INSERT INTO broadcasts (created_by, created_at, text, segment, status) VALUES (?, ?, ?, ?, ?)`,
			b.CreatedBy, s.ts(b.CreatedAt), b.Text, string(seg), b.Status)
		if err != nil {
			return err
		}
		b.ID, err = res.LastInsertId()
		return err
	})
	return b, err
}

// Broadcast reads one broadcast.
func (s *Store) Broadcast(ctx context.Context, id int64) (chat.Broadcast, error) {
	b, err := scanBroadcast(s.r.QueryRowContext(ctx, `SELECT `+broadcastCols+` FROM broadcasts WHERE id = ?`, id))
	if err != nil {
		return chat.Broadcast{}, s.fail("broadcast", err)
	}
	return b, nil
}

// Broadcasts pages by id, newest first.
func (s *Store) Broadcasts(ctx context.Context, before int64, limit int) ([]chat.Broadcast, error) {
	q := `SELECT ` + broadcastCols + ` FROM broadcasts`
	var args []any
	if before > 0 {
		q += ` WHERE id < ?`
		args = append(args, before)
	}
	q += ` ORDER BY id DESC LIMIT ?`
	args = append(args, limit)
	rows, err := s.r.QueryContext(ctx, q, args...)
	out, err := collect(rows, err, scanBroadcast)
	if err != nil {
		return nil, s.fail("broadcasts", err)
	}
	return out, nil
}

// AdvanceBroadcast moves the broadcast from batch to batch+1 in one
// conditional UPDATE, so of two runs of one batch only the first counts.
func (s *Store) AdvanceBroadcast(ctx context.Context, id, batch, sent int64, cursor chat.UserCursor, done bool, now time.Time) (bool, error) {
	status, finished := chat.BroadcastSending, any(nil)
	if done {
		status, finished = chat.BroadcastDone, s.ts(now)
	}
	var ok bool
	err := s.write(ctx, "advance broadcast", func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx,
			`UPDATE broadcasts SET batches = batches + 1, sent = sent + ?, cursor_at = ?, cursor_id = ?, status = ?, finished_at = ?
			 WHERE id = ? AND batches = ? AND status = ?`,
			sent, s.nullTS(cursor.CreatedAt), cursor.ID, status, finished, id, batch, chat.BroadcastSending)
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		ok = n == 1
		return err
	})
	return ok, err
}
