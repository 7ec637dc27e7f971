// Package sqlstore is chat.Store and chat.ContentStore on database/sql: one
// implementation with two dialects, SQLite (modernc.org/sqlite, no cgo) for
// the embedded default and MySQL/MariaDB (go-sql-driver/mysql) for
// production. The SQL is written by hand and kept to what both dialects
// share; the few differences (upsert syntax, row locks, how times are
// stored) are small methods on Store rather than two copies of each query.
package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/pressly/goose/v3"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/korobka/korobka/chat"
	"github.com/korobka/korobka/migrations"
)

// Dialect names the database a Store talks to. Its value is also the folder
// of migrations.FS that holds that dialect's schema.
type Dialect string

// Dialects. SQLite takes a file path as its DSN; MySQL takes a
// go-sql-driver DSN (user:pass@tcp(host:3306)/dbname), whose database must
// exist.
const (
	SQLite Dialect = "sqlite"
	MySQL  Dialect = "mysql"
)

// Store keeps users, sessions, login codes, contacts, content, dialogs,
// members and messages in SQL.
// Every public method runs in one transaction (or is a single statement);
// private helpers take the transaction. Driver errors are translated here,
// at the boundary: a duplicate key is chat.ErrConflict, a missing row or
// an unknown referenced user chat.ErrNotFound.
type Store struct {
	dialect Dialect
	// w takes every write. On SQLite it is a single connection that starts
	// transactions with BEGIN IMMEDIATE: writers queue in Go for the one
	// connection instead of racing for SQLite's write lock, so they never
	// see SQLITE_BUSY, and a transaction that reads before it writes cannot
	// fail to upgrade its lock. On MySQL w and r are the same pool.
	w *sql.DB
	// r serves reads that need no write lock; with WAL, SQLite readers run
	// beside the writer.
	r      *sql.DB
	logger *slog.Logger
	// now stamps rows whose time the interface does not pass in (a
	// contact's created_at). It is informational only, never compared.
	now func() time.Time

	// sql caches statement texts that vary only in their row count.
	sql sqlCache
	// hot holds the commit path's statements prepared on the SQLite
	// writer, by name and row count (hot.go); nil on MySQL.
	hot map[hotKey]*sql.Stmt
	// lanes is the MySQL commit parallelism SetCommitParallelism set; 0:
	// mysqlCommitters.
	lanes int
	// ckpt runs the WAL checkpoints beside the writer (checkpoint.go);
	// nil on MySQL.
	ckpt *checkpointer

	closeOnce sync.Once
	closeErr  error
}

var (
	_ chat.Store             = (*Store)(nil)
	_ chat.ParallelCommitter = (*Store)(nil)
)

// Open connects to the database, brings its schema up to date and returns
// the Store. For SQLite the file and its parent folder are created when
// missing. A nil logger discards.
func Open(ctx context.Context, dialect Dialect, dsn string, logger *slog.Logger) (*Store, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	w, r, err := connect(dialect, dsn)
	if err != nil {
		return nil, err
	}
	s := &Store{dialect: dialect, w: w, r: r, logger: logger, now: time.Now}
	if err := s.w.PingContext(ctx); err != nil {
		s.Close()
		return nil, fmt.Errorf("sqlstore: connect to %s: %w", dialect, err)
	}
	if _, err := migrate(ctx, dialect, w, logger); err != nil {
		s.Close()
		return nil, err
	}
	if err := backfill(ctx, s, logger); err != nil {
		s.Close()
		return nil, err
	}
	if err := s.prepareHot(ctx); err != nil {
		s.Close()
		return nil, err
	}
	if dialect == SQLite {
		if s.ckpt, err = openCheckpointer(dsn, logger); err != nil {
			s.Close()
			return nil, err
		}
	}
	return s, nil
}

// Migrate brings the schema of the database at dsn up to date, recomputes
// the columns computed in Go whose rule changed (backfill.go), and returns
// the names of the migration files it applied (none when it was current).
// `korobka migrate` calls it so that operators can migrate before rolling
// out nodes; Open does the same on its own, so calling it is optional.
func Migrate(ctx context.Context, dialect Dialect, dsn string) ([]string, error) {
	w, r, err := connect(dialect, dsn)
	if err != nil {
		return nil, err
	}
	defer closeDBs(w, r)
	logger := slog.New(slog.DiscardHandler)
	applied, err := migrate(ctx, dialect, w, logger)
	if err != nil {
		return nil, err
	}
	s := &Store{dialect: dialect, w: w, r: r, logger: logger, now: time.Now}
	return applied, backfill(ctx, s, logger)
}

// connect opens the writer and reader pools without touching the database.
func connect(dialect Dialect, dsn string) (w, r *sql.DB, err error) {
	switch dialect {
	case SQLite:
		return connectSQLite(dsn)
	case MySQL:
		return connectMySQL(dsn)
	default:
		return nil, nil, fmt.Errorf("sqlstore: unknown dialect %q (want %q or %q)", dialect, SQLite, MySQL)
	}
}

// connectSQLite opens the file at path twice: one writer connection and a
// pool of read-only readers.
//
// synchronous=FULL: in WAL mode NORMAL skips the fsync at commit, so a
// power cut (not a process crash) can lose the last transactions after they
// were acknowledged. "Acknowledged = persisted" forbids that; FULL costs one
// fsync per commit, which group commit amortises.
//
// secure_delete=ON on the writer: SQLite overwrites the bytes it frees with
// zeros (a deleted message's old cell, freed overflow pages), so a deleted
// message's text is gone from the database file, not only hidden. Its cost
// is below what BenchmarkSecureDelete can tell from noise on a shared
// disk; deletes are rare anyway. The WAL keeps the old page until it is
// overwritten (docs/operations.md, "Deleted messages").
func connectSQLite(path string) (w, r *sql.DB, err error) {
	if path == "" || strings.ContainsRune(path, '?') || strings.HasPrefix(path, "file:") {
		return nil, nil, fmt.Errorf("sqlstore: sqlite dsn must be a plain file path, got %q", path)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return nil, nil, fmt.Errorf("sqlstore: create data folder: %w", err)
	}
	// busy_timeout still matters: another process (korobka migrate) may hold
	// the file, and WAL checkpoints briefly lock readers out. A 16 MiB page
	// cache per connection keeps the pages of active dialogs in memory, so
	// a batch of messages spread over many dialogs reads few pages; the
	// statement journals of multi-row inserts stay in memory too.
	const common = "_pragma=busy_timeout(10000)&_pragma=foreign_keys(1)&_pragma=cache_size(-16384)&_pragma=temp_store(MEMORY)"
	w, err = sql.Open("sqlite", path+"?"+common+
		"&_pragma=journal_mode(WAL)&_pragma=synchronous(FULL)&_pragma=secure_delete(1)&_pragma=wal_autocheckpoint("+strconv.Itoa(walRestartPages)+")&_txlock=immediate")
	if err != nil {
		return nil, nil, fmt.Errorf("sqlstore: open sqlite writer: %w", err)
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxLifetime(0)
	w.SetConnMaxIdleTime(0)

	r, err = sql.Open("sqlite", path+"?"+common+"&_pragma=query_only(1)")
	if err != nil {
		w.Close()
		return nil, nil, fmt.Errorf("sqlstore: open sqlite readers: %w", err)
	}
	n := max(4, runtime.GOMAXPROCS(0))
	r.SetMaxOpenConns(n)
	r.SetMaxIdleConns(n)
	r.SetConnMaxIdleTime(0)
	return w, r, nil
}

// connectMySQL opens one pool for reads and writes. The DSN's own settings
// are kept; the ones the store depends on are forced.
func connectMySQL(dsn string) (w, r *sql.DB, err error) {
	cfg, err := mysql.ParseDSN(dsn)
	if err != nil {
		return nil, nil, fmt.Errorf("sqlstore: parse mysql dsn: %w", err)
	}
	if cfg.DBName == "" {
		return nil, nil, errors.New("sqlstore: mysql dsn names no database (user@tcp(host:3306)/korobka)")
	}
	cfg.ParseTime = true
	cfg.Loc = time.UTC
	// Our SQL always uses placeholders; the driver fills them in on the
	// client, escaping each value for the connection's utf8mb4 charset (it
	// refuses to where escaping would be unsafe). That halves the round
	// trips of every statement with arguments (no prepare + execute),
	// which a batch of several statements per commit pays on every message.
	cfg.InterpolateParams = true
	// Rows affected must count changed rows: UpsertUser tells an insert (1)
	// from an existing row (0) by it.
	cfg.ClientFoundRows = false
	cfg.MultiStatements = false
	cfg.Collation = "utf8mb4_unicode_ci"
	if cfg.Params == nil {
		cfg.Params = map[string]string{}
	}
	// Strict mode turns silent truncation into errors, as SQLite's STRICT
	// tables do; the session time zone makes NOW() and friends UTC.
	cfg.Params["sql_mode"] = "'TRADITIONAL'"
	cfg.Params["time_zone"] = "'+00:00'"
	conn, err := mysql.NewConnector(cfg)
	if err != nil {
		return nil, nil, fmt.Errorf("sqlstore: mysql connector: %w", err)
	}
	db := sql.OpenDB(conn)
	// A node's share of a MySQL primary: enough for concurrent requests,
	// few enough that a dozen nodes stay under max_connections (151 by
	// default). Connections are recycled so failovers and proxies that cut
	// idle links do not leave dead ones in the pool.
	db.SetMaxOpenConns(32)
	db.SetMaxIdleConns(16)
	db.SetConnMaxLifetime(5 * time.Minute)
	db.SetConnMaxIdleTime(time.Minute)
	return db, db, nil
}

// migrate applies the dialect's pending migrations on db with goose's
// Provider (no goose globals) and returns the applied file names.
func migrate(ctx context.Context, dialect Dialect, db *sql.DB, logger *slog.Logger) ([]string, error) {
	fsys, err := fs.Sub(migrations.FS, string(dialect))
	if err != nil {
		return nil, fmt.Errorf("sqlstore: migrations for %s: %w", dialect, err)
	}
	opts := []goose.ProviderOption{
		goose.WithDisableGlobalRegistry(true),
		goose.WithSlog(logger),
	}
	var gd goose.Dialect
	switch dialect {
	case SQLite:
		gd = goose.DialectSQLite3
	case MySQL:
		gd = goose.DialectMySQL
		// Nodes starting together would otherwise race to create the same
		// tables.
		opts = append(opts, goose.WithSessionLocker(mysqlLocker{}))
	}
	p, err := goose.NewProvider(gd, db, fsys, opts...)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: migrations: %w", err)
	}
	results, err := p.Up(ctx)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: migrate %s: %w", dialect, err)
	}
	applied := make([]string, 0, len(results))
	for _, res := range results {
		applied = append(applied, filepath.Base(res.Source.Path))
	}
	return applied, nil
}

// mysqlLocker serialises migrations across nodes with a named lock held by
// goose's connection: MySQL releases it by itself if the node dies, so no
// stale lock row can block the next start. The name includes the database
// so that databases sharing a server do not wait for each other.
type mysqlLocker struct{}

const mysqlLockName = "LEFT(CONCAT('korobka_migrate:', DATABASE()), 64)"

func (mysqlLocker) SessionLock(ctx context.Context, conn *sql.Conn) error {
	var ok sql.NullInt64
	if err := conn.QueryRowContext(ctx, "SELECT GET_LOCK("+mysqlLockName+", 300)").Scan(&ok); err != nil {
		return fmt.Errorf("take migration lock: %w", err)
	}
	if !ok.Valid || ok.Int64 != 1 {
		return errors.New("take migration lock: timed out after 300s")
	}
	return nil
}

func (mysqlLocker) SessionUnlock(ctx context.Context, conn *sql.Conn) error {
	if _, err := conn.ExecContext(ctx, "DO RELEASE_LOCK("+mysqlLockName+")"); err != nil {
		return fmt.Errorf("release migration lock: %w", err)
	}
	return nil
}

// Ping checks that the database answers, through both pools.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.w.PingContext(ctx); err != nil {
		return fmt.Errorf("sqlstore: ping: %w", err)
	}
	if s.r != s.w {
		if err := s.r.PingContext(ctx); err != nil {
			return fmt.Errorf("sqlstore: ping readers: %w", err)
		}
	}
	return nil
}

// Close closes the pools. It is idempotent, so shutdown code may call it
// without tracking whether it ran.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		s.closeHot()
		if s.ckpt != nil {
			// First, so that the writer's close, the last, checkpoints
			// the rest and removes the WAL.
			s.closeErr = s.ckpt.close()
		}
		s.closeErr = errors.Join(s.closeErr, closeDBs(s.w, s.r))
	})
	return s.closeErr
}

func closeDBs(w, r *sql.DB) error {
	err := w.Close()
	if r != w {
		err = errors.Join(err, r.Close())
	}
	return err
}

// queryer is what single-statement reads need: *sql.DB or *sql.Tx.
type queryer interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// write runs fn in a write transaction and commits when it returns nil.
// Errors come back translated and labelled with op.
//
// InnoDB may pick the transaction as a deadlock victim and roll it back, or
// give up waiting for a lock; MySQL's answer is to run the whole
// transaction again, so write does, up to writeAttempts times, after a
// short random pause that grows with each attempt (so that the contenders
// do not meet again in lockstep). fn must therefore set, not accumulate,
// whatever it reports to its caller.
func (s *Store) write(ctx context.Context, op string, fn func(tx *sql.Tx) error) error {
	for attempt := 1; ; attempt++ {
		err := s.writeOnce(ctx, fn)
		if err == nil {
			return nil
		}
		if attempt == writeAttempts || !isRetryable(err) {
			return s.fail(op, err)
		}
		s.logger.WarnContext(ctx, "sqlstore: transaction lost a lock race, retrying", "op", op, "attempt", attempt, "err", err)
		select {
		case <-ctx.Done():
			return s.fail(op, errors.Join(err, ctx.Err()))
		case <-time.After(retryPause(attempt)):
		}
	}
}

// writeAttempts bounds the runs of one write transaction (see write).
const writeAttempts = 8

// retryPause is the pause before the next run after attempt failed: a
// random time up to 2^attempt ms (2, 4, ... 128 ms; at most 254 ms over
// all attempts).
func retryPause(attempt int) time.Duration {
	return time.Duration(1+rand.Int64N(int64(time.Millisecond)<<attempt)) * time.Nanosecond
}

func (s *Store) writeOnce(ctx context.Context, fn func(tx *sql.Tx) error) error {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return err
	}
	if s.ckpt != nil {
		s.ckpt.wrote()
	}
	return nil
}

// isRetryable reports an InnoDB deadlock (ER_LOCK_DEADLOCK, 1213), after
// which the whole transaction has been rolled back, or a lock wait timeout
// (ER_LOCK_WAIT_TIMEOUT, 1205), after which write rolls it back: either
// way the transaction may simply run again. SQLite has no counterpart: its
// one writer connection cannot deadlock.
func isRetryable(err error) bool {
	var me *mysql.MySQLError
	return errors.As(err, &me) && (me.Number == 1213 || me.Number == 1205)
}

// fail labels err with op and translates driver errors into chat errors.
// The driver error stays in the chain (as chat.Error.Err) for the log.
func (s *Store) fail(op string, err error) error {
	return fmt.Errorf("sqlstore: %s: %w", op, translate(err))
}

func translate(err error) error {
	var ce *chat.Error
	if errors.As(err, &ce) {
		return err
	}
	if errors.Is(err, sql.ErrNoRows) {
		return wrapChat(chat.ErrNotFound, err)
	}
	var me *mysql.MySQLError
	if errors.As(err, &me) {
		switch me.Number {
		case 1062: // ER_DUP_ENTRY
			return wrapChat(chat.ErrConflict, err)
		case 1452: // ER_NO_REFERENCED_ROW_2: the user a row points to is gone
			return wrapChat(chat.ErrNotFound, err)
		}
		return err
	}
	var se *sqlite.Error
	if errors.As(err, &se) {
		switch se.Code() {
		case sqlite3.SQLITE_CONSTRAINT_UNIQUE, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
			return wrapChat(chat.ErrConflict, err)
		case sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY:
			return wrapChat(chat.ErrNotFound, err)
		}
	}
	return err
}

// wrapChat returns a copy of a chat sentinel carrying cause, so that
// errors.Is(err, sentinel) holds and the driver's message is kept.
func wrapChat(sentinel *chat.Error, cause error) error {
	e := *sentinel
	e.Err = cause
	return &e
}

// forUpdate is appended to a SELECT that reads a row the transaction is
// about to change. SQLite needs none: its writer transactions are
// serialised by BEGIN IMMEDIATE.
func (s *Store) forUpdate() string {
	if s.dialect == MySQL {
		return " FOR UPDATE"
	}
	return ""
}

// onConflictDoNothing ends an INSERT that should leave an existing row
// alone. On MySQL a no-op update is used instead of INSERT IGNORE, which
// would also turn real errors (truncation, bad values) into warnings; col
// is any column of the table.
func (s *Store) onConflictDoNothing(col string) string {
	if s.dialect == MySQL {
		return " ON DUPLICATE KEY UPDATE " + col + " = " + col
	}
	return " ON CONFLICT DO NOTHING"
}

// ts is a time as the dialect stores it: unix microseconds on SQLite, a
// UTC time.Time for MySQL's DATETIME(6). Both keep microseconds, so times
// are truncated to them here and read back equal on either dialect.
func (s *Store) ts(t time.Time) any {
	t = t.UTC().Truncate(time.Microsecond)
	if s.dialect == SQLite {
		return t.UnixMicro()
	}
	return t
}

// nullTS is ts for nullable columns: the zero time is NULL.
func (s *Store) nullTS(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return s.ts(t)
}

// timeCol scans a time column of either dialect; NULL is the zero time.
type timeCol struct{ t *time.Time }

func (c timeCol) Scan(v any) error {
	switch v := v.(type) {
	case nil:
		*c.t = time.Time{}
	case int64:
		*c.t = time.UnixMicro(v).UTC()
	case time.Time:
		*c.t = v.UTC()
	default:
		return fmt.Errorf("sqlstore: cannot scan %T into a time", v)
	}
	return nil
}

// placeholders returns "?, ?, ?" with n marks.
func placeholders(n int) string {
	if n <= 0 {
		return ""
	}
	return strings.Repeat("?, ", n-1) + "?"
}
