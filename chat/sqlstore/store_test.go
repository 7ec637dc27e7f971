package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/korobka/korobka/chat"
	"github.com/korobka/korobka/chat/chattest"
	"github.com/korobka/korobka/migrations"
)

// dialects lists each dialect with a function that returns a fresh DSN for
// it; MySQL skips unless KOROBKA_TEST_MYSQL_DSN is set.
func dialects() []struct {
	name    Dialect
	freshDB func(t testing.TB) string
} {
	return []struct {
		name    Dialect
		freshDB func(t testing.TB) string
	}{
		{SQLite, func(t testing.TB) string { return filepath.Join(t.TempDir(), "data", "korobka.db") }},
		{MySQL, chattest.MySQLDSN},
	}
}

func openStore(t testing.TB, d Dialect, dsn string) *Store {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s, err := Open(ctx, d, dsn, nil)
	if err != nil {
		t.Fatalf("Open %s: %v", d, err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestStore(t *testing.T) {
	for _, d := range dialects() {
		t.Run(string(d.name), func(t *testing.T) {
			d.freshDB(t) // skips the whole dialect at once when its server is not configured
			chattest.TestStore(t, func(t *testing.T) chat.Store {
				return openStore(t, d.name, d.freshDB(t))
			})
		})
	}
}

func TestAdminPlatformStores(t *testing.T) {
	for _, d := range dialects() {
		t.Run(string(d.name), func(t *testing.T) {
			d.freshDB(t)
			chattest.TestPlatformStores(t, func(t *testing.T) chat.Store {
				return openStore(t, d.name, d.freshDB(t))
			})
		})
	}
}

func TestDeviceStore(t *testing.T) {
	for _, d := range dialects() {
		t.Run(string(d.name), func(t *testing.T) {
			d.freshDB(t)
			chattest.TestDeviceStore(t, func(t *testing.T) chat.Store {
				return openStore(t, d.name, d.freshDB(t))
			})
		})
	}
}

// TestBlockedUser covers what chat.Store cannot express: blocking is an
// admin action; here blocked_at is set directly to test the store alone.
func TestBlockedUser(t *testing.T) {
	for _, d := range dialects() {
		t.Run(string(d.name), func(t *testing.T) {
			s := openStore(t, d.name, d.freshDB(t))
			ctx := t.Context()
			now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
			u, _, err := s.UpsertUser(ctx, "+79990000001", now)
			if err != nil {
				t.Fatal(err)
			}
			_, access := chat.NewToken()
			_, refresh := chat.NewToken()
			ss := chat.Session{ID: chat.NewID(), UserID: u.ID, Family: 7, AccessHash: access, RefreshHash: refresh,
				CreatedAt: now, AccessExpiresAt: now.Add(time.Hour), ExpiresAt: now.Add(time.Hour)}
			if err := s.CreateSession(ctx, ss); err != nil {
				t.Fatal(err)
			}
			if _, _, err := s.SessionByAccess(ctx, access, now); err != nil {
				t.Fatalf("SessionByAccess before the block: %v", err)
			}
			dev := chat.Device{ID: chat.NewID(), UserID: u.ID, Family: 7, Platform: chat.PlatformFCM, Token: "blocked-user-token", CreatedAt: now, UpdatedAt: now}
			if _, _, err := s.PutDevice(ctx, dev, 20); err != nil {
				t.Fatal(err)
			}
			if ds, err := s.Devices(ctx, []int64{u.ID}, now); err != nil || len(ds) != 1 {
				t.Fatalf("Devices before the block: got %d, %v; want 1", len(ds), err)
			}
			if _, err := s.w.ExecContext(ctx, `UPDATE users SET blocked_at = ? WHERE id = ?`, s.ts(now), u.ID); err != nil {
				t.Fatal(err)
			}
			if ds, err := s.Devices(ctx, []int64{u.ID}, now); err != nil || len(ds) != 0 {
				t.Errorf("Devices of a blocked user: got %d, %v; want none (a blocked user gets no pushes)", len(ds), err)
			}
			_, _, err = s.SessionByAccess(ctx, access, now)
			if !errors.Is(err, chat.ErrNotFound) {
				t.Errorf("SessionByAccess of a blocked user: got %v, want %v", err, chat.ErrNotFound)
			}
			got, err := s.User(ctx, u.ID)
			if err != nil {
				t.Fatal(err)
			}
			if !got.BlockedAt.Equal(now) {
				t.Errorf("BlockedAt: got %v, want %v", got.BlockedAt, now)
			}
			// Refresh still rotates; the Service sees BlockedAt and answers
			// user_blocked, which it could not if the store said invalid_token.
			if _, err := s.RotateSession(ctx, refresh, chat.Session{ID: chat.NewID(), AccessHash: chat.HashToken("a2"),
				RefreshHash: chat.HashToken("r2"), CreatedAt: now, AccessExpiresAt: now.Add(time.Hour),
				ExpiresAt: now.Add(time.Hour)}, now); err != nil {
				t.Errorf("RotateSession of a blocked user: got %v, want nil", err)
			}
		})
	}
}

// TestMigrate checks that migrating twice applies nothing the second time
// and that Open on a migrated database is fine.
func TestMigrate(t *testing.T) {
	for _, d := range dialects() {
		t.Run(string(d.name), func(t *testing.T) {
			dsn := d.freshDB(t)
			applied, err := Migrate(t.Context(), d.name, dsn)
			if err != nil {
				t.Fatalf("Migrate: %v", err)
			}
			if want := migrationFiles(t, d.name); !slices.Equal(applied, want) {
				t.Errorf("first Migrate: got %v, want %v", applied, want)
			}
			applied, err = Migrate(t.Context(), d.name, dsn)
			if err != nil {
				t.Fatalf("second Migrate: %v", err)
			}
			if len(applied) != 0 {
				t.Errorf("second Migrate: got %v, want nothing applied", applied)
			}
			openStore(t, d.name, dsn)
		})
	}
}

// migrationFiles lists the dialect's migrations in order, as a fresh
// database must apply them all.
func migrationFiles(t *testing.T, d Dialect) []string {
	t.Helper()
	entries, err := fs.ReadDir(migrations.FS, string(d))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".sql") {
			names = append(names, e.Name())
		}
	}
	if len(names) < 6 {
		t.Fatalf("migrations/%s: got %v, want at least 00001 to 00006", d, names)
	}
	return names
}

func TestOpenErrors(t *testing.T) {
	for _, tc := range []struct {
		dialect Dialect
		dsn     string
	}{
		{"postgres", "x"},
		{SQLite, ""},
		{SQLite, "file:x.db?mode=memory"},
		{MySQL, "root@tcp(127.0.0.1:1)/"}, // no database named
	} {
		if s, err := Open(t.Context(), tc.dialect, tc.dsn, nil); err == nil {
			s.Close()
			t.Errorf("Open(%q, %q): got nil error, want one", tc.dialect, tc.dsn)
		}
	}
}

// BenchmarkSyncContacts5000 is the largest sync a client may send, for a
// fresh owner each time: 5,000 new rows and ten IN lookups in one commit.
// BenchmarkSyncContacts5000/resync is the same book synced again, every
// number already known.
func BenchmarkSyncContacts5000(b *testing.B) {
	for _, d := range dialects() {
		b.Run(string(d.name), func(b *testing.B) {
			s := openStore(b, d.name, d.freshDB(b))
			ctx := b.Context()
			phones := make([]string, 5000)
			for i := range phones {
				phones[i] = fmt.Sprintf("+7999300%04d", i)
			}
			for i := 0; i < len(phones); i += 50 { // 100 of them registered
				if _, _, err := s.UpsertUser(ctx, phones[i], time.Now()); err != nil {
					b.Fatal(err)
				}
			}
			owner := func(i int) int64 {
				u, _, err := s.UpsertUser(ctx, fmt.Sprintf("+7998%07d", i), time.Now())
				if err != nil {
					b.Fatal(err)
				}
				return u.ID
			}
			b.Run("fresh", func(b *testing.B) {
				b.ReportAllocs()
				n := 0
				for b.Loop() {
					b.StopTimer()
					id := owner(n)
					n++
					b.StartTimer()
					users, err := s.SyncContacts(ctx, id, phones)
					if err != nil || len(users) != 100 {
						b.Fatalf("SyncContacts: got %d users, %v; want 100, nil", len(users), err)
					}
				}
			})
			b.Run("resync", func(b *testing.B) {
				b.ReportAllocs()
				id := owner(-1)
				for b.Loop() {
					users, err := s.SyncContacts(ctx, id, phones)
					if err != nil || len(users) != 100 {
						b.Fatalf("SyncContacts: got %d users, %v; want 100, nil", len(users), err)
					}
				}
			})
		})
	}
}

// TestSQLitePragmas pins the settings durability and concurrency rest on:
// WAL with fsync at every commit and enforced foreign keys on the writer,
// read-only readers.
func TestSQLitePragmas(t *testing.T) {
	s := openStore(t, SQLite, filepath.Join(t.TempDir(), "korobka.db"))
	ctx := t.Context()
	for _, tc := range []struct {
		db     string
		pragma string
		want   string
	}{
		{"writer", "journal_mode", "wal"},
		{"writer", "synchronous", "2"}, // FULL
		{"writer", "foreign_keys", "1"},
		{"writer", "busy_timeout", "10000"},
		{"writer", "secure_delete", "1"},
		{"writer", "wal_autocheckpoint", strconv.Itoa(walRestartPages)},
		{"reader", "query_only", "1"},
		{"reader", "foreign_keys", "1"},
	} {
		db := s.w
		if tc.db == "reader" {
			db = s.r
		}
		var got string
		if err := db.QueryRowContext(ctx, "PRAGMA "+tc.pragma).Scan(&got); err != nil {
			t.Fatalf("PRAGMA %s: %v", tc.pragma, err)
		}
		if got != tc.want {
			t.Errorf("%s PRAGMA %s: got %s, want %s", tc.db, tc.pragma, got, tc.want)
		}
	}
	if _, err := s.r.ExecContext(ctx, `DELETE FROM users`); err == nil {
		t.Errorf("write through the reader pool: got nil error, want one")
	}
}

func TestMessageStore(t *testing.T) {
	for _, d := range dialects() {
		t.Run(string(d.name), func(t *testing.T) {
			d.freshDB(t)
			open := func(t *testing.T) chattest.MessageStoreUnderTest {
				return openStore(t, d.name, d.freshDB(t))
			}
			var open2 func(t *testing.T) (chattest.MessageStoreUnderTest, chattest.MessageStoreUnderTest)
			if d.name == MySQL {
				// Two Stores with their own pools on one database: two nodes.
				open2 = func(t *testing.T) (chattest.MessageStoreUnderTest, chattest.MessageStoreUnderTest) {
					dsn := d.freshDB(t)
					return openStore(t, d.name, dsn), openStore(t, d.name, dsn)
				}
			}
			chattest.TestMessageStore(t, open, open2)
		})
	}
}

func TestGroupStore(t *testing.T) {
	for _, d := range dialects() {
		t.Run(string(d.name), func(t *testing.T) {
			d.freshDB(t)
			chattest.TestGroupStore(t, func(t *testing.T) chat.Store {
				return openStore(t, d.name, d.freshDB(t))
			})
		})
	}
}
