package sqlstore

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/korobka/korobka/chat"
)

// syncChunk is how many phones SyncContacts writes and looks up per
// statement: 500 rows of 3 values stay far below SQLite's 32,766 and
// MySQL's 65,535 placeholders, while 5,000 numbers take only ten round
// trips of each kind.
const syncChunk = 500

// ---- login codes ----

// PutOTP replaces the phone's code. Delete-then-insert is the one upsert
// both dialects spell the same way, and inside one transaction it is
// atomic.
func (s *Store) PutOTP(ctx context.Context, otp chat.OTP) error {
	return s.write(ctx, "put otp", func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM otp_codes WHERE phone = ?`, otp.Phone); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx,
			`INSERT INTO otp_codes (phone, hash, salt, attempts, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?)`,
			otp.Phone, otp.Hash, otp.Salt, otp.Attempts, s.ts(otp.CreatedAt), s.ts(otp.ExpiresAt))
		return err
	})
}

// TakeOTPAttempt increments first and reads second, in one transaction: the
// UPDATE's row lock makes concurrent guesses queue, so each sees its own
// count and none can slip past the limit.
func (s *Store) TakeOTPAttempt(ctx context.Context, phone string) (chat.OTP, error) {
	var otp chat.OTP
	err := s.write(ctx, "take otp attempt", func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE otp_codes SET attempts = attempts + 1 WHERE phone = ?`, phone)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			return chat.ErrNotFound
		}
		otp, err = s.otp(ctx, tx, phone)
		return err
	})
	return otp, err
}

func (s *Store) otp(ctx context.Context, tx *sql.Tx, phone string) (chat.OTP, error) {
	var o chat.OTP
	err := tx.QueryRowContext(ctx,
		`SELECT phone, hash, salt, attempts, created_at, expires_at FROM otp_codes WHERE phone = ?`+s.forUpdate(),
		phone).Scan(&o.Phone, &o.Hash, &o.Salt, &o.Attempts, timeCol{&o.CreatedAt}, timeCol{&o.ExpiresAt})
	return o, err
}

// DeleteOTP removes the phone's code; a phone with no code is no error, so
// a retried login does not fail on cleanup.
func (s *Store) DeleteOTP(ctx context.Context, phone string) error {
	return s.write(ctx, "delete otp", func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `DELETE FROM otp_codes WHERE phone = ?`, phone)
		return err
	})
}

// ---- users ----

const userCols = `id, phone, first_name, last_name, avatar, role, blocked_at, created_at, last_seen_at`

// scanUser reads the columns of userCols, in that order.
func scanUser(row interface{ Scan(...any) error }) (chat.User, error) {
	var u chat.User
	var role string
	err := row.Scan(&u.ID, &u.Phone, &u.FirstName, &u.LastName, &u.Avatar, &role,
		timeCol{&u.BlockedAt}, timeCol{&u.CreatedAt}, timeCol{&u.LastSeenAt})
	u.Role = chat.Role(role)
	return u, err
}

// searchName is the form names are searched in: lower-cased by Go, which
// folds Cyrillic and every other script the same way on both dialects
// (SQLite's lower() and LIKE fold ASCII only).
func searchName(first, last string) string {
	return strings.ToLower(strings.TrimSpace(first + " " + last))
}

// UpsertUser inserts the user unless the phone exists, then reads it back.
// Inserting first (with a do-nothing conflict clause) rather than reading
// first means two logins of a new number at once both end with the same
// user and no duplicate-key error: on MySQL the losing INSERT waits for the
// winner's row lock and then sees the row.
func (s *Store) UpsertUser(ctx context.Context, phone string, now time.Time) (chat.User, bool, error) {
	var u chat.User
	var created bool
	err := s.write(ctx, "upsert user", func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx,
			`INSERT INTO users (id, phone, first_name, last_name, search_name, avatar, role, created_at)
			 VALUES (?, ?, '', '', '', '', ?, ?)`+s.onConflictDoNothing("id"),
			chat.NewID(), phone, string(chat.RoleUser), s.ts(now))
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		if err != nil {
			return err
		}
		created = n == 1
		u, err = scanUser(tx.QueryRowContext(ctx, `SELECT `+userCols+` FROM users WHERE phone = ?`, phone))
		return err
	})
	return u, created, err
}

// User returns the user with the id, blocked or not.
func (s *Store) User(ctx context.Context, id int64) (chat.User, error) {
	u, err := s.user(ctx, s.r, id, "")
	if err != nil {
		return chat.User{}, s.fail("user", err)
	}
	return u, nil
}

func (s *Store) user(ctx context.Context, q queryer, id int64, lock string) (chat.User, error) {
	return scanUser(q.QueryRowContext(ctx, `SELECT `+userCols+` FROM users WHERE id = ?`+lock, id))
}

// UpdateProfile changes the set fields and keeps search_name in step with
// them.
func (s *Store) UpdateProfile(ctx context.Context, id int64, upd chat.ProfileUpdate) (chat.User, error) {
	var u chat.User
	err := s.write(ctx, "update profile", func(tx *sql.Tx) error {
		var err error
		if u, err = s.user(ctx, tx, id, s.forUpdate()); err != nil {
			return err
		}
		if upd.FirstName != nil {
			u.FirstName = *upd.FirstName
		}
		if upd.LastName != nil {
			u.LastName = *upd.LastName
		}
		_, err = tx.ExecContext(ctx,
			`UPDATE users SET first_name = ?, last_name = ?, search_name = ?, version = version + 1 WHERE id = ?`,
			u.FirstName, u.LastName, searchName(u.FirstName, u.LastName), id)
		return err
	})
	return u, err
}

// SetRole gives the user with the phone a role.
func (s *Store) SetRole(ctx context.Context, phone string, role chat.Role) (chat.User, error) {
	var u chat.User
	err := s.write(ctx, "set role", func(tx *sql.Tx) error {
		var err error
		u, err = scanUser(tx.QueryRowContext(ctx, `SELECT `+userCols+` FROM users WHERE phone = ?`+s.forUpdate(), phone))
		if err != nil {
			return err
		}
		u.Role = role
		_, err = tx.ExecContext(ctx, `UPDATE users SET role = ? WHERE id = ?`, string(role), u.ID)
		return err
	})
	return u, err
}

// SetAvatar swaps the avatar key under a row lock, so that of two
// concurrent uploads each learns the key it replaced and no file is
// orphaned.
func (s *Store) SetAvatar(ctx context.Context, id int64, key string) (chat.User, string, error) {
	var u chat.User
	var old string
	err := s.write(ctx, "set avatar", func(tx *sql.Tx) error {
		var err error
		if u, err = s.user(ctx, tx, id, s.forUpdate()); err != nil {
			return err
		}
		old, u.Avatar = u.Avatar, key
		_, err = tx.ExecContext(ctx, `UPDATE users SET avatar = ?, version = version + 1 WHERE id = ?`, key, id)
		return err
	})
	return u, old, err
}

// ---- sessions ----

const sessionCols = `id, user_id, family, access_hash, refresh_hash, device, created_at, access_expires_at, expires_at, rotated_at, revoked_at`

func scanSession(row interface{ Scan(...any) error }, extra ...any) (chat.Session, error) {
	var ss chat.Session
	dst := []any{&ss.ID, &ss.UserID, &ss.Family, &ss.AccessHash, &ss.RefreshHash, &ss.Device,
		timeCol{&ss.CreatedAt}, timeCol{&ss.AccessExpiresAt}, timeCol{&ss.ExpiresAt},
		timeCol{&ss.RotatedAt}, timeCol{&ss.RevokedAt}}
	err := row.Scan(append(dst, extra...)...)
	return ss, err
}

// CreateSession stores a login. An unknown user is ErrNotFound (the
// foreign key says so); a reused id or token hash ErrConflict.
func (s *Store) CreateSession(ctx context.Context, ss chat.Session) error {
	return s.write(ctx, "create session", func(tx *sql.Tx) error {
		return s.insertSession(ctx, tx, ss)
	})
}

func (s *Store) insertSession(ctx context.Context, tx *sql.Tx, ss chat.Session) error {
	_, err := tx.ExecContext(ctx,
		`INSERT INTO sessions (`+sessionCols+`) VALUES (`+placeholders(11)+`)`,
		ss.ID, ss.UserID, ss.Family, ss.AccessHash, ss.RefreshHash, ss.Device,
		s.ts(ss.CreatedAt), s.ts(ss.AccessExpiresAt), s.ts(ss.ExpiresAt),
		s.nullTS(ss.RotatedAt), s.nullTS(ss.RevokedAt))
	return err
}

// SessionByAccess authenticates a request: one indexed lookup joined with
// the user, so a block takes effect on the next request. A rotated session
// is still live until its access token expires, so requests already in
// flight when a client refreshes do not fail.
func (s *Store) SessionByAccess(ctx context.Context, accessHash []byte, now time.Time) (chat.Session, chat.Role, error) {
	var role string
	ss, err := scanSession(s.r.QueryRowContext(ctx,
		`SELECT `+prefixed("s", sessionCols)+`, u.role
		 FROM sessions s JOIN users u ON u.id = s.user_id
		 WHERE s.access_hash = ? AND s.revoked_at IS NULL AND s.access_expires_at > ? AND u.blocked_at IS NULL`,
		accessHash, s.ts(now)), &role)
	if err != nil {
		return chat.Session{}, "", s.fail("session by access", err)
	}
	return ss, chat.Role(role), nil
}

// RotateSession reads the session under a row lock (FOR UPDATE on MySQL;
// SQLite's single writer serialises the rest), so of two refreshes with the
// same token exactly one succeeds and the other is treated as reuse. A
// blocked user's token still rotates: the Service checks the block next and
// answers user_blocked rather than invalid_token.
func (s *Store) RotateSession(ctx context.Context, refreshHash []byte, next chat.Session, now time.Time) (chat.Session, error) {
	var reused bool
	err := s.write(ctx, "rotate session", func(tx *sql.Tx) error {
		reused = false
		// Find the row by its token without a lock, then lock it by primary
		// key. Locking through the refresh_hash index instead makes the
		// waiting refreshes hold up the winner's insert of its new refresh
		// hash into that index: an InnoDB deadlock on every concurrent
		// refresh. The hash never moves to another row, so the unlocked
		// read is safe; the locked one sees the latest rotated_at.
		var id int64
		err := tx.QueryRowContext(ctx, `SELECT id FROM sessions WHERE refresh_hash = ?`, refreshHash).Scan(&id)
		if errors.Is(err, sql.ErrNoRows) {
			return chat.ErrInvalidToken
		}
		if err != nil {
			return err
		}
		old, err := scanSession(tx.QueryRowContext(ctx,
			`SELECT `+sessionCols+` FROM sessions WHERE id = ?`+s.forUpdate(), id))
		switch {
		case err != nil:
			return err
		case !old.RotatedAt.IsZero():
			// Checked before revocation: a rotated token coming back is a
			// theft signal even when the family has since been ended.
			reused = true
			return s.revokeFamily(ctx, tx, old.Family, now)
		case !old.RevokedAt.IsZero(), !now.Before(old.ExpiresAt):
			return chat.ErrInvalidToken
		}
		if _, err := tx.ExecContext(ctx,
			`UPDATE sessions SET rotated_at = ? WHERE id = ?`, s.ts(now), old.ID); err != nil {
			return err
		}
		next.UserID, next.Family = old.UserID, old.Family
		if next.Device == "" {
			next.Device = old.Device
		}
		next.RotatedAt, next.RevokedAt = time.Time{}, time.Time{}
		return s.insertSession(ctx, tx, next)
	})
	if err != nil {
		return chat.Session{}, err
	}
	if reused {
		// The revocation above is committed; only now report the reuse.
		return chat.Session{}, s.fail("rotate session", chat.ErrTokenReused)
	}
	return normalizeSession(next), nil
}

// normalizeSession makes a session the caller built look as if read back:
// UTC times at microsecond precision.
func normalizeSession(ss chat.Session) chat.Session {
	for _, t := range []*time.Time{&ss.CreatedAt, &ss.AccessExpiresAt, &ss.ExpiresAt, &ss.RotatedAt, &ss.RevokedAt} {
		if !t.IsZero() {
			*t = t.UTC().Truncate(time.Microsecond)
		}
	}
	return ss
}

// RevokeFamily ends every session of the family. An unknown or already
// ended family is no error: logging out twice is fine.
func (s *Store) RevokeFamily(ctx context.Context, family int64, now time.Time) error {
	return s.write(ctx, "revoke family", func(tx *sql.Tx) error {
		return s.revokeFamily(ctx, tx, family, now)
	})
}

// revokeFamily ends a session family and drops the push devices it
// registered, in the caller's transaction: every way a session ends
// (logout, a reused refresh token) goes through here, so no ended session
// keeps receiving pushes or keeps its tokens stored.
func (s *Store) revokeFamily(ctx context.Context, tx *sql.Tx, family int64, now time.Time) error {
	if _, err := tx.ExecContext(ctx,
		`UPDATE sessions SET revoked_at = ? WHERE family = ? AND revoked_at IS NULL`, s.ts(now), family); err != nil {
		return err
	}
	_, err := tx.ExecContext(ctx, `DELETE FROM devices WHERE family = ?`, family)
	return err
}

// prefixed qualifies each column of a comma-separated list with alias.
func prefixed(alias, cols string) string {
	return alias + "." + strings.ReplaceAll(cols, ", ", ", "+alias+".")
}

// ---- contacts ----

// SyncContacts stores the numbers and returns the registered users among
// them, ordered like Contacts. Empty and repeated numbers are dropped
// first; the rest go in chunks of syncChunk, each one multi-row INSERT that
// leaves known numbers alone and one IN lookup, all in one transaction.
// An unknown owner is ErrNotFound.
func (s *Store) SyncContacts(ctx context.Context, owner int64, phones []string) ([]chat.User, error) {
	phones = dedupe(phones)
	users := []chat.User{}
	if len(phones) == 0 {
		// Still report an unknown owner, as a non-empty sync would.
		if _, err := s.user(ctx, s.r, owner, ""); err != nil {
			return nil, s.fail("sync contacts", err)
		}
		return users, nil
	}
	now := s.ts(s.now())
	err := s.write(ctx, "sync contacts", func(tx *sql.Tx) error {
		users = users[:0] // write may run this again after a deadlock
		for chunk := range slices.Chunk(phones, syncChunk) {
			if err := s.insertContacts(ctx, tx, owner, chunk, now); err != nil {
				return err
			}
			found, err := s.usersByPhone(ctx, tx, owner, chunk)
			if err != nil {
				return err
			}
			users = append(users, found...)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	slices.SortFunc(users, compareByName)
	return users, nil
}

func (s *Store) insertContacts(ctx context.Context, tx *sql.Tx, owner int64, phones []string, now any) error {
	var b strings.Builder
	b.WriteString(`INSERT INTO contacts (owner_id, phone, created_at) VALUES `)
	args := make([]any, 0, 3*len(phones))
	for i, p := range phones {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString("(?, ?, ?)")
		args = append(args, owner, p, now)
	}
	b.WriteString(s.onConflictDoNothing("owner_id"))
	_, err := tx.ExecContext(ctx, b.String(), args...)
	return err
}

func (s *Store) usersByPhone(ctx context.Context, tx *sql.Tx, owner int64, phones []string) ([]chat.User, error) {
	args := make([]any, 0, len(phones)+1)
	for _, p := range phones {
		args = append(args, p)
	}
	args = append(args, owner)
	return collectUsers(tx.QueryContext(ctx,
		`SELECT `+userCols+` FROM users WHERE phone IN (`+placeholders(len(phones))+`) AND id <> ?`, args...))
}

// Contacts lists owner's registered contacts. The query is lower-cased in
// Go like search_name and its LIKE wildcards are escaped, so "%" or "_"
// match only themselves. '!' is the escape character because a backslash
// means different things in MySQL and SQLite string literals.
func (s *Store) Contacts(ctx context.Context, owner int64, query string, limit int) ([]chat.User, error) {
	if limit <= 0 {
		return []chat.User{}, nil
	}
	q := `SELECT ` + prefixed("u", userCols) + `
		FROM contacts c JOIN users u ON u.phone = c.phone
		WHERE c.owner_id = ? AND u.id <> ?`
	args := []any{owner, owner}
	if query = strings.ToLower(strings.TrimSpace(query)); query != "" {
		q += ` AND u.search_name LIKE ? ESCAPE '!'`
		args = append(args, "%"+escapeLike(query)+"%")
	}
	q += ` ORDER BY u.search_name, u.id LIMIT ?`
	args = append(args, limit)
	users, err := collectUsers(s.r.QueryContext(ctx, q, args...))
	if err != nil {
		return nil, s.fail("contacts", err)
	}
	return users, nil
}

// KnowsPhone reports whether phone is in owner's address book: whether
// owner may see that number on a profile.
func (s *Store) KnowsPhone(ctx context.Context, owner int64, phone string) (bool, error) {
	var one int
	err := s.r.QueryRowContext(ctx,
		`SELECT 1 FROM contacts WHERE owner_id = ? AND phone = ?`, owner, phone).Scan(&one)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return false, nil
	case err != nil:
		return false, s.fail("knows phone", err)
	}
	return true, nil
}

func collectUsers(rows *sql.Rows, err error) ([]chat.User, error) {
	return collect(rows, err, scanUser)
}

// collect scans every row of a query with scan and closes the rows. It
// takes the query's error too, so callers need no check between the two.
func collect[T any](rows *sql.Rows, err error, scan func(interface{ Scan(...any) error }) (T, error)) ([]T, error) {
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []T{}
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// compareByName orders users as Contacts' ORDER BY search_name, id does:
// both compare bytes (utf8mb4_bin on MySQL, BINARY on SQLite).
func compareByName(a, b chat.User) int {
	return cmp.Or(
		strings.Compare(searchName(a.FirstName, a.LastName), searchName(b.FirstName, b.LastName)),
		cmp.Compare(a.ID, b.ID),
	)
}

func escapeLike(s string) string {
	return strings.NewReplacer("!", "!!", "%", "!%", "_", "!_").Replace(s)
}

// dedupe drops empty and repeated strings, keeping first occurrences.
func dedupe(in []string) []string {
	seen := make(map[string]struct{}, len(in))
	out := make([]string, 0, len(in))
	for _, s := range in {
		if _, ok := seen[s]; ok || s == "" {
			continue
		}
		seen[s] = struct{}{}
		out = append(out, s)
	}
	return out
}
