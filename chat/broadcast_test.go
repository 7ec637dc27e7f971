package chat_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/korobka/korobka/chat"
	"github.com/korobka/korobka/chat/memory"
)

// advanceFailsOnce is a store whose first AdvanceBroadcast fails after the
// batch's sends, as if the worker died between sending and recording.
type advanceFailsOnce struct {
	chat.Store
	failed atomic.Bool
}

func (s *advanceFailsOnce) AdvanceBroadcast(ctx context.Context, id, batch, sent int64, cursor chat.UserCursor, done bool, now time.Time) (bool, error) {
	if s.failed.CompareAndSwap(false, true) {
		return false, errors.New("worker died")
	}
	return s.Store.AdvanceBroadcast(ctx, id, batch, sent, cursor, done, now)
}

// twiceQueue hands every job out twice, as a queue does when a consumer
// is presumed dead and its job reclaimed while it still runs.
type twiceQueue struct {
	chat.Queue
	mu   sync.Mutex
	seen map[string]bool
}

func (q *twiceQueue) Claim(ctx context.Context, consumer string, max int) ([]chat.Delivery, error) {
	ds, err := q.Queue.Claim(ctx, consumer, max)
	q.mu.Lock()
	defer q.mu.Unlock()
	for _, d := range ds {
		if !q.seen[d.Job.Key] {
			q.seen[d.Job.Key] = true
			again := d.Job
			again.Key += ":again"
			if _, err := q.Queue.Enqueue(ctx, again); err != nil {
				return nil, err
			}
		}
	}
	return ds, err
}

// TestBroadcastSendsOnce: a broadcast to a segment reaches each of its
// users once, over several batches, though a batch fails after sending and
// every job runs twice.
func TestBroadcastSendsOnce(t *testing.T) {
	var store *advanceFailsOnce
	q := &twiceQueue{Queue: memory.NewQueue(memory.QueueConfig{Block: 20 * time.Millisecond,
		Policy: chat.RetryPolicy{Base: time.Millisecond, Max: 5 * time.Millisecond}}), seen: map[string]bool{}}
	f, _ := newTestServiceWith(t, func(cfg *chat.Config) {
		store = &advanceFailsOnce{Store: cfg.Store}
		cfg.Store = store
		cfg.Broadcasts = q
	})
	ctx := context.Background()
	const n = chat.BroadcastBatch*2 + 17
	now := f.clock.Now()
	var ids []int64
	for i := range n {
		u, _, err := f.store.UpsertUser(ctx, fmt.Sprintf("+7999555%04d", i), now.Add(time.Duration(i)*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, u.ID)
	}
	// Outside the segment: an operator and a blocked user.
	op := f.newUser(t, "Оля")
	if _, err := f.store.SetUserRole(ctx, op.id, chat.RoleOperator); err != nil {
		t.Fatal(err)
	}
	if _, err := f.store.SetBlocked(ctx, ids[0], now); err != nil {
		t.Fatal(err)
	}
	admin := f.newUser(t, "Админ")
	if _, err := f.store.SetUserRole(ctx, admin.id, chat.RoleAdmin); err != nil {
		t.Fatal(err)
	}
	ap := chat.Principal{UserID: admin.id, Role: chat.RoleAdmin}

	if _, err := f.svc.StartBroadcast(ctx, chat.Principal{UserID: op.id, Role: chat.RoleOperator}, "hi", chat.Segment{}); !errors.Is(err, chat.ErrForbidden) {
		t.Fatalf("an operator's broadcast: %v, want forbidden", err)
	}
	if _, err := f.svc.StartBroadcast(ctx, ap, "   ", chat.Segment{}); err == nil {
		t.Fatal("an empty broadcast was taken")
	}
	b, err := f.svc.StartBroadcast(ctx, ap, "Скидки до пятницы", chat.Segment{Role: chat.RoleUser})
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for b.Status != chat.BroadcastDone {
		if time.Now().After(deadline) {
			t.Fatalf("broadcast not done: %+v", b)
		}
		time.Sleep(20 * time.Millisecond)
		if b, err = f.svc.GetBroadcast(ctx, ap, b.ID); err != nil {
			t.Fatal(err)
		}
	}
	if !store.failed.Load() {
		t.Fatal("the failing advance was never tried")
	}
	if b.Sent != n-1 || b.Batches != 3 || b.FinishedAt == nil {
		t.Fatalf("progress %+v, want %d users in 3 batches", b, n-1)
	}
	biz, err := f.store.Users(ctx, []int64{f.svc.BusinessID()})
	if err != nil || len(biz) != 1 || biz[0].Phone != chat.BusinessPhone || biz[0].FirstName == "" {
		t.Fatalf("the business account: %+v, %v", biz, err)
	}
	for i, id := range ids {
		d, _, err := f.store.DirectDialog(ctx, biz[0].ID, id, "", now)
		if err != nil {
			t.Fatal(err)
		}
		msgs, err := f.store.Messages(ctx, d.ID, 0, 10)
		if err != nil {
			t.Fatal(err)
		}
		want := 1
		if i == 0 {
			want = 0 // blocked
		}
		if len(msgs) != want {
			t.Fatalf("user %d got %d broadcast messages, want %d", i, len(msgs), want)
		}
	}
	for _, who := range []int64{op.id, admin.id} {
		d, _, err := f.store.DirectDialog(ctx, biz[0].ID, who, "", now)
		if err != nil {
			t.Fatal(err)
		}
		if msgs, _ := f.store.Messages(ctx, d.ID, 0, 10); len(msgs) != 0 {
			t.Fatalf("staff outside the segment got %d messages", len(msgs))
		}
	}
	entries, err := f.svc.AuditLog(ctx, ap, chat.AuditFilter{Action: "broadcast.start"}, 10)
	if err != nil || len(entries) != 1 || entries[0].TargetID != chat.FormatID(b.ID) {
		t.Fatalf("audit: %+v, %v", entries, err)
	}
}
