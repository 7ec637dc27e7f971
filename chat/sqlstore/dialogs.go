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

const dialogCols = `id, kind, title, avatar, subject, created_by, last_seq, last_change, created_at, last_message_at, history_visible, media_gen, pinned_seq`

func scanDialog(row interface{ Scan(...any) error }, extra ...any) (chat.Dialog, error) {
	var d chat.Dialog
	var kind string
	var hv int64
	dst := []any{&d.ID, &kind, &d.Title, &d.Avatar, &d.Subject, &d.CreatedBy, &d.LastSeq, &d.LastChange,
		timeCol{&d.CreatedAt}, timeCol{&d.LastMessageAt}, &hv, &d.MediaGen, &d.PinnedSeq}
	err := row.Scan(append(dst, extra...)...)
	d.Kind = chat.DialogKind(kind)
	d.HistoryVisible = hv != 0
	return d, err
}

const memberCols = `dialog_id, user_id, delivered_seq, read_seq, uncounted, joined_at, muted_until, pushed_seq, role, visible_from, joined_seq`

func scanMember(row interface{ Scan(...any) error }) (chat.Member, error) {
	var m chat.Member
	err := row.Scan(memberDst(&m)...)
	return m, err
}

// memberDst is where the columns of memberCols scan to, in order.
func memberDst(m *chat.Member) []any {
	return []any{&m.DialogID, &m.UserID, &m.DeliveredSeq, &m.ReadSeq, &m.Uncounted, timeCol{&m.JoinedAt},
		timeCol{&m.MutedUntil}, &m.PushedSeq, roleCol{&m.Role}, &m.VisibleFrom, &m.JoinedSeq}
}

// roleCol scans a member's role.
type roleCol struct{ r *chat.GroupRole }

func (c roleCol) Scan(v any) error {
	switch v := v.(type) {
	case string:
		*c.r = chat.GroupRole(v)
	case []byte:
		*c.r = chat.GroupRole(v)
	default:
		return fmt.Errorf("sqlstore: cannot scan %T into a role", v)
	}
	return nil
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

// entryCols are the columns of a dialog entry: the dialog (d), the user's
// membership (m) and, with withLast, the newest message (lm), found by
// primary key (dialog_id, last_seq). Every entry is read by this one
// SELECT, so the chat list, one dialog and a new dialog show the same.
func entryCols(withLast bool) string {
	cols := prefixed("d", dialogCols) + `, ` + prefixed("m", memberCols)
	if withLast {
		cols += `, lm.seq, lm.change_seq, lm.sender_id, lm.client_id, lm.text, lm.attachments, lm.created_at, lm.edited_at, lm.deleted_at, lm.system_event, lm.reply_to, lm.entities, lm.preview`
	}
	return cols
}

func entryFrom(withLast bool) string {
	q := ` FROM members m JOIN dialogs d ON d.id = m.dialog_id`
	if withLast {
		q += ` LEFT JOIN messages lm ON lm.dialog_id = d.id AND lm.seq = d.last_seq`
	}
	return q
}

// collectEntries scans rows of entryCols.
func collectEntries(rows *sql.Rows, withLast bool) ([]chat.DialogEntry, error) {
	return scanEntries(rows, withLast, func(e *chat.DialogEntry) []any { return memberDst(&e.Self) })
}

// scanEntries scans rows of the dialog's columns, then self's, then with
// withLast the newest message's (entryCols).
func scanEntries(rows *sql.Rows, withLast bool, self func(*chat.DialogEntry) []any) ([]chat.DialogEntry, error) {
	defer rows.Close()
	entries := []chat.DialogEntry{}
	for rows.Next() {
		var e chat.DialogEntry
		var seq, change, sender sql.NullInt64
		var clientID, text sql.NullString
		var lm chat.Message
		var att, sys, ents, preview []byte
		var reply sql.NullInt64
		dst := self(&e)
		if withLast {
			dst = append(dst, &seq, &change, &sender, &clientID, &text, &att,
				timeCol{&lm.CreatedAt}, timeCol{&lm.EditedAt}, timeCol{&lm.DeletedAt}, &sys, &reply, &ents, &preview)
		}
		var err error
		if e.Dialog, err = scanDialog(rows, dst...); err != nil {
			return nil, err
		}
		if seq.Valid {
			lm.DialogID, lm.Seq, lm.Change, lm.SenderID = e.Dialog.ID, seq.Int64, change.Int64, sender.Int64
			lm.ClientID, lm.Text, lm.Attachments = clientID.String, text.String, attachments(att)
			if err := extras(&lm, sys, reply, ents); err != nil {
				return nil, err
			}
			lm.Preview = attachments(preview)
			e.LastMessage = &lm
		}
		entries = append(entries, e)
	}
	return entries, rows.Err()
}

const formerCols = `dialog_id, user_id, visible_from, end_seq, ended_at, reason, title`

// formerEndChange is the change number of the message at a former
// member's end_seq (FormerMember.EndChange), read along with the row f.
const formerEndChange = `COALESCE((SELECT ec.change_seq FROM messages ec WHERE ec.dialog_id = f.dialog_id AND ec.seq = f.end_seq), 0)`

// formerDst scans prefixed("f", formerCols) followed by formerEndChange.
func formerDst(f *chat.FormerMember) []any {
	return []any{&f.DialogID, &f.UserID, &f.VisibleFrom, &f.EndSeq, timeCol{&f.EndedAt}, &f.Reason, &f.Title, &f.EndChange}
}

// formerSelect is the SELECT of former entries: the dialog (d), the ended
// membership (f) and, with withLast, the message at its end_seq (lm), the
// last one the former member may read.
func formerSelect(withLast bool) string {
	q := `SELECT ` + prefixed("d", dialogCols) + `, ` + prefixed("f", formerCols) + `, ` + formerEndChange
	if withLast {
		q += `, lm.seq, lm.change_seq, lm.sender_id, lm.client_id, lm.text, lm.attachments, lm.created_at, lm.edited_at, lm.deleted_at, lm.system_event, lm.reply_to, lm.entities, lm.preview`
	}
	q += ` FROM former_members f JOIN dialogs d ON d.id = f.dialog_id`
	if withLast {
		q += ` LEFT JOIN messages lm ON lm.dialog_id = d.id AND lm.seq = f.end_seq`
	}
	return q
}

func collectFormer(rows *sql.Rows, withLast bool) ([]chat.DialogEntry, error) {
	entries, err := scanEntries(rows, withLast, func(e *chat.DialogEntry) []any {
		e.Former = &chat.FormerMember{}
		return formerDst(e.Former)
	})
	for i := range entries {
		f := entries[i].Former
		entries[i].Self = chat.Member{DialogID: f.DialogID, UserID: f.UserID, VisibleFrom: f.VisibleFrom}
	}
	return entries, err
}

// FormerMember reads one ended membership by primary key.
func (s *Store) FormerMember(ctx context.Context, dialogID, userID int64) (chat.FormerMember, error) {
	var f chat.FormerMember
	err := s.r.QueryRowContext(ctx, `SELECT `+prefixed("f", formerCols)+`, `+formerEndChange+` FROM former_members f WHERE f.dialog_id = ? AND f.user_id = ?`,
		dialogID, userID).Scan(formerDst(&f)...)
	if errors.Is(err, sql.ErrNoRows) {
		return chat.FormerMember{}, chat.ErrNotFound
	}
	if err != nil {
		return chat.FormerMember{}, s.fail("former member", err)
	}
	return f, nil
}

// pageDesc finishes a keyset page of q (which ends in a WHERE clause, its
// arguments args) ordered by (at, id) descending: rows after the cursor
// (none set: from the newest), at most limit of them.
func (s *Store) pageDesc(q string, args []any, at, id string, after chat.DialogCursor, limit int) (string, []any) {
	if after != (chat.DialogCursor{}) {
		t := s.ts(after.UpdatedAt)
		q += ` AND (` + at + ` < ? OR (` + at + ` = ? AND ` + id + ` < ?))`
		args = append(args, t, t, after.ID)
	}
	return q + ` ORDER BY ` + at + ` DESC, ` + id + ` DESC LIMIT ?`, append(args, limit)
}

// FormerDialogs pages through a user's ended memberships along
// former_members_user, by (ended_at, dialog_id) descending.
func (s *Store) FormerDialogs(ctx context.Context, userID int64, after chat.DialogCursor, limit int) ([]chat.DialogEntry, error) {
	if limit <= 0 {
		return []chat.DialogEntry{}, nil
	}
	q, args := s.pageDesc(formerSelect(true)+` WHERE f.user_id = ?`, []any{userID}, "f.ended_at", "f.dialog_id", after, limit)
	rows, err := s.r.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, s.fail("former dialogs", err)
	}
	entries, err := collectFormer(rows, true)
	if err != nil {
		return nil, s.fail("former dialogs", err)
	}
	return entries, nil
}

// FormerEntries reads a user's ended memberships of the dialogs by primary
// key, in chunks.
func (s *Store) FormerEntries(ctx context.Context, userID int64, dialogIDs []int64, withLast bool) ([]chat.DialogEntry, error) {
	ids := slices.Clone(dialogIDs)
	slices.Sort(ids)
	ids = slices.Compact(ids)
	out := []chat.DialogEntry{}
	for chunk := range slices.Chunk(ids, idChunk) {
		args := make([]any, 0, len(chunk)+1)
		args = append(args, userID)
		for _, id := range chunk {
			args = append(args, id)
		}
		rows, err := s.r.QueryContext(ctx, formerSelect(withLast)+` WHERE f.user_id = ? AND f.dialog_id IN (`+placeholders(len(chunk))+`)`, args...)
		if err != nil {
			return nil, s.fail("former entries", err)
		}
		entries, err := collectFormer(rows, withLast)
		if err != nil {
			return nil, s.fail("former entries", err)
		}
		out = append(out, entries...)
	}
	return out, nil
}

// Dialogs pages through a user's dialogs by (updated_at, id), both
// descending. Each row carries the user's own membership and the newest
// message.
func (s *Store) Dialogs(ctx context.Context, userID int64, after chat.DialogCursor, limit int) ([]chat.DialogEntry, error) {
	if limit <= 0 {
		return []chat.DialogEntry{}, nil
	}
	q, args := s.pageDesc(`SELECT `+entryCols(true)+entryFrom(true)+` WHERE m.user_id = ?`, []any{userID}, "d.updated_at", "d.id", after, limit)
	rows, err := s.r.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, s.fail("dialogs", err)
	}
	entries, err := collectEntries(rows, true)
	if err != nil {
		return nil, s.fail("dialogs", err)
	}
	return entries, nil
}

// UserDialogs reads the entries of the dialogs with the ids along the
// user's memberships (members_user_id: user_id, dialog_id), in chunks.
func (s *Store) UserDialogs(ctx context.Context, userID int64, dialogIDs []int64) ([]chat.DialogEntry, error) {
	return s.userEntries(ctx, "user dialogs", userID, dialogIDs, true)
}

// Memberships is UserDialogs without the join to messages.
func (s *Store) Memberships(ctx context.Context, userID int64, dialogIDs []int64) ([]chat.DialogEntry, error) {
	return s.userEntries(ctx, "memberships", userID, dialogIDs, false)
}

func (s *Store) userEntries(ctx context.Context, op string, userID int64, dialogIDs []int64, withLast bool) ([]chat.DialogEntry, error) {
	ids := slices.Clone(dialogIDs)
	slices.Sort(ids)
	ids = slices.Compact(ids)
	out := []chat.DialogEntry{}
	for chunk := range slices.Chunk(ids, idChunk) {
		args := make([]any, 0, len(chunk)+1)
		args = append(args, userID)
		for _, id := range chunk {
			args = append(args, id)
		}
		name := "memberships"
		if withLast {
			name = "userDialogs"
		}
		q := s.sql.get(name, len(chunk), func(n int) string {
			return `SELECT ` + entryCols(withLast) + entryFrom(withLast) +
				` WHERE m.user_id = ? AND m.dialog_id IN (` + placeholders(n) + `)`
		})
		rows, err := s.r.QueryContext(ctx, q, args...)
		if err != nil {
			return nil, s.fail(op, err)
		}
		entries, err := collectEntries(rows, withLast)
		if err != nil {
			return nil, s.fail(op, err)
		}
		out = append(out, entries...)
	}
	return out, nil
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

// TouchLastSeen writes many users' last seen in one transaction, one
// prepared UPDATE per user in id order (so two nodes flushing at once lock
// rows in the same order). It only moves last_seen_at forward, so that two
// nodes reporting one user's disconnects out of order keep the later one.
// An unknown user is not an error: presence is best effort.
func (s *Store) TouchLastSeen(ctx context.Context, seen map[int64]time.Time) error {
	if len(seen) == 0 {
		return nil
	}
	ids := make([]int64, 0, len(seen))
	for id := range seen {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return s.write(ctx, "touch last seen", func(tx *sql.Tx) error {
		st, err := tx.PrepareContext(ctx,
			`UPDATE users SET last_seen_at = ? WHERE id = ? AND (last_seen_at IS NULL OR last_seen_at < ?)`)
		if err != nil {
			return err
		}
		defer st.Close()
		for _, id := range ids {
			t := s.ts(seen[id])
			if _, err := st.ExecContext(ctx, t, id, t); err != nil {
				return err
			}
		}
		return nil
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
	// Groups the user was removed from or left are listed too.
	var fn, fv int64
	if err := s.r.QueryRowContext(ctx, `SELECT COUNT(*), COALESCE(SUM(d.version), 0)
		FROM former_members f JOIN dialogs d ON d.id = f.dialog_id WHERE f.user_id = ?`, userID).Scan(&fn, &fv); err != nil {
		return "", s.fail("dialogs version", err)
	}
	if fn > 0 {
		return fmt.Sprintf("l%d.%d.%d.f%d.%d", n, dv, uv, fn, fv), nil
	}
	return fmt.Sprintf("l%d.%d.%d", n, dv, uv), nil
}
