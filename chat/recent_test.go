package chat_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"sync/atomic"
	"testing"
	"time"

	"github.com/korobka/korobka/chat"
)

// TestSyncCacheMatchesDatabase is issue 15 item 1: a sync served from the
// node's recent-changes cache answers exactly what the database answers.
// Random histories of sends, edits and deletes in five dialogs (one longer
// than the cache keeps), then random syncs by seq and by change cursor
// from every kind of position, each compared with the same sync on a
// Service over the same store without the cache.
func TestSyncCacheMatchesDatabase(t *testing.T) {
	var cfg chat.Config
	f, _ := newTestServiceWith(t, func(c *chat.Config) { cfg = *c })
	cfg.SyncCacheBytes = -1
	uncached := chat.NewService(cfg)
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(15, 1))
	me := f.newUser(t, "Me")
	type dlg struct {
		id   int64
		peer *user
		sent int64
	}
	var dialogs []*dlg
	for i := range 5 {
		peer := f.newUser(t, fmt.Sprint("Peer", i))
		dialogs = append(dialogs, &dlg{id: f.direct(t, me, peer), peer: peer})
	}
	ops := 0
	for _, d := range dialogs {
		n := 40 + rng.IntN(40)
		if d == dialogs[0] {
			n = 150 // longer than a dialog's cache
		}
		for range n {
			ops++
			f.clock.Advance(10 * time.Second) // edits count against the REST budget
			from := me
			if rng.IntN(2) == 0 {
				from = d.peer
			}
			switch op := rng.IntN(10); {
			case op < 7 || d.sent == 0:
				f.send(t, from, d.id, fmt.Sprint("c", ops), fmt.Sprint("message ", ops))
				d.sent++
			case op < 9:
				// Either member's message: not found for the other's, as
				// for a deleted one.
				_, _ = f.svc.EditMessage(ctx, from.p, d.id, 1+rng.Int64N(d.sent), fmt.Sprint("edit ", ops))
			default:
				_, _ = f.svc.DeleteMessage(ctx, from.p, d.id, 1+rng.Int64N(d.sent))
			}
		}
	}
	run := func(svc *chat.Service, req chat.SyncRequest) string {
		var out []json.RawMessage
		res, err := svc.Sync(ctx, me.p, req, func(m chat.MessageView) error {
			raw, err := json.Marshal(m)
			out = append(out, raw)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		all, _ := json.Marshal(map[string]any{"messages": out, "res": res})
		return string(all)
	}
	for round := range 200 {
		req := chat.SyncRequest{Seqs: map[int64]int64{}, Since: map[int64]int64{}}
		for _, d := range dialogs {
			dv, err := f.svc.Dialog(ctx, me.p, d.id)
			if err != nil {
				t.Fatal(err)
			}
			last := dv.LastMessage
			switch rng.IntN(3) {
			case 0: // by seq, mostly near the end
				req.Seqs[d.id] = max(0, last.Seq-rng.Int64N(min(last.Seq, 80)+1))
			case 1: // by change cursor
				req.Since[d.id] = max(0, last.Change-rng.Int64N(90))
			}
		}
		cached, fresh := run(f.svc, req), run(uncached, req)
		if cached != fresh {
			t.Fatalf("round %d, request %+v:\ncache    %s\ndatabase %s", round, req, cached, fresh)
		}
	}
	hits, misses := f.svc.SyncCacheStats()
	t.Logf("sync windows: %d from memory, %d from the database", hits, misses)
	if hits == 0 || misses == 0 {
		t.Errorf("the requests reached %d windows in memory and %d in the database; want both kinds", hits, misses)
	}
}

// gateStore holds every Memberships read until released, counting how
// many are inside at once.
type gateStore struct {
	chat.Store
	in, most, entered atomic.Int64
	release           chan struct{}
}

func (s *gateStore) Memberships(ctx context.Context, userID int64, ids []int64) ([]chat.DialogEntry, error) {
	n := s.in.Add(1)
	s.entered.Add(1)
	for {
		m := s.most.Load()
		if n <= m || s.most.CompareAndSwap(m, n) {
			break
		}
	}
	<-s.release
	s.in.Add(-1)
	return s.Store.Memberships(ctx, userID, ids)
}

// TestSyncReadsBoundedPerNode: a reconnect storm's syncs queue for the
// node's sync read slots instead of all reading the database at once.
func TestSyncReadsBoundedPerNode(t *testing.T) {
	gs := &gateStore{release: make(chan struct{})}
	f, _ := newTestServiceWith(t, func(c *chat.Config) {
		gs.Store = c.Store
		c.Store = gs
	})
	u, peer := f.newUser(t, "U"), f.newUser(t, "P")
	d := f.direct(t, u, peer)
	const n = 40
	errs := make(chan error, n)
	for range n {
		go func() {
			_, err := f.svc.Sync(context.Background(), u.p, chat.SyncRequest{Seqs: map[int64]int64{d: 0}}, func(chat.MessageView) error { return nil })
			errs <- err
		}()
	}
	waitFor(t, "the first syncs to hold every slot", func() bool { return gs.in.Load() == 16 })
	for range n {
		gs.release <- struct{}{}
	}
	for range n {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	if most := gs.most.Load(); most > 16 {
		t.Errorf("%d syncs read at once, want at most 16", most)
	}
	if got := gs.entered.Load(); got != n {
		t.Errorf("%d syncs read, want %d", got, n)
	}
}
