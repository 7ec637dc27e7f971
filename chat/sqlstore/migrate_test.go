package sqlstore

import (
	"database/sql"
	"io/fs"
	"testing"
	"testing/fstest"
	"time"

	"github.com/pressly/goose/v3"

	"github.com/korobka/korobka/chat"
	"github.com/korobka/korobka/migrations"
)

// migrateTo applies the dialect's migrations up to version on the store's
// writer, as an older release would have.
func migrateTo(t *testing.T, d Dialect, db *sql.DB, version int64) {
	t.Helper()
	fsys, err := fs.Sub(migrations.FS, string(d))
	if err != nil {
		t.Fatal(err)
	}
	gd := goose.DialectSQLite3
	if d == MySQL {
		gd = goose.DialectMySQL
	}
	p, err := goose.NewProvider(gd, db, fsys, goose.WithDisableGlobalRegistry(true))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.UpTo(t.Context(), version); err != nil {
		t.Fatalf("migrate to %d: %v", version, err)
	}
}

// TestMigrateDelivery upgrades a database written before 00008: the rows
// get their change numbers and uncounted counts, old messages (without a
// digest) still answer retries, and a client_id may now be reused in
// another dialog.
func TestMigrateDelivery(t *testing.T) {
	for _, d := range dialects() {
		t.Run(string(d.name), func(t *testing.T) {
			dsn := d.freshDB(t)
			w, r, err := connect(d.name, dsn)
			if err != nil {
				t.Fatal(err)
			}
			migrateTo(t, d.name, w, 5)
			old := &Store{dialect: d.name, w: w, r: r}
			ts := func(tm time.Time) any { return old.ts(tm) }
			now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
			exec := func(q string, args ...any) {
				t.Helper()
				if _, err := w.ExecContext(t.Context(), q, args...); err != nil {
					t.Fatalf("%s: %v", q, err)
				}
			}
			exec(`INSERT INTO users (id, phone, created_at) VALUES (1, '+79990000001', ?), (2, '+79990000002', ?)`, ts(now), ts(now))
			exec(`INSERT INTO dialogs (id, kind, created_by, direct_key, last_seq, created_at, updated_at) VALUES (7, 'direct', 1, '1:2:', 4, ?, ?)`, ts(now), ts(now))
			exec(`INSERT INTO members (dialog_id, user_id, delivered_seq, read_seq, joined_at) VALUES (7, 1, 4, 4, ?), (7, 2, 1, 1, ?)`, ts(now), ts(now))
			exec(`INSERT INTO messages (dialog_id, seq, sender_id, client_id, text, created_at, deleted_at) VALUES
				(7, 1, 1, 'a', 'one', ?, NULL), (7, 2, 1, 'b', '', ?, ?), (7, 3, 1, 'c', 'three', ?, NULL), (7, 4, 1, 'd', 'four', ?, NULL)`,
				ts(now), ts(now), ts(now), ts(now), ts(now))
			closeDBs(w, r)

			s := openStore(t, d.name, dsn) // migrates the rest
			ctx := t.Context()
			dl, err := s.Dialog(ctx, 7)
			if err != nil {
				t.Fatal(err)
			}
			if dl.LastChange != 4 {
				t.Errorf("last_change: got %d, want last_seq 4", dl.LastChange)
			}
			msgs, err := s.Changes(ctx, 7, 1, 10)
			if err != nil {
				t.Fatal(err)
			}
			if len(msgs) != 3 || msgs[0].Change != 2 || msgs[2].Change != 4 {
				t.Errorf("Changes since 1: got %+v, want seqs 2..4 with change = seq", msgs)
			}
			es, err := s.UserDialogs(ctx, 2, []int64{7})
			if err != nil || len(es) != 1 {
				t.Fatalf("UserDialogs: %v %v", es, err)
			}
			if es[0].Self.Uncounted != 1 || es[0].Self.Unread(es[0].Dialog) != 2 {
				t.Errorf("user 2: got uncounted %d unread %d, want 1 and 2 (seq 2 is deleted)", es[0].Self.Uncounted, es[0].Self.Unread(es[0].Dialog))
			}
			// A retry of an old send, and a client_id reused elsewhere.
			b := &chat.Batch{Appends: []chat.Append{
				{Msg: chat.Message{DialogID: 7, SenderID: 1, ClientID: "c", Text: "three", Digest: chat.PayloadDigest("three", nil), CreatedAt: now}},
			}}
			if err := s.Commit(ctx, b); err != nil {
				t.Fatal(err)
			}
			if a := b.Appends[0]; !a.Dup || a.Msg.Digest != nil || !a.Msg.SamePayload(chat.PayloadDigest("three", nil)) ||
				a.Msg.SamePayload(chat.PayloadDigest("other", nil)) {
				t.Errorf("retry of an old send: got %+v dup %v, want the stored message, matched by its content", a.Msg, a.Dup)
			}
			d2, _, err := s.DirectDialog(ctx, 1, 2, "other", now)
			if err != nil {
				t.Fatal(err)
			}
			b = &chat.Batch{Appends: []chat.Append{{Msg: chat.Message{DialogID: d2.ID, SenderID: 1, ClientID: "c", Text: "new", CreatedAt: now}}}}
			if err := s.Commit(ctx, b); err != nil {
				t.Fatal(err)
			}
			if b.Appends[0].Dup || b.Appends[0].Msg.Seq != 1 {
				t.Errorf("client_id c in another dialog: got %+v dup %v, want a new message", b.Appends[0].Msg, b.Appends[0].Dup)
			}
		})
	}
}

// released lists the migration versions that have shipped on main. A
// database a deployment migrated with them must upgrade to the newest
// schema; goose refuses a new migration numbered below one already
// applied (a "missing" migration), so new migrations are numbered after
// the highest released one. Add a version here once it has landed.
var released = []int64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 13, 14, 15, 16, 17, 18, 19, 21, 22, 24}

// TestMigrateFromReleasedSchema applies exactly the released migrations,
// as a running deployment has them, then opens the store, which must
// apply every newer migration in order.
func TestMigrateFromReleasedSchema(t *testing.T) {
	for _, d := range dialects() {
		t.Run(string(d.name), func(t *testing.T) {
			dsn := d.freshDB(t)
			applyReleased(t, d.name, dsn, 0, nil)
			openStore(t, d.name, dsn) // fails on a migration numbered below a released one
		})
	}
}

// applyReleased applies exactly the released migrations numbered below
// before (0: all of them) to the database at dsn, then runs fill (when
// not nil) on the writer before closing it: a test of a migration's data
// step fills the schema as it stood before that migration.
func applyReleased(t *testing.T, d Dialect, dsn string, before int64, fill func(w *sql.DB)) {
	t.Helper()
	w, r, err := connect(d, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer closeDBs(w, r)
	sub, err := fs.Sub(migrations.FS, string(d))
	if err != nil {
		t.Fatal(err)
	}
	keep := map[int64]bool{}
	for _, v := range released {
		if before == 0 || v < before {
			keep[v] = true
		}
	}
	shipped := fstest.MapFS{}
	all, err := fs.Glob(sub, "*.sql")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range all {
		v, err := goose.NumericComponent(name)
		if err != nil {
			t.Fatal(err)
		}
		if !keep[v] {
			continue
		}
		data, err := fs.ReadFile(sub, name)
		if err != nil {
			t.Fatal(err)
		}
		shipped[name] = &fstest.MapFile{Data: data}
	}
	if len(shipped) != len(keep) {
		t.Fatalf("found %d of the %d released migrations", len(shipped), len(keep))
	}
	gd := goose.DialectSQLite3
	if d == MySQL {
		gd = goose.DialectMySQL
	}
	p, err := goose.NewProvider(gd, w, shipped, goose.WithDisableGlobalRegistry(true))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Up(t.Context()); err != nil {
		t.Fatalf("apply the released migrations: %v", err)
	}
	if fill != nil {
		fill(w)
	}
}

// TestMigrateOperatorsFromAudit: before 00022 assignments and who answered
// lived only in the audit log; the migration copies the latest assignment
// of each dialog and every reply into their tables, skipping what names
// no dialog.
func TestMigrateOperatorsFromAudit(t *testing.T) {
	for _, d := range dialects() {
		t.Run(string(d.name), func(t *testing.T) {
			dsn := d.freshDB(t)
			at := time.Date(2026, 5, 1, 10, 0, 0, 0, time.UTC)
			ts := func(t time.Time) any {
				if d.name == SQLite {
					return t.UnixMicro()
				}
				return t
			}
			applyReleased(t, d.name, dsn, 22, func(w *sql.DB) { // as before 00022_operators
				exec := func(q string, args ...any) {
					t.Helper()
					if _, err := w.Exec(q, args...); err != nil {
						t.Fatalf("%s: %v", q, err)
					}
				}
				exec(`INSERT INTO users (id, phone, created_at) VALUES (1, '+79990000001', ?), (2, '+79990000002', ?)`, ts(at), ts(at))
				exec(`INSERT INTO dialogs (id, kind, created_by, created_at, updated_at) VALUES (70, 'direct', 1, ?, ?)`, ts(at), ts(at))
				audit := func(n int, actor int64, action, target, details string) {
					exec(`INSERT INTO audit_log (at, actor_id, actor_role, action, target_type, target_id, details) VALUES (?, ?, 'operator', ?, 'dialog', ?, ?)`,
						ts(at.Add(time.Duration(n)*time.Minute)), actor, action, target, details)
				}
				audit(1, 11, "dialog.assign", "70", `{"operator_id":"11"}`)
				audit(2, 11, "dialog.assign", "70", `{"operator_id":"12"}`) // the latest wins
				audit(3, 12, "dialog.assign", "99", `{"operator_id":"12"}`) // no such dialog
				audit(4, 12, "operator.reply", "70", `{"message_id":"70.3"}`)
				audit(5, 11, "operator.reply", "70", `{"message_id":"70.5"}`)
				audit(6, 11, "operator.reply", "99", `{"message_id":"99.1"}`)
			})
			s := openStore(t, d.name, dsn)
			as, err := s.Assignments(t.Context(), []int64{70, 99})
			if err != nil || len(as) != 1 || as[0].DialogID != 70 || as[0].OperatorID != 12 || as[0].AssignedBy != 11 ||
				!as[0].AssignedAt.Equal(at.Add(2*time.Minute)) {
				t.Fatalf("assignments: %+v %v", as, err)
			}
			rs, err := s.Replies(t.Context(), 70, 0, 10)
			if err != nil || len(rs) != 2 || rs[0].Seq != 5 || rs[0].OperatorID != 11 || rs[1].Seq != 3 || rs[1].OperatorID != 12 {
				t.Fatalf("replies: %+v %v", rs, err)
			}
			if rs, err := s.Replies(t.Context(), 99, 0, 10); err != nil || len(rs) != 0 {
				t.Fatalf("a missing dialog's replies were copied: %+v %v", rs, err)
			}
			c, err := s.Collections(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			for _, col := range c {
				if col.Tags == nil || len(col.Tags) != 0 {
					t.Fatalf("a collection from before 00022 has tags %v", col.Tags)
				}
			}
		})
	}
}
