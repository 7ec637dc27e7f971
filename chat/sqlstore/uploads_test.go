package sqlstore

import (
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/pressly/goose/v3"

	"github.com/korobka/korobka/chat"
	"github.com/korobka/korobka/migrations"
)

// TestMigrationClaimsListedUploads: uploads stored before 00007 become
// attached to the first live message that lists them, so the collector
// never removes a file a message shows; the rest become unattached (an
// upload only a deleted message listed is collected a day on).
func TestMigrationClaimsListedUploads(t *testing.T) {
	for _, d := range dialects() {
		t.Run(string(d.name), func(t *testing.T) {
			dsn := d.freshDB(t)
			if d.name == SQLite {
				if err := os.MkdirAll(filepath.Dir(dsn), 0o755); err != nil {
					t.Fatal(err)
				}
			}
			ctx := t.Context()
			w, r, err := connect(d.name, dsn)
			if err != nil {
				t.Fatal(err)
			}
			defer closeDBs(w, r)
			fsys, err := fs.Sub(migrations.FS, string(d.name))
			if err != nil {
				t.Fatal(err)
			}
			gd := map[Dialect]goose.Dialect{SQLite: goose.DialectSQLite3, MySQL: goose.DialectMySQL}[d.name]
			p, err := goose.NewProvider(gd, w, fsys, goose.WithDisableGlobalRegistry(true), goose.WithSlog(slog.New(slog.DiscardHandler)))
			if err != nil {
				t.Fatal(err)
			}
			if _, err := p.UpTo(ctx, 5); err != nil {
				t.Fatal(err)
			}

			// Rows as the code before 00007 wrote them: messages list
			// attachments with unsigned URLs.
			s := &Store{dialect: d.name}
			t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
			exec := func(q string, args ...any) {
				t.Helper()
				if _, err := w.ExecContext(ctx, q, args...); err != nil {
					t.Fatalf("%s: %v", q, err)
				}
			}
			exec(`INSERT INTO users (id, phone, created_at) VALUES (1, '+79990000001', ?), (2, '+79990000002', ?)`, s.ts(t0), s.ts(t0))
			exec(`INSERT INTO dialogs (id, kind, created_by, last_seq, created_at, updated_at) VALUES (7, 'direct', 1, 2, ?, ?)`, s.ts(t0), s.ts(t0))
			upload := func(id int64, key string) {
				exec(`INSERT INTO uploads (id, owner_id, kind, media_key, name, size, mime, created_at) VALUES (?, 1, 'image', ?, 'a.jpg', 1, 'image/jpeg', ?)`,
					id, key, s.ts(t0))
			}
			upload(101, "uploads/aa")
			upload(102, "uploads/bb")
			upload(103, "uploads/cc")
			listing := func(id, key string) string {
				return `[{"id":"` + id + `","kind":"image","url":"/media/` + key + `.jpg","thumb_url":"/media/` + key + `_thumb.jpg","name":"a.jpg","size":1,"mime":"image/jpeg"}]`
			}
			exec(`INSERT INTO messages (dialog_id, seq, sender_id, client_id, text, attachments, created_at) VALUES (7, 1, 1, 'c1', '', ?, ?)`,
				listing("101", "uploads/aa"), s.ts(t0))
			exec(`INSERT INTO messages (dialog_id, seq, sender_id, client_id, text, attachments, created_at, deleted_at) VALUES (7, 2, 1, 'c2', '', ?, ?, ?)`,
				listing("103", "uploads/cc"), s.ts(t0), s.ts(t0))

			store := openStore(t, d.name, dsn) // migrates to the end
			for _, c := range []struct {
				id             int64
				state          chat.UploadState
				dialog, client string
			}{
				{101, chat.UploadAttached, "7", "c1"},
				{102, chat.UploadUnattached, "0", ""},
				{103, chat.UploadUnattached, "0", ""}, // only a deleted message listed it
			} {
				u, err := store.Upload(ctx, c.id)
				if err != nil {
					t.Fatal(err)
				}
				if u.State != c.state || chat.FormatID(u.DialogID) != c.dialog || u.ClientID != c.client {
					t.Errorf("upload %d: got %s (%d, %q), want %s (%s, %q)", c.id, u.State, u.DialogID, u.ClientID, c.state, c.dialog, c.client)
				}
			}
			// Deleting the message releases its upload.
			if _, err := store.DeleteMessage(ctx, 7, 1, 1, t0.Add(time.Hour)); err != nil {
				t.Fatal(err)
			}
			if u, _ := store.Upload(ctx, 101); u.State != chat.UploadDeleted {
				t.Errorf("upload 101 after its message's delete: %s, want deleted", u.State)
			}
		})
	}
}
