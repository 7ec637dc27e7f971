package chat_test

import (
	"context"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/korobka/korobka/chat"
	"github.com/korobka/korobka/chat/memory"
	"github.com/korobka/korobka/chat/sqlstore"
)

// zoneWriteCounter counts the time zone writes that reach the store.
type zoneWriteCounter struct {
	chat.Store
	writes atomic.Int64
}

func (s *zoneWriteCounter) SetTimeZone(ctx context.Context, id int64, tz string) error {
	s.writes.Add(1)
	return s.Store.SetTimeZone(ctx, id, tz)
}

// The profile keeps the last zone a shell sent, at no write per request:
// a node writes only when the zone it last stored for the user changes,
// and the store's write matches only a different zone.
func TestTimeZoneKeptWithoutAWritePerRequest(t *testing.T) {
	ctx := context.Background()
	db, err := sqlstore.Open(ctx, sqlstore.SQLite, filepath.Join(t.TempDir(), "k.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	store := &zoneWriteCounter{Store: db}
	node := func() *chat.Service {
		return chat.NewService(chat.Config{Store: store, Broker: memory.NewBroker(), Presence: memory.NewPresence(), Limiter: memory.NewLimiter(nil)})
	}
	n1, n2 := node(), node()
	u, _, err := db.UpsertUser(ctx, "+79990000001", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	p := chat.Principal{UserID: u.ID}
	stored := func() string {
		t.Helper()
		u, err := db.User(ctx, u.ID)
		if err != nil {
			t.Fatal(err)
		}
		return u.TimeZone
	}
	for range 100 {
		n1.NoteTimeZone(ctx, p, "Europe/Moscow")
	}
	if got := store.writes.Load(); got != 1 || stored() != "Europe/Moscow" {
		t.Errorf("100 requests from Moscow: %d writes, stored %q; want 1 write of Europe/Moscow", got, stored())
	}
	for range 100 {
		n2.NoteTimeZone(ctx, p, "Europe/Moscow") // the other node: one write that changes nothing
	}
	n1.NoteTimeZone(ctx, p, "Asia/Tokyo")
	n1.NoteTimeZone(ctx, p, "Asia/Tokyo")
	if got := store.writes.Load(); got != 3 || stored() != "Asia/Tokyo" {
		t.Errorf("after a move to Tokyo: %d writes, stored %q; want 3 writes and Asia/Tokyo", got, stored())
	}
	n1.NoteTimeZone(ctx, p, "Not/AZone")
	n1.NoteTimeZone(ctx, p, "")
	if got := store.writes.Load(); got != 3 || stored() != "Asia/Tokyo" {
		t.Errorf("bad zones wrote: %d writes, stored %q", got, stored())
	}
}

func TestParseTimeZone(t *testing.T) {
	for _, ok := range []string{"Europe/Moscow", "UTC", "America/Argentina/Buenos_Aires", "Etc/GMT+3", "America/Port-au-Prince"} {
		if loc, err := chat.ParseTimeZone(ok); err != nil || loc.String() != ok {
			t.Errorf("ParseTimeZone(%q) = %v, %v", ok, loc, err)
		}
	}
	for _, bad := range []string{"", "Local", "/etc/passwd", "../UTC", "Europe/../UTC", "Mars/Base", "Europe/Moscow ", "europe moscow", "Europe\\Moscow"} {
		if _, err := chat.ParseTimeZone(bad); err != chat.ErrInvalidTimeZone {
			t.Errorf("ParseTimeZone(%q): %v, want invalid_time_zone", bad, err)
		}
	}
}
