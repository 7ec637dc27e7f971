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

// PutOTP replaces the phone's code with one upsert. (Delete-then-insert
// was atomic too, but on MySQL the DELETE of a phone that has no code
// takes a gap lock, and concurrent logins of new numbers then deadlocked
// inserting into each other's gaps: Error 1213 under 32 logins.)
func (s *Store) PutOTP(ctx context.Context, otp chat.OTP) error {
	q := `INSERT INTO otp_codes (phone, hash, salt, attempts, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?)`
	if s.dialect == MySQL {
		q += ` ON DUPLICATE KEY UPDATE hash = VALUES(hash), salt = VALUES(salt), attempts = VALUES(attempts), created_at = VALUES(created_at), expires_at = VALUES(expires_at)`
	} else {
		q += ` ON CONFLICT (phone) DO UPDATE SET hash = excluded.hash, salt = excluded.salt, attempts = excluded.attempts, created_at = excluded.created_at, expires_at = excluded.expires_at`
	}
	return s.write(ctx, "put otp", func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, q, otp.Phone, otp.Hash, otp.Salt, otp.Attempts, s.ts(otp.CreatedAt), s.ts(otp.ExpiresAt))
		return err
	})
}

// TakeOTPAttempt increments first and reads second, in one transaction: the
// UPDATE's row lock makes concurrent guesses queue, so each sees its own
// count and none can slip past the limit. The read is made whether or not
// the UPDATE found a code, so a number with no code costs the same two
// statements as one with a code: verify's timing does not tell them apart.
func (s *Store) TakeOTPAttempt(ctx context.Context, phone string) (chat.OTP, error) {
	var otp chat.OTP
	err := s.write(ctx, "take otp attempt", func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `UPDATE otp_codes SET attempts = attempts + 1 WHERE phone = ?`, phone); err != nil {
			return err
		}
		var err error
		otp, err = s.otp(ctx, tx, phone)
		if errors.Is(err, sql.ErrNoRows) {
			return chat.ErrNotFound
		}
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

const userCols = `id, phone, first_name, last_name, avatar, role, presence, blocked_at, created_at, last_seen_at, time_zone`

// scanUser reads the columns of userCols, in that order.
func scanUser(row interface{ Scan(...any) error }) (chat.User, error) {
	var u chat.User
	var role, presence string
	err := row.Scan(&u.ID, &u.Phone, &u.FirstName, &u.LastName, &u.Avatar, &role, &presence,
		timeCol{&u.BlockedAt}, timeCol{&u.CreatedAt}, timeCol{&u.LastSeenAt}, &u.TimeZone)
	u.Role, u.Presence = chat.Role(role), chat.PresenceSetting(presence)
	return u, err
}

// searchName is the form names are searched in: chat.SearchKey, computed
// in Go (NFC and full case folding), since SQLite's lower() and LIKE fold
// ASCII only and MySQL's collations fold differently. Rows computed by an
// older rule are recomputed at start (backfillSearchNames).
func searchName(first, last string) string {
	return chat.SearchKey(first + " " + last)
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
		if upd.Presence != nil {
			u.Presence = *upd.Presence
		}
		_, err = tx.ExecContext(ctx,
			`UPDATE users SET first_name = ?, last_name = ?, search_name = ?, presence = ?, version = version + 1 WHERE id = ?`,
			u.FirstName, u.LastName, searchName(u.FirstName, u.LastName), string(u.Presence), id)
		return err
	})
	return u, err
}

// SetTimeZone stores the user's last time zone. The UPDATE only matches
// when the zone differs, so repeating the same zone changes nothing; the
// profile's version is left alone, since the zone a screen is shown in
// comes with each request.
func (s *Store) SetTimeZone(ctx context.Context, id int64, tz string) error {
	return s.write(ctx, "set time zone", func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `UPDATE users SET time_zone = ? WHERE id = ? AND time_zone <> ?`, tz, id, tz)
		return err
	})
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
	var (
		reused bool
		stolen chat.Session
	)
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
			reused, stolen = true, old
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
		return normalizeSession(stolen), s.fail("rotate session", chat.ErrTokenReused)
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

// RevokeUserSessions ends every live session of the user (a block, a role
// change) and drops the push devices they registered, as revokeFamily does
// for one family.
func (s *Store) RevokeUserSessions(ctx context.Context, userID int64, now time.Time) error {
	return s.write(ctx, "revoke user sessions", func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx,
			`UPDATE sessions SET revoked_at = ? WHERE user_id = ? AND revoked_at IS NULL`, s.ts(now), userID); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `DELETE FROM devices WHERE user_id = ?`, userID)
		return err
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
// The owner's row is locked first, so syncs of one book queue, and the book
// is counted after the inserts: over chat.MaxAddressBook, the transaction
// rolls back with chat.ErrAddressBookFull. An unknown owner is ErrNotFound.
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
		var id int64
		if err := tx.QueryRowContext(ctx, `SELECT id FROM users WHERE id = ?`+s.forUpdate(), owner).Scan(&id); err != nil {
			return err
		}
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
		size, err := s.bookSize(ctx, tx, owner)
		if err != nil {
			return err
		}
		if size > chat.MaxAddressBook {
			return chat.ErrAddressBookFull
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	slices.SortFunc(users, compareByName)
	return users, nil
}

// CountNewContacts counts, without writing, the distinct phones not in
// owner's book yet and the book's size: a sync's cost before it is made.
func (s *Store) CountNewContacts(ctx context.Context, owner int64, phones []string) (int, int, error) {
	phones = dedupe(phones)
	known := 0
	for chunk := range slices.Chunk(phones, syncChunk) {
		args := make([]any, 0, len(chunk)+1)
		args = append(args, owner)
		for _, p := range chunk {
			args = append(args, p)
		}
		var n int
		if err := s.r.QueryRowContext(ctx,
			`SELECT COUNT(*) FROM contacts WHERE owner_id = ? AND phone IN (`+placeholders(len(chunk))+`)`,
			args...).Scan(&n); err != nil {
			return 0, 0, s.fail("count new contacts", err)
		}
		known += n
	}
	size, err := s.bookSize(ctx, s.r, owner)
	if err != nil {
		return 0, 0, s.fail("count new contacts", err)
	}
	return len(phones) - known, size, nil
}

// bookSize counts the numbers in owner's address book (a range of the
// primary key).
func (s *Store) bookSize(ctx context.Context, q queryer, owner int64) (int, error) {
	var n int
	err := q.QueryRowContext(ctx, `SELECT COUNT(*) FROM contacts WHERE owner_id = ?`, owner).Scan(&n)
	return n, err
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

// Contacts lists owner's registered contacts. The query is put in
// chat.SearchKey form like search_name and its LIKE wildcards are escaped,
// so "%" or "_" match only themselves. '!' is the escape character because a backslash
// means different things in MySQL and SQLite string literals.
func (s *Store) Contacts(ctx context.Context, owner int64, query string, limit int) ([]chat.User, error) {
	if limit <= 0 {
		return []chat.User{}, nil
	}
	q := `SELECT ` + prefixed("u", userCols) + `
		FROM contacts c JOIN users u ON u.phone = c.phone
		WHERE c.owner_id = ? AND u.id <> ?`
	args := []any{owner, owner}
	if query = chat.SearchKey(query); query != "" {
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

// ---- presence ----

// watchersSQL selects userID's watchers (chat.DialogStore.Watchers) with a
// UNION of the two ways to share, each starting from what is small and
// indexed rather than from the whole address book:
//
//   - both have each other's number: the owners of the books holding
//     userID's number (contacts_phone) whose number is in userID's book
//     (primary key); neither setting is nobody;
//   - both wrote in a direct dialog of theirs (messages_dialog_sender on
//     MySQL, the prefix of messages_dialog_sender_client on SQLite):
//     each setting is everybody, or contacts with the other's number in
//     the book.
//
// viewer adds "and W is this user" to both halves, for Watches. The
// arguments are userID twice, then the viewer if any, per half.
func watchersSQL(viewer bool) string {
	one := ""
	if viewer {
		one = ` AND w.id = ?`
	}
	return `SELECT w.id FROM users u
		JOIN contacts theirs ON theirs.phone = u.phone
		JOIN users w ON w.id = theirs.owner_id
		JOIN contacts mine ON mine.owner_id = u.id AND mine.phone = w.phone
		WHERE u.id = ? AND w.id <> ?` + one + `
		AND u.presence <> 'nobody' AND w.presence <> 'nobody'
		UNION
		SELECT w.id FROM users u
		JOIN members m1 ON m1.user_id = u.id
		JOIN dialogs d ON d.id = m1.dialog_id AND d.kind = 'direct'
		JOIN members m2 ON m2.dialog_id = m1.dialog_id
		JOIN users w ON w.id = m2.user_id
		WHERE u.id = ? AND w.id <> ?` + one + `
		AND (u.presence = 'everybody' OR u.presence = 'contacts'
			AND EXISTS (SELECT 1 FROM contacts c WHERE c.owner_id = u.id AND c.phone = w.phone))
		AND (w.presence = 'everybody' OR w.presence = 'contacts'
			AND EXISTS (SELECT 1 FROM contacts c WHERE c.owner_id = w.id AND c.phone = u.phone))
		AND EXISTS (SELECT 1 FROM messages x WHERE x.dialog_id = m1.dialog_id AND x.sender_id = u.id)
		AND EXISTS (SELECT 1 FROM messages y WHERE y.dialog_id = m1.dialog_id AND y.sender_id = w.id)`
}

// Watchers returns, in ascending order, who sees userID's presence.
func (s *Store) Watchers(ctx context.Context, userID int64) ([]int64, error) {
	rows, err := s.r.QueryContext(ctx, watchersSQL(false), userID, userID, userID, userID)
	ids, err := collect(rows, err, func(r interface{ Scan(...any) error }) (int64, error) {
		var id int64
		return id, r.Scan(&id)
	})
	if err != nil {
		return nil, s.fail("watchers", err)
	}
	slices.Sort(ids)
	return ids, nil
}

// watchersOfSQL is watchersSQL for n users at once: it selects (user,
// watcher) pairs. The arguments are the n ids twice, once per half.
func watchersOfSQL(n int) string {
	in := placeholders(n)
	return `SELECT u.id, w.id FROM users u
		JOIN contacts theirs ON theirs.phone = u.phone
		JOIN users w ON w.id = theirs.owner_id
		JOIN contacts mine ON mine.owner_id = u.id AND mine.phone = w.phone
		WHERE u.id IN (` + in + `) AND w.id <> u.id
		AND u.presence <> 'nobody' AND w.presence <> 'nobody'
		UNION
		SELECT u.id, w.id FROM users u
		JOIN members m1 ON m1.user_id = u.id
		JOIN dialogs d ON d.id = m1.dialog_id AND d.kind = 'direct'
		JOIN members m2 ON m2.dialog_id = m1.dialog_id
		JOIN users w ON w.id = m2.user_id
		WHERE u.id IN (` + in + `) AND w.id <> u.id
		AND (u.presence = 'everybody' OR u.presence = 'contacts'
			AND EXISTS (SELECT 1 FROM contacts c WHERE c.owner_id = u.id AND c.phone = w.phone))
		AND (w.presence = 'everybody' OR w.presence = 'contacts'
			AND EXISTS (SELECT 1 FROM contacts c WHERE c.owner_id = w.id AND c.phone = u.phone))
		AND EXISTS (SELECT 1 FROM messages x WHERE x.dialog_id = m1.dialog_id AND x.sender_id = u.id)
		AND EXISTS (SELECT 1 FROM messages y WHERE y.dialog_id = m1.dialog_id AND y.sender_id = w.id)`
}

// WatchersOf returns the watchers of each of userIDs (Watchers), in one
// query per chat.MaxWatchersOf users; users without any are absent.
func (s *Store) WatchersOf(ctx context.Context, userIDs []int64) (map[int64][]int64, error) {
	out := make(map[int64][]int64)
	ids := slices.Clone(userIDs)
	slices.Sort(ids)
	ids = slices.Compact(ids)
	for chunk := range slices.Chunk(ids, chat.MaxWatchersOf) {
		args := make([]any, 0, 2*len(chunk))
		for range 2 {
			for _, id := range chunk {
				args = append(args, id)
			}
		}
		rows, err := s.r.QueryContext(ctx, watchersOfSQL(len(chunk)), args...)
		pairs, err := collect(rows, err, func(r interface{ Scan(...any) error }) ([2]int64, error) {
			var p [2]int64
			return p, r.Scan(&p[0], &p[1])
		})
		if err != nil {
			return nil, s.fail("watchers of", err)
		}
		for _, p := range pairs {
			out[p[0]] = append(out[p[0]], p[1])
		}
	}
	for _, w := range out {
		slices.Sort(w)
	}
	return out, nil
}

// Watches reports whether viewer sees userID's presence: Watchers' query
// narrowed to one user, so a profile view costs a few index probes.
func (s *Store) Watches(ctx context.Context, viewer, userID int64) (bool, error) {
	rows, err := s.r.QueryContext(ctx, watchersSQL(true), userID, userID, viewer, userID, userID, viewer)
	ids, err := collect(rows, err, func(r interface{ Scan(...any) error }) (int64, error) {
		var id int64
		return id, r.Scan(&id)
	})
	if err != nil {
		return false, s.fail("watches", err)
	}
	return len(ids) > 0, nil
}
