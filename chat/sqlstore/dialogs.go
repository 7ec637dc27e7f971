package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/korobka/korobka/chat"
)

// idChunk is how many ids Users looks up per statement: far below both
// dialects' placeholder limits, few round trips for any realistic list.
const idChunk = 500

const dialogCols = `id, kind, title, avatar, subject, created_by, last_seq, created_at, last_message_at`

func scanDialog(row interface{ Scan(...any) error }, extra ...any) (chat.Dialog, error) {
	var d chat.Dialog
	var kind string
	dst := []any{&d.ID, &kind, &d.Title, &d.Avatar, &d.Subject, &d.CreatedBy, &d.LastSeq,
		timeCol{&d.CreatedAt}, timeCol{&d.LastMessageAt}}
	err := row.Scan(append(dst, extra...)...)
	d.Kind = chat.DialogKind(kind)
	return d, err
}

const memberCols = `dialog_id, user_id, delivered_seq, read_seq, joined_at, muted_until, pushed_seq`

func scanMember(row interface{ Scan(...any) error }) (chat.Member, error) {
	var m chat.Member
	err := row.Scan(memberDst(&m)...)
	return m, err
}

// memberDst is where the columns of memberCols scan to, in order.
func memberDst(m *chat.Member) []any {
	return []any{&m.DialogID, &m.UserID, &m.DeliveredSeq, &m.ReadSeq, timeCol{&m.JoinedAt},
		timeCol{&m.MutedUntil}, &m.PushedSeq}
}

// directKey is the unique key of the direct dialog of a and b about
// subject: the same for (a, b) and (b, a).
func directKey(a, b int64, subject string) string {
	lo, hi := min(a, b), max(a, b)
	return strconv.FormatInt(lo, 10) + ":" + strconv.FormatInt(hi, 10) + ":" + subject
}

// DirectDialog inserts first and reads second, as UpsertUser does: of two
// requests racing to create the same dialog, the loser's INSERT waits for
// the winner's key lock (MySQL) or the write lock (SQLite), then does
// nothing, and its read finds the winner's dialog. A user talking to
// themselves (a == b) gets a dialog with one member. An unknown user is
// chat.ErrNotFound.
func (s *Store) DirectDialog(ctx context.Context, a, b int64, subject string, now time.Time) (chat.Dialog, bool, error) {
	key := directKey(a, b, subject)
	var d chat.Dialog
	var created bool
	err := s.write(ctx, "direct dialog", func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx,
			`INSERT INTO dialogs (kind, title, avatar, subject, created_by, direct_key, last_seq, created_at, updated_at)
			 VALUES (?, '', '', ?, ?, ?, 0, ?, ?)`+s.onConflictDoNothing("id"),
			string(chat.DialogDirect), subject, a, key, s.ts(now), s.ts(now))
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		if err != nil {
			return err
		}
		created = n == 1
		if created {
			id, err := res.LastInsertId()
			if err != nil {
				return err
			}
			q := `INSERT INTO members (dialog_id, user_id, delivered_seq, read_seq, joined_at) VALUES (?, ?, 0, 0, ?)`
			args := []any{id, a, s.ts(now)}
			if b != a {
				q += `, (?, ?, 0, 0, ?)`
				args = append(args, id, b, s.ts(now))
			}
			if _, err := tx.ExecContext(ctx, q, args...); err != nil {
				return err
			}
			d, err = scanDialog(tx.QueryRowContext(ctx, `SELECT `+dialogCols+` FROM dialogs WHERE id = ?`, id))
			return err
		}
		d, err = scanDialog(tx.QueryRowContext(ctx, `SELECT `+dialogCols+` FROM dialogs WHERE direct_key = ?`, key))
		return err
	})
	return d, created, err
}

// Dialog returns one dialog.
func (s *Store) Dialog(ctx context.Context, id int64) (chat.Dialog, error) {
	d, err := scanDialog(s.r.QueryRowContext(ctx, `SELECT `+dialogCols+` FROM dialogs WHERE id = ?`, id))
	if err != nil {
		return chat.Dialog{}, s.fail("dialog", err)
	}
	return d, nil
}

// Members returns a dialog's members ordered by user id. An empty result
// is told apart from an unknown dialog by a second lookup, paid only then.
func (s *Store) Members(ctx context.Context, dialogID int64) ([]chat.Member, error) {
	rows, err := s.r.QueryContext(ctx,
		`SELECT `+memberCols+` FROM members WHERE dialog_id = ? ORDER BY user_id`, dialogID)
	if err != nil {
		return nil, s.fail("members", err)
	}
	defer rows.Close()
	members := []chat.Member{}
	for rows.Next() {
		m, err := scanMember(rows)
		if err != nil {
			return nil, s.fail("members", err)
		}
		members = append(members, m)
	}
	if err := rows.Err(); err != nil {
		return nil, s.fail("members", err)
	}
	if len(members) == 0 {
		var one int
		if err := s.r.QueryRowContext(ctx, `SELECT 1 FROM dialogs WHERE id = ?`, dialogID).Scan(&one); err != nil {
			return nil, s.fail("members", err)
		}
	}
	return members, nil
}

// MembersOf reads the members of many dialogs in one query per chunk, so a
// page of the dialog list costs no query per dialog.
func (s *Store) MembersOf(ctx context.Context, dialogIDs []int64) ([]chat.Member, error) {
	out := []chat.Member{}
	for chunk := range slices.Chunk(dialogIDs, commitChunk) {
		args := make([]any, len(chunk))
		for i, id := range chunk {
			args[i] = id
		}
		q := s.sql.get("membersOf", len(chunk), func(n int) string {
			return `SELECT ` + memberCols + ` FROM members WHERE dialog_id IN (` + placeholders(n) + `) ORDER BY dialog_id, user_id`
		})
		rows, err := s.r.QueryContext(ctx, q, args...)
		ms, err := collect(rows, err, scanMember)
		if err != nil {
			return nil, s.fail("members of", err)
		}
		out = append(out, ms...)
	}
	return out, nil
}

// Dialogs pages through a user's dialogs by (updated_at, id), both
// descending. Each row carries the user's own membership and the newest
// message, found by primary key (dialog_id, last_seq).
func (s *Store) Dialogs(ctx context.Context, userID int64, after chat.DialogCursor, limit int) ([]chat.DialogEntry, error) {
	entries := []chat.DialogEntry{}
	if limit <= 0 {
		return entries, nil
	}
	q := `SELECT ` + prefixed("d", dialogCols) + `, ` + prefixed("m", memberCols) + `,
			lm.seq, lm.sender_id, lm.client_id, lm.text, lm.attachments, lm.created_at, lm.edited_at, lm.deleted_at
		FROM members m
		JOIN dialogs d ON d.id = m.dialog_id
		LEFT JOIN messages lm ON lm.dialog_id = d.id AND lm.seq = d.last_seq
		WHERE m.user_id = ?`
	args := []any{userID}
	if after != (chat.DialogCursor{}) {
		at := s.ts(after.UpdatedAt)
		q += ` AND (d.updated_at < ? OR (d.updated_at = ? AND d.id < ?))`
		args = append(args, at, at, after.ID)
	}
	q += ` ORDER BY d.updated_at DESC, d.id DESC LIMIT ?`
	args = append(args, limit)
	rows, err := s.r.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, s.fail("dialogs", err)
	}
	defer rows.Close()
	for rows.Next() {
		var e chat.DialogEntry
		var seq, sender sql.NullInt64
		var clientID, text sql.NullString
		var lm chat.Message
		var att []byte
		dst := append(memberDst(&e.Self),
			&seq, &sender, &clientID, &text, &att, timeCol{&lm.CreatedAt}, timeCol{&lm.EditedAt}, timeCol{&lm.DeletedAt})
		e.Dialog, err = scanDialog(rows, dst...)
		if err != nil {
			return nil, s.fail("dialogs", err)
		}
		if seq.Valid {
			lm.DialogID, lm.Seq, lm.SenderID = e.Dialog.ID, seq.Int64, sender.Int64
			lm.ClientID, lm.Text, lm.Attachments = clientID.String, text.String, attachments(att)
			e.LastMessage = &lm
		}
		entries = append(entries, e)
	}
	if err := rows.Err(); err != nil {
		return nil, s.fail("dialogs", err)
	}
	return entries, nil
}

// Users returns the users with the ids that exist, looked up in chunks.
func (s *Store) Users(ctx context.Context, ids []int64) ([]chat.User, error) {
	ids = slices.Clone(ids)
	slices.Sort(ids)
	ids = slices.Compact(ids)
	users := []chat.User{}
	for chunk := range slices.Chunk(ids, idChunk) {
		args := make([]any, len(chunk))
		for i, id := range chunk {
			args[i] = id
		}
		found, err := collectUsers(s.r.QueryContext(ctx,
			`SELECT `+userCols+` FROM users WHERE id IN (`+placeholders(len(chunk))+`)`, args...))
		if err != nil {
			return nil, s.fail("users", err)
		}
		users = append(users, found...)
	}
	return users, nil
}

// Watchers returns, in ascending order, the partners in userID's dialogs
// and the owners of address books holding userID's number. UNION removes
// the duplicates between and within the two.
func (s *Store) Watchers(ctx context.Context, userID int64) ([]int64, error) {
	rows, err := s.r.QueryContext(ctx,
		`SELECT m2.user_id FROM members m1 JOIN members m2 ON m2.dialog_id = m1.dialog_id
		 WHERE m1.user_id = ? AND m2.user_id <> ?
		 UNION
		 SELECT c.owner_id FROM users u JOIN contacts c ON c.phone = u.phone
		 WHERE u.id = ? AND c.owner_id <> ?`,
		userID, userID, userID, userID)
	if err != nil {
		return nil, s.fail("watchers", err)
	}
	defer rows.Close()
	ids := []int64{}
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return nil, s.fail("watchers", err)
		}
		ids = append(ids, id)
	}
	if err := rows.Err(); err != nil {
		return nil, s.fail("watchers", err)
	}
	slices.Sort(ids)
	return ids, nil
}

// TouchLastSeen only moves last_seen_at forward, so that two nodes
// reporting one user's disconnects out of order keep the later one. An
// unknown user is not an error: presence is best effort.
func (s *Store) TouchLastSeen(ctx context.Context, userID int64, at time.Time) error {
	return s.write(ctx, "touch last seen", func(tx *sql.Tx) error {
		t := s.ts(at)
		_, err := tx.ExecContext(ctx,
			`UPDATE users SET last_seen_at = ? WHERE id = ? AND (last_seen_at IS NULL OR last_seen_at < ?)`,
			t, userID, t)
		return err
	})
}

// attachments is a scanned attachments column: nil for NULL or empty.
func attachments(b []byte) []byte {
	if len(b) == 0 {
		return nil
	}
	return b
}

var errNoDialog = errors.New("no such dialog")

// DialogVersion sums the change counters of the dialog and of its members'
// profiles. Counters only grow, so the sums move whenever one does.
func (s *Store) DialogVersion(ctx context.Context, dialogID int64) (string, error) {
	var dv, uv int64
	err := s.r.QueryRowContext(ctx, `SELECT d.version, COALESCE(SUM(u.version), 0)
		FROM dialogs d
		JOIN members m ON m.dialog_id = d.id
		JOIN users u ON u.id = m.user_id
		WHERE d.id = ?
		GROUP BY d.id, d.version`, dialogID).Scan(&dv, &uv)
	if errors.Is(err, sql.ErrNoRows) {
		return "", chat.ErrNotFound
	}
	if err != nil {
		return "", s.fail("dialog version", err)
	}
	return fmt.Sprintf("d%d.%d", dv, uv), nil
}

// DialogsVersion sums the same counters over every dialog of the user,
// with the count of dialogs so that a new dialog (version 0) shows too.
func (s *Store) DialogsVersion(ctx context.Context, userID int64) (string, error) {
	var n, dv, uv int64
	err := s.r.QueryRowContext(ctx, `SELECT COUNT(DISTINCT d.id), COALESCE(SUM(d.version), 0), COALESCE(SUM(u.version), 0)
		FROM members me
		JOIN dialogs d ON d.id = me.dialog_id
		JOIN members o ON o.dialog_id = d.id
		JOIN users u ON u.id = o.user_id
		WHERE me.user_id = ?`, userID).Scan(&n, &dv, &uv)
	if err != nil {
		return "", s.fail("dialogs version", err)
	}
	return fmt.Sprintf("l%d.%d.%d", n, dv, uv), nil
}
