package sqlstore

import (
	"cmp"
	"context"
	"crypto/sha256"
	"database/sql"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/korobka/korobka/chat"
)

var (
	_ chat.DeviceStore = (*Store)(nil)
	_ chat.PushStore   = (*Store)(nil)
)

// pushChunk is how many rows the push reads and marks handle per
// statement: a worker's batch (256 by default) is one or two statements.
const pushChunk = 250

const deviceCols = `id, user_id, family, platform, token, app_id, locale, time_zone, created_at, updated_at`

func scanDevice(row interface{ Scan(...any) error }) (chat.Device, error) {
	var d chat.Device
	var platform string
	err := row.Scan(&d.ID, &d.UserID, &d.Family, &platform, &d.Token, &d.AppID, &d.Locale, &d.TimeZone,
		timeCol{&d.CreatedAt}, timeCol{&d.UpdatedAt})
	d.Platform = chat.Platform(platform)
	return d, err
}

// tokenHash is the unique key of a token: fixed-size, whatever the token's
// length.
func tokenHash(token string) []byte {
	h := sha256.Sum256([]byte(token))
	return h[:]
}

// PutDevice upserts by token under a lock of the user's row, which
// serialises one user's registrations so the cap holds with concurrent
// ones. Two first registrations of one token racing on the unique key
// are settled by running again: the loser then finds the winner's row
// and takes it over.
func (s *Store) PutDevice(ctx context.Context, d chat.Device, max int) (chat.Device, int, error) {
	var stored chat.Device
	var evicted int
	var err error
	for range 3 {
		err = s.write(ctx, "put device", func(tx *sql.Tx) error {
			var e error
			stored, evicted, e = s.putDevice(ctx, tx, d, max)
			return e
		})
		if !errors.Is(err, chat.ErrConflict) {
			break
		}
	}
	return stored, evicted, err
}

func (s *Store) putDevice(ctx context.Context, tx *sql.Tx, d chat.Device, max int) (chat.Device, int, error) {
	var one int
	if err := tx.QueryRowContext(ctx, `SELECT 1 FROM users WHERE id = ?`+s.forUpdate(), d.UserID).Scan(&one); err != nil {
		return chat.Device{}, 0, err
	}
	hash := tokenHash(d.Token)
	var id int64
	var created time.Time
	err := tx.QueryRowContext(ctx, `SELECT id, created_at FROM devices WHERE token_hash = ?`+s.forUpdate(), hash).
		Scan(&id, timeCol{&created})
	switch {
	case errors.Is(err, sql.ErrNoRows):
		_, err = tx.ExecContext(ctx, `INSERT INTO devices (`+deviceCols+`, token_hash) VALUES (`+placeholders(11)+`)`,
			d.ID, d.UserID, d.Family, string(d.Platform), d.Token, d.AppID, d.Locale, d.TimeZone,
			s.ts(d.CreatedAt), s.ts(d.UpdatedAt), hash)
	case err == nil:
		d.ID, d.CreatedAt = id, created
		_, err = tx.ExecContext(ctx, `UPDATE devices SET user_id = ?, family = ?, platform = ?, token = ?, app_id = ?,
			locale = ?, time_zone = ?, updated_at = ? WHERE id = ?`,
			d.UserID, d.Family, string(d.Platform), d.Token, d.AppID, d.Locale, d.TimeZone, s.ts(d.UpdatedAt), id)
	}
	if err != nil {
		return chat.Device{}, 0, err
	}
	// The newest max stay; ties in updated_at go by id, as everywhere.
	rows, err := tx.QueryContext(ctx,
		`SELECT id FROM devices WHERE user_id = ? ORDER BY updated_at DESC, id DESC`, d.UserID)
	ids, err := collect(rows, err, func(r interface{ Scan(...any) error }) (int64, error) {
		var id int64
		return id, r.Scan(&id)
	})
	if err != nil {
		return chat.Device{}, 0, err
	}
	evicted := 0
	if len(ids) > max {
		drop := ids[max:]
		args := make([]any, len(drop))
		for i, id := range drop {
			args[i] = id
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM devices WHERE id IN (`+placeholders(len(drop))+`)`, args...); err != nil {
			return chat.Device{}, 0, err
		}
		evicted = len(drop)
	}
	d.CreatedAt, d.UpdatedAt = d.CreatedAt.UTC().Truncate(time.Microsecond), d.UpdatedAt.UTC().Truncate(time.Microsecond)
	return d, evicted, nil
}

// DeleteDevice removes the user's device with the token.
func (s *Store) DeleteDevice(ctx context.Context, userID int64, token string) error {
	return s.write(ctx, "delete device", func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM devices WHERE token_hash = ? AND user_id = ?`, tokenHash(token), userID)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			return chat.ErrNotFound
		}
		return nil
	})
}

// Devices reads the users' devices whose session family is still alive
// and whose user is not blocked, in chunks.
func (s *Store) Devices(ctx context.Context, userIDs []int64, now time.Time) ([]chat.Device, error) {
	out := []chat.Device{}
	ids := slices.Clone(userIDs)
	slices.Sort(ids)
	ids = slices.Compact(ids)
	for chunk := range slices.Chunk(ids, idChunk) {
		args := make([]any, 0, len(chunk)+1)
		for _, id := range chunk {
			args = append(args, id)
		}
		args = append(args, s.ts(now))
		q := s.sql.get("devices", len(chunk), func(n int) string {
			return `SELECT ` + prefixed("d", deviceCols) + ` FROM devices d JOIN users u ON u.id = d.user_id
				WHERE d.user_id IN (` + placeholders(n) + `) AND u.blocked_at IS NULL
				AND EXISTS (SELECT 1 FROM sessions ss WHERE ss.family = d.family AND ss.user_id = d.user_id
					AND ss.revoked_at IS NULL AND ss.expires_at > ?)`
		})
		rows, err := s.r.QueryContext(ctx, q, args...)
		ds, err := collect(rows, err, scanDevice)
		if err != nil {
			return nil, s.fail("devices", err)
		}
		out = append(out, ds...)
	}
	return out, nil
}

// RemoveDevice deletes the device only if it is as it was read: a token
// registered again since (its updated_at moved) is alive and stays.
func (s *Store) RemoveDevice(ctx context.Context, d chat.Device) (bool, error) {
	var removed bool
	err := s.write(ctx, "remove device", func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM devices WHERE id = ? AND updated_at = ?`, d.ID, s.ts(d.UpdatedAt))
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		removed = n == 1
		return err
	})
	return removed, err
}

// ---- what the push worker reads and marks ----

// MembersAt reads memberships by (dialog, user), many per statement.
func (s *Store) MembersAt(ctx context.Context, keys []chat.MemberKey) ([]chat.Member, error) {
	keys = slices.Clone(keys)
	slices.SortFunc(keys, func(a, b chat.MemberKey) int {
		return cmp.Or(cmp.Compare(a.DialogID, b.DialogID), cmp.Compare(a.UserID, b.UserID))
	})
	keys = slices.Compact(keys)
	out := []chat.Member{}
	for chunk := range slices.Chunk(keys, pushChunk) {
		args := make([]any, 0, 2*len(chunk))
		for _, k := range chunk {
			args = append(args, k.DialogID, k.UserID)
		}
		q := s.sql.get("membersAt", len(chunk), func(n int) string {
			return `SELECT ` + memberCols + ` FROM members WHERE (dialog_id, user_id) IN (` + s.rowValues(n, "(?, ?)") + `)`
		})
		rows, err := s.r.QueryContext(ctx, q, args...)
		ms, err := collect(rows, err, scanMember)
		if err != nil {
			return nil, s.fail("members at", err)
		}
		out = append(out, ms...)
	}
	return out, nil
}

// MessagesAt reads messages by (dialog, seq), many per statement.
func (s *Store) MessagesAt(ctx context.Context, keys []chat.MessageKey) ([]chat.Message, error) {
	keys = slices.Clone(keys)
	slices.SortFunc(keys, func(a, b chat.MessageKey) int {
		return cmp.Or(cmp.Compare(a.DialogID, b.DialogID), cmp.Compare(a.Seq, b.Seq))
	})
	keys = slices.Compact(keys)
	out := []chat.Message{}
	for chunk := range slices.Chunk(keys, pushChunk) {
		args := make([]any, 0, 2*len(chunk))
		for _, k := range chunk {
			args = append(args, k.DialogID, k.Seq)
		}
		q := s.sql.get("messagesAt", len(chunk), func(n int) string {
			return `SELECT ` + messageCols + ` FROM messages WHERE (dialog_id, seq) IN (` + s.rowValues(n, "(?, ?)") + `)`
		})
		msgs, err := collectMessages(s.r.QueryContext(ctx, q, args...))
		if err != nil {
			return nil, s.fail("messages at", err)
		}
		out = append(out, msgs...)
	}
	return out, nil
}

// UnreadTotals sums chat.Member.Unread (last_seq - read_seq - uncounted,
// never below 0) over each user's memberships, for push badges and
// TotalUnread: one query per chunk of users, along members_user_id.
func (s *Store) UnreadTotals(ctx context.Context, userIDs []int64) (map[int64]int64, error) {
	out := make(map[int64]int64, len(userIDs))
	ids := slices.Clone(userIDs)
	slices.Sort(ids)
	ids = slices.Compact(ids)
	for chunk := range slices.Chunk(ids, idChunk) {
		args := make([]any, len(chunk))
		for i, id := range chunk {
			args[i] = id
			out[id] = 0
		}
		q := s.sql.get("unreadTotals", len(chunk), func(n int) string {
			return `SELECT m.user_id, SUM(CASE WHEN d.last_seq - m.read_seq - m.uncounted > 0
					THEN d.last_seq - m.read_seq - m.uncounted ELSE 0 END)
				FROM members m JOIN dialogs d ON d.id = m.dialog_id
				WHERE m.user_id IN (` + placeholders(n) + `) GROUP BY m.user_id`
		})
		rows, err := s.r.QueryContext(ctx, q, args...)
		type total struct{ user, n int64 }
		ts, err := collect(rows, err, func(r interface{ Scan(...any) error }) (total, error) {
			var t total
			var n sql.NullInt64
			err := r.Scan(&t.user, &n)
			t.n = max(n.Int64, 0)
			return t, err
		})
		if err != nil {
			return nil, s.fail("unread totals", err)
		}
		for _, t := range ts {
			out[t.user] = t.n
		}
	}
	return out, nil
}

// MarkPushed raises (or clears) pushed_seq of many members per statement:
// raises first, so that a batch holding an alert and the read that covers
// it ends cleared.
func (s *Store) MarkPushed(ctx context.Context, marks []chat.PushMark) error {
	raise := map[chat.MemberKey]int64{}
	clear := map[chat.MemberKey]int64{}
	for _, m := range marks {
		k := chat.MemberKey{DialogID: m.DialogID, UserID: m.UserID}
		if m.Clear {
			clear[k] = max(clear[k], m.Seq)
		} else {
			raise[k] = max(raise[k], m.Seq)
		}
	}
	return s.write(ctx, "mark pushed", func(tx *sql.Tx) error {
		// Raise: pushed_seq = max(pushed_seq, seq); clear: 0 if at most seq.
		if err := s.markPushed(ctx, tx, raise, `CASE WHEN pushed_seq < ? THEN ? ELSE pushed_seq END`, 2); err != nil {
			return err
		}
		return s.markPushed(ctx, tx, clear, `CASE WHEN pushed_seq <= ? THEN 0 ELSE pushed_seq END`, 1)
	})
}

// markPushed sets pushed_seq to expr for each member, expr taking the
// member's seq seqArgs times.
func (s *Store) markPushed(ctx context.Context, tx *sql.Tx, marks map[chat.MemberKey]int64, expr string, seqArgs int) error {
	keys := make([]chat.MemberKey, 0, len(marks))
	for k := range marks {
		keys = append(keys, k)
	}
	// Sorted, so concurrent workers lock rows in one order (InnoDB).
	slices.SortFunc(keys, func(a, b chat.MemberKey) int {
		return cmp.Or(cmp.Compare(a.DialogID, b.DialogID), cmp.Compare(a.UserID, b.UserID))
	})
	for chunk := range slices.Chunk(keys, pushChunk) {
		var b strings.Builder
		b.WriteString(`UPDATE members SET pushed_seq = CASE`)
		args := make([]any, 0, (2+seqArgs)*len(chunk)+2*len(chunk))
		for _, k := range chunk {
			b.WriteString(` WHEN dialog_id = ? AND user_id = ? THEN ` + expr)
			args = append(args, k.DialogID, k.UserID)
			for range seqArgs {
				args = append(args, marks[k])
			}
		}
		b.WriteString(` ELSE pushed_seq END WHERE (dialog_id, user_id) IN (` + s.rowValues(len(chunk), "(?, ?)") + `)`)
		for _, k := range chunk {
			args = append(args, k.DialogID, k.UserID)
		}
		if _, err := tx.ExecContext(ctx, b.String(), args...); err != nil {
			return err
		}
	}
	return nil
}

// SetMute sets a member's muted_until and moves the dialog's version, since
// the member's view of the dialog changed.
func (s *Store) SetMute(ctx context.Context, dialogID, userID int64, until time.Time) error {
	return s.write(ctx, "set mute", func(tx *sql.Tx) error {
		var one int
		if err := tx.QueryRowContext(ctx, `SELECT 1 FROM members WHERE dialog_id = ? AND user_id = ?`+s.forUpdate(),
			dialogID, userID).Scan(&one); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE members SET muted_until = ? WHERE dialog_id = ? AND user_id = ?`,
			s.nullTS(until), dialogID, userID); err != nil {
			return err
		}
		return s.bumpDialogs(ctx, tx, []int64{dialogID})
	})
}
