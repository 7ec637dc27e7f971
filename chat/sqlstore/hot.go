package sqlstore

import (
	"cmp"
	"context"
	"database/sql"
	"fmt"
	"iter"
	"math/bits"
	"slices"
	"strconv"
	"strings"

	"github.com/korobka/korobka/chat"
)

// The commit path's multi-row statements ("hot" statements) differ only in
// their row count. SQLite parses a statement anew for every Exec that
// passes its text, and parsing a multi-row INSERT cost its single writer
// about a third of a Commit (BenchmarkCommit's CPU profile,
// docs/benchmarks.md "Write path"). So on SQLite the rows go in chunks
// whose sizes are powers of two up to hotMaxRows, and each (statement,
// size) is prepared once on the writer connection when the store opens:
// a batch of n rows runs popcount(n) prepared statements (at most
// log2(hotMaxRows)+1 below hotMaxRows) and parses none. MySQL keeps one
// statement of up to commitChunk rows per chunk: its driver interpolates
// on the client and the server parses every statement anyway, so fewer,
// larger statements (fewer round trips) win there.
const hotMaxRows = 256

// hotStatements builds each hot statement's text for n rows.
var hotStatements = map[string]func(s *Store, n int) string{
	"lockDialogs":      (*Store).lockDialogsSQL,
	"insertMessages":   (*Store).insertMessagesSQL,
	"updateDialogs":    (*Store).updateDialogsSQL,
	"lockMembers":      (*Store).lockMembersSQL,
	"upsertWatermarks": (*Store).upsertWatermarksSQL,
	"bumpDialogs":      (*Store).bumpDialogsSQL,
}

// hotKey names one prepared statement: its name and row count.
type hotKey struct {
	name string
	n    int
}

// prepareHot prepares every hot statement for every chunk size on the
// writer (SQLite only; a no-op on MySQL). The map is read-only afterwards.
func (s *Store) prepareHot(ctx context.Context) error {
	if s.dialect != SQLite {
		return nil
	}
	s.hot = make(map[hotKey]*sql.Stmt, len(hotStatements)*(bits.Len(hotMaxRows)))
	for name, build := range hotStatements {
		for n := 1; n <= hotMaxRows; n *= 2 {
			st, err := s.w.PrepareContext(ctx, build(s, n))
			if err != nil {
				return fmt.Errorf("sqlstore: prepare %s/%d: %w", name, n, err)
			}
			s.hot[hotKey{name, n}] = st
		}
	}
	return nil
}

// closeHot closes the prepared hot statements.
func (s *Store) closeHot() {
	for _, st := range s.hot {
		st.Close()
	}
}

// rowChunks splits xs into the chunks of the commit statements: powers of
// two from the largest down on SQLite (each has a prepared statement),
// commitChunk rows at a time on MySQL.
func rowChunks[T any](s *Store, xs []T) iter.Seq[[]T] {
	return func(yield func([]T) bool) {
		for len(xs) > 0 {
			n := min(len(xs), commitChunk)
			if s.dialect == SQLite {
				n = min(hotMaxRows, 1<<(bits.Len(uint(len(xs)))-1))
			}
			if !yield(xs[:n:n]) {
				return
			}
			xs = xs[n:]
		}
	}
}

// hotStmt returns the transaction's handle on a prepared hot statement for
// n rows, or nil when there is none (MySQL, or a size rowChunks does not
// make).
func (s *Store) hotStmt(ctx context.Context, tx *sql.Tx, name string, n int) *sql.Stmt {
	if st := s.hot[hotKey{name, n}]; st != nil {
		return tx.StmtContext(ctx, st)
	}
	return nil
}

// execHot runs the hot statement name for n rows in tx: prepared when it
// can, from its (cached) text otherwise.
func (s *Store) execHot(ctx context.Context, tx *sql.Tx, name string, n int, args ...any) (sql.Result, error) {
	if st := s.hotStmt(ctx, tx, name, n); st != nil {
		return st.ExecContext(ctx, args...)
	}
	return tx.ExecContext(ctx, s.hotSQL(name, n), args...)
}

// queryHot is execHot for statements that return rows.
func (s *Store) queryHot(ctx context.Context, tx *sql.Tx, name string, n int, args ...any) (*sql.Rows, error) {
	if st := s.hotStmt(ctx, tx, name, n); st != nil {
		return st.QueryContext(ctx, args...)
	}
	return tx.QueryContext(ctx, s.hotSQL(name, n), args...)
}

// hotSQL is the text of the hot statement name for n rows.
func (s *Store) hotSQL(name string, n int) string {
	return s.sql.get(name, n, func(n int) string { return hotStatements[name](s, n) })
}

func (s *Store) lockDialogsSQL(n int) string {
	return `SELECT id, kind, created_by, last_seq, last_change, created_at, last_message_at FROM dialogs WHERE id IN (` +
		placeholders(n) + `) ORDER BY id` + s.forUpdate()
}

func (s *Store) insertMessagesSQL(n int) string {
	// On SQLite, OR FAIL spares the statement journal (a copy of every
	// page the insert touches): a duplicate key fails the whole
	// transaction anyway, and the batch is rerun.
	verb := `INSERT`
	if s.dialect == SQLite {
		verb = `INSERT OR FAIL`
	}
	return verb + ` INTO messages (dialog_id, seq, change_seq, sender_id, client_id, text, attachments, client_digest, created_at, system_event, reply_to, entities) VALUES ` +
		tuples(n, "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
}

func (s *Store) updateDialogsSQL(n int) string {
	q := `INSERT INTO dialogs (id, kind, created_by, last_seq, last_change, last_message_at, created_at, updated_at) VALUES ` +
		tuples(n, "(?, ?, ?, ?, ?, ?, ?, ?)")
	if s.dialect == MySQL {
		return q + ` ON DUPLICATE KEY UPDATE last_seq = VALUES(last_seq), last_change = VALUES(last_change), last_message_at = VALUES(last_message_at), updated_at = VALUES(updated_at), version = version + 1`
	}
	return q + ` ON CONFLICT (id) DO UPDATE SET last_seq = excluded.last_seq, last_change = excluded.last_change, last_message_at = excluded.last_message_at, updated_at = excluded.updated_at, version = version + 1`
}

func (s *Store) lockMembersSQL(n int) string {
	return `SELECT ` + memberCols + ` FROM members WHERE (dialog_id, user_id) IN (` + s.rowValues(n, "(?, ?)") + `)` + s.forUpdate()
}

func (s *Store) upsertWatermarksSQL(n int) string {
	q := `INSERT INTO members (dialog_id, user_id, delivered_seq, read_seq, uncounted, joined_at) VALUES ` +
		tuples(n, "(?, ?, ?, ?, ?, ?)")
	if s.dialect == MySQL {
		return q + ` ON DUPLICATE KEY UPDATE delivered_seq = VALUES(delivered_seq), read_seq = VALUES(read_seq), uncounted = VALUES(uncounted)`
	}
	return q + ` ON CONFLICT (dialog_id, user_id) DO UPDATE SET delivered_seq = excluded.delivered_seq, read_seq = excluded.read_seq, uncounted = excluded.uncounted`
}

func (s *Store) bumpDialogsSQL(n int) string {
	return `UPDATE dialogs SET version = version + 1 WHERE id IN (` + placeholders(n) + `)`
}

// lockDialogsAndMembers is lockDialogs and lockMembers in one statement,
// for MySQL, where each statement is a round trip: the dialogs' rows are
// locked first, in id order, then the member rows of keys (sorted), as the
// two statements lock them. It returns nil maps when the batch is larger
// than one chunk of either (the caller then takes the two statements).
// A key of a member that is not in the dialog finds no row.
func (s *Store) lockDialogsAndMembers(ctx context.Context, tx *sql.Tx, ids []int64, keys []memberKey) (map[int64]*dialogState, map[memberKey]chat.Member, error) {
	if s.dialect != MySQL || len(ids) == 0 || len(keys) == 0 || len(ids) > commitChunk || len(keys) > commitChunk {
		return nil, nil, nil
	}
	args := make([]any, 0, len(ids)+2*len(keys))
	for _, id := range ids {
		args = append(args, id)
	}
	for _, k := range keys {
		args = append(args, k.dialog, k.user)
	}
	q := s.sql.get("lockBoth/"+strconv.Itoa(len(ids)), len(keys), func(n int) string {
		null := func(n int) string { return strings.Repeat("NULL, ", n-1) + "NULL" }
		return `(SELECT 0 AS part, id, kind, created_by, last_seq, last_change, created_at, last_message_at, ` + null(memberColCount) +
			` FROM dialogs WHERE id IN (` + placeholders(len(ids)) + `) ORDER BY id FOR UPDATE)` +
			` UNION ALL (SELECT 1, ` + null(7) + `, ` + memberCols +
			` FROM members WHERE (dialog_id, user_id) IN (` + tuples(n, "(?, ?)") + `) FOR UPDATE)`
	})
	rows, err := tx.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, nil, err
	}
	defer rows.Close()
	dialogs := make(map[int64]*dialogState, len(ids))
	members := make(map[memberKey]chat.Member, len(keys))
	for rows.Next() {
		var part int
		var id, createdBy, lastSeq, lastChange sql.NullInt64
		var kind sql.NullString
		d := &dialogState{}
		var m chat.Member
		var mi [8]sql.NullInt64 // dialog_id, user_id, delivered, read, uncounted, pushed, visible_from, joined_seq
		var role sql.NullString
		if err := rows.Scan(&part, &id, &kind, &createdBy, &lastSeq, &lastChange, timeCol{&d.createdAt}, timeCol{&d.lastMessageAt},
			&mi[0], &mi[1], &mi[2], &mi[3], &mi[4], timeCol{&m.JoinedAt}, timeCol{&m.MutedUntil}, &mi[5], &role, &mi[6], &mi[7]); err != nil {
			return nil, nil, err
		}
		if part == 0 {
			d.kind, d.createdBy, d.lastSeq, d.lastChange = kind.String, createdBy.Int64, lastSeq.Int64, lastChange.Int64
			d.seqBefore = d.lastSeq
			dialogs[id.Int64] = d
			continue
		}
		m.DialogID, m.UserID, m.DeliveredSeq, m.ReadSeq, m.Uncounted = mi[0].Int64, mi[1].Int64, mi[2].Int64, mi[3].Int64, mi[4].Int64
		m.PushedSeq, m.Role, m.VisibleFrom, m.JoinedSeq = mi[5].Int64, chat.GroupRole(role.String), mi[6].Int64, mi[7].Int64
		members[memberKey{m.DialogID, m.UserID}] = m
	}
	return dialogs, members, rows.Err()
}

// memberColCount is the number of columns in memberCols.
var memberColCount = strings.Count(memberCols, ",") + 1

// sortMemberKeys sorts keys by dialog, then user: the primary key's order,
// in which rows are locked.
func sortMemberKeys(keys []memberKey) {
	slices.SortFunc(keys, func(a, b memberKey) int {
		return cmp.Or(cmp.Compare(a.dialog, b.dialog), cmp.Compare(a.user, b.user))
	})
}
