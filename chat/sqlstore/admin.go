package sqlstore

import (
	"cmp"
	"context"
	"database/sql"
	"slices"
	"strings"
	"time"

	"github.com/korobka/korobka/chat"
)

// ---- the admin core (chat.AdminStore) ----

// ListUsers pages the users on the index users_created (created_at, id),
// newest first. A name search filters search_name with LIKE as the contact
// search does; a phone search is a prefix of the E.164 phone.
func (s *Store) ListUsers(ctx context.Context, f chat.UserFilter, limit int) ([]chat.User, error) {
	if limit <= 0 {
		return []chat.User{}, nil
	}
	// The business account (chat.BusinessPhone) is nobody's account: it
	// is left out of lists and counts.
	q := `SELECT ` + userCols + ` FROM users WHERE phone <> ?`
	args := []any{chat.BusinessPhone}
	switch {
	case strings.HasPrefix(f.Query, "+"):
		q += ` AND phone LIKE ? ESCAPE '!'`
		args = append(args, escapeLike(f.Query)+"%")
	case f.Query != "":
		if key := chat.SearchKey(f.Query); key != "" {
			q += ` AND search_name LIKE ? ESCAPE '!'`
			args = append(args, "%"+escapeLike(key)+"%")
		}
	}
	if f.Role != "" {
		q += ` AND role = ?`
		args = append(args, string(f.Role))
	}
	if f.Blocked != nil {
		if *f.Blocked {
			q += ` AND blocked_at IS NOT NULL`
		} else {
			q += ` AND blocked_at IS NULL`
		}
	}
	if !f.RegisteredFrom.IsZero() {
		q += ` AND created_at >= ?`
		args = append(args, s.ts(f.RegisteredFrom))
	}
	if !f.RegisteredTo.IsZero() {
		q += ` AND created_at < ?`
		args = append(args, s.ts(f.RegisteredTo))
	}
	if in := f.Interacted; in != nil {
		// Each user is checked through form_submissions_author and
		// members_user_id: the cost is the user's own submissions and
		// dialogs, never the whole table.
		var or []string
		if len(in.Forms) > 0 {
			or = append(or, `EXISTS (SELECT 1 FROM form_submissions fs WHERE fs.author_id = users.id AND fs.collection IN (`+placeholders(len(in.Forms))+`))`)
			for _, f := range in.Forms {
				args = append(args, f)
			}
		}
		if len(in.Subjects) > 0 {
			or = append(or, `EXISTS (SELECT 1 FROM members m JOIN dialogs d ON d.id = m.dialog_id WHERE m.user_id = users.id AND d.subject IN (`+placeholders(len(in.Subjects))+`))`)
			for _, sub := range in.Subjects {
				args = append(args, sub)
			}
		}
		if len(or) == 0 {
			return []chat.User{}, nil
		}
		q += ` AND (` + strings.Join(or, ` OR `) + `)`
	}
	if f.After.ID != 0 {
		at := s.ts(f.After.CreatedAt)
		q += ` AND (created_at < ? OR (created_at = ? AND id < ?))`
		args = append(args, at, at, f.After.ID)
	}
	q += ` ORDER BY created_at DESC, id DESC LIMIT ?`
	args = append(args, limit)
	users, err := collectUsers(s.r.QueryContext(ctx, q, args...))
	if err != nil {
		return nil, s.fail("list users", err)
	}
	return users, nil
}

// SetUserRole changes the role of the user with the id.
func (s *Store) SetUserRole(ctx context.Context, id int64, role chat.Role) (chat.User, error) {
	var u chat.User
	err := s.write(ctx, "set user role", func(tx *sql.Tx) error {
		var err error
		if u, err = s.user(ctx, tx, id, s.forUpdate()); err != nil {
			return err
		}
		u.Role = role
		_, err = tx.ExecContext(ctx, `UPDATE users SET role = ? WHERE id = ?`, string(role), id)
		return err
	})
	return u, err
}

// SetBlocked sets or clears blocked_at; a block of a blocked user keeps
// its first time.
func (s *Store) SetBlocked(ctx context.Context, id int64, at time.Time) (chat.User, error) {
	var u chat.User
	err := s.write(ctx, "set blocked", func(tx *sql.Tx) error {
		var err error
		if u, err = s.user(ctx, tx, id, s.forUpdate()); err != nil {
			return err
		}
		switch {
		case at.IsZero():
			u.BlockedAt = time.Time{}
			_, err = tx.ExecContext(ctx, `UPDATE users SET blocked_at = NULL WHERE id = ?`, id)
		case u.BlockedAt.IsZero():
			u.BlockedAt = at.UTC().Truncate(time.Microsecond)
			_, err = tx.ExecContext(ctx, `UPDATE users SET blocked_at = ? WHERE id = ?`, s.ts(at), id)
		}
		return err
	})
	return u, err
}

// AllDialogs pages every dialog by id, newest first (ids grow).
func (s *Store) AllDialogs(ctx context.Context, before int64, limit int) ([]chat.Dialog, error) {
	if limit <= 0 {
		return []chat.Dialog{}, nil
	}
	q := `SELECT ` + dialogCols + ` FROM dialogs`
	var args []any
	if before > 0 {
		q += ` WHERE id < ?`
		args = append(args, before)
	}
	q += ` ORDER BY id DESC LIMIT ?`
	args = append(args, limit)
	rows, err := s.r.QueryContext(ctx, q, args...)
	out, err := collect(rows, err, func(r interface{ Scan(...any) error }) (chat.Dialog, error) {
		return scanDialog(r)
	})
	if err != nil {
		return nil, s.fail("all dialogs", err)
	}
	return out, nil
}

// CountUsers counts by role and block in one grouped scan.
func (s *Store) CountUsers(ctx context.Context) (chat.UserCounts, error) {
	c := chat.UserCounts{ByRole: map[chat.Role]int64{chat.RoleUser: 0, chat.RoleOperator: 0, chat.RoleAdmin: 0}}
	rows, err := s.r.QueryContext(ctx,
		`SELECT role, CASE WHEN blocked_at IS NULL THEN 0 ELSE 1 END, COUNT(*) FROM users WHERE phone <> ? GROUP BY 1, 2`,
		chat.BusinessPhone)
	if err != nil {
		return c, s.fail("count users", err)
	}
	defer rows.Close()
	for rows.Next() {
		var (
			role    string
			blocked int
			n       int64
		)
		if err := rows.Scan(&role, &blocked, &n); err != nil {
			return c, s.fail("count users", err)
		}
		c.Total += n
		c.ByRole[chat.Role(role)] += n
		if blocked == 1 {
			c.Blocked += n
		}
	}
	if err := rows.Err(); err != nil {
		return c, s.fail("count users", err)
	}
	return c, nil
}

// MarkActive inserts (day, user) rows that are missing, in chunks.
func (s *Store) MarkActive(ctx context.Context, day int, userIDs []int64) error {
	ids := slices.Clone(userIDs)
	slices.Sort(ids)
	ids = slices.Compact(ids)
	return s.write(ctx, "mark active", func(tx *sql.Tx) error {
		for chunk := range slices.Chunk(ids, idChunk) {
			args := make([]any, 0, 2*len(chunk))
			for _, id := range chunk {
				args = append(args, day, id)
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO user_days (day, user_id) VALUES `+
				tuples(len(chunk), "(?, ?)")+s.onConflictDoNothing("day"), args...); err != nil {
				return err
			}
		}
		return nil
	})
}

// AddDailyCounts adds to the node's rows, in key order so that two
// flushes lock rows alike.
func (s *Store) AddDailyCounts(ctx context.Context, node string, counts map[chat.DayCounter]int64) error {
	keys := make([]chat.DayCounter, 0, len(counts))
	for k := range counts {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b chat.DayCounter) int {
		return cmp.Or(cmp.Compare(a.Day, b.Day), strings.Compare(a.Counter, b.Counter))
	})
	upsert := ` ON CONFLICT (day, counter, node) DO UPDATE SET value = value + excluded.value`
	if s.dialect == MySQL {
		upsert = ` ON DUPLICATE KEY UPDATE value = value + VALUES(value)`
	}
	return s.write(ctx, "add daily counts", func(tx *sql.Tx) error {
		for _, k := range keys {
			if _, err := tx.ExecContext(ctx,
				`INSERT INTO daily_counts (day, counter, node, value) VALUES (?, ?, ?, ?)`+upsert,
				k.Day, k.Counter, node, counts[k]); err != nil {
				return err
			}
		}
		return nil
	})
}

// DailyFigures reads both tables over the day range: each is a range of
// its primary key.
func (s *Store) DailyFigures(ctx context.Context, from, to int) ([]chat.DayFigures, error) {
	byDay := map[int]*chat.DayFigures{}
	get := func(day int) *chat.DayFigures {
		f := byDay[day]
		if f == nil {
			f = &chat.DayFigures{Day: chat.DayString(day)}
			byDay[day] = f
		}
		return f
	}
	rows, err := s.r.QueryContext(ctx,
		`SELECT day, COUNT(*) FROM user_days WHERE day >= ? AND day <= ? GROUP BY day`, from, to)
	if err != nil {
		return nil, s.fail("daily figures", err)
	}
	for rows.Next() {
		var day int
		var n int64
		if err := rows.Scan(&day, &n); err != nil {
			rows.Close()
			return nil, s.fail("daily figures", err)
		}
		get(day).Actives = n
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, s.fail("daily figures", err)
	}
	rows, err = s.r.QueryContext(ctx,
		`SELECT day, counter, SUM(value) FROM daily_counts WHERE day >= ? AND day <= ? GROUP BY day, counter`, from, to)
	if err != nil {
		return nil, s.fail("daily figures", err)
	}
	defer rows.Close()
	for rows.Next() {
		var day int
		var counter string
		var n int64
		if err := rows.Scan(&day, &counter, &n); err != nil {
			return nil, s.fail("daily figures", err)
		}
		switch counter {
		case chat.CounterMessages:
			get(day).Messages = n
		case chat.CounterPushes:
			get(day).Pushes = n
		}
	}
	if err := rows.Err(); err != nil {
		return nil, s.fail("daily figures", err)
	}
	days := make([]int, 0, len(byDay))
	for d := range byDay {
		days = append(days, d)
	}
	slices.Sort(days)
	out := make([]chat.DayFigures, len(days))
	for i, d := range days {
		out[i] = *byDay[d]
	}
	return out, nil
}
