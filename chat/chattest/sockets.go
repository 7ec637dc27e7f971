package chattest

import (
	"context"
	"slices"
	"sync"
	"testing"

	"github.com/korobka/korobka/chat"
)

// TestSocketCounter checks that a chat.SocketCounter caps a user's
// connections as the gateway relies on: up to the cap nothing is evicted,
// past it the oldest go first, Release makes room, users are independent,
// two nodes share one count, and concurrent acquires never leave more than
// the cap counted.
//
// newNodes returns two nodes' counters over one fresh, empty backend for a
// subtest (an in-process implementation returns the same value twice).
// Expiry of a dead node's entries is implementation-specific and tested
// beside the implementation.
func TestSocketCounter(t *testing.T, newNodes func(t *testing.T) (a, b chat.SocketCounter)) {
	t.Helper()
	const limit = 3

	t.Run("OldestEvicted", func(t *testing.T) {
		a, _ := newNodes(t)
		for conn := int64(1); conn <= limit; conn++ {
			wantEvicted(t, a, 7, conn, limit, nil)
		}
		wantEvicted(t, a, 7, 4, limit, []int64{1})
		wantEvicted(t, a, 7, 5, limit, []int64{2})
		// A lower cap evicts down to it, oldest first.
		wantEvicted(t, a, 7, 6, 2, []int64{3, 4})
	})

	t.Run("ReleaseMakesRoom", func(t *testing.T) {
		a, _ := newNodes(t)
		for conn := int64(1); conn <= limit; conn++ {
			wantEvicted(t, a, 7, conn, limit, nil)
		}
		if err := a.Release(t.Context(), 7, 2); err != nil {
			t.Fatalf("Release: %v", err)
		}
		if err := a.Release(t.Context(), 7, 99); err != nil {
			t.Fatalf("Release of a connection never counted: %v", err)
		}
		wantEvicted(t, a, 7, 4, limit, nil)
		wantEvicted(t, a, 7, 5, limit, []int64{1})
	})

	t.Run("AcquireTwiceCountsOnce", func(t *testing.T) {
		a, _ := newNodes(t)
		wantEvicted(t, a, 7, 1, limit, nil)
		wantEvicted(t, a, 7, 2, limit, nil)
		wantEvicted(t, a, 7, 2, limit, nil)
		wantEvicted(t, a, 7, 3, limit, nil)
	})

	t.Run("UsersIndependent", func(t *testing.T) {
		a, _ := newNodes(t)
		for conn := int64(1); conn <= limit; conn++ {
			wantEvicted(t, a, 7, conn, limit, nil)
			wantEvicted(t, a, 8, 100+conn, limit, nil)
		}
		wantEvicted(t, a, 8, 200, limit, []int64{101})
	})

	t.Run("TwoNodes", func(t *testing.T) {
		a, b := newNodes(t)
		wantEvicted(t, a, 7, 1, limit, nil)
		wantEvicted(t, b, 7, 2, limit, nil)
		wantEvicted(t, a, 7, 3, limit, nil)
		// The oldest is on node a; node b's acquire evicts it.
		wantEvicted(t, b, 7, 4, limit, []int64{1})
		if err := b.Release(t.Context(), 7, 2); err != nil {
			t.Fatalf("Release: %v", err)
		}
		wantEvicted(t, a, 7, 5, limit, nil)
	})

	t.Run("Concurrent", func(t *testing.T) {
		a, b := newNodes(t)
		const n = 40
		var mu sync.Mutex
		var evicted []int64
		var wg sync.WaitGroup
		for i := range n {
			node := a
			if i%2 == 1 {
				node = b
			}
			wg.Go(func() {
				ev, err := node.Acquire(t.Context(), 7, int64(i+1), limit)
				if err != nil {
					t.Errorf("Acquire: %v", err)
					return
				}
				mu.Lock()
				evicted = append(evicted, ev...)
				mu.Unlock()
			})
		}
		wg.Wait()
		// Every connection but the cap's worth was evicted, each once.
		slices.Sort(evicted)
		if len(evicted) != n-limit || len(slices.Compact(slices.Clone(evicted))) != n-limit {
			t.Fatalf("evicted %v (%d), want %d distinct connections", evicted, len(evicted), n-limit)
		}
		// One more acquire evicts exactly one of the survivors.
		ev, err := a.Acquire(t.Context(), 7, n+1, limit)
		if err != nil {
			t.Fatal(err)
		}
		if len(ev) != 1 || slices.Contains(evicted, ev[0]) {
			t.Fatalf("the next acquire evicted %v, want one survivor", ev)
		}
	})

	t.Run("ContextCancelled", func(t *testing.T) {
		a, _ := newNodes(t)
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		if _, err := a.Acquire(ctx, 7, 1, limit); err == nil {
			t.Fatal("Acquire with a cancelled context: got no error")
		}
	})
}

func wantEvicted(t *testing.T, s chat.SocketCounter, user, conn int64, max int, want []int64) {
	t.Helper()
	got, err := s.Acquire(t.Context(), user, conn, max)
	if err != nil {
		t.Fatalf("Acquire(user %d, conn %d, max %d): %v", user, conn, max, err)
	}
	if !slices.Equal(got, want) {
		t.Fatalf("Acquire(user %d, conn %d, max %d) evicted %v, want %v", user, conn, max, got, want)
	}
}
