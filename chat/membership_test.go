package chat_test

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/korobka/korobka/chat"
	"github.com/korobka/korobka/chat/chattest"
	"github.com/korobka/korobka/chat/memory"
	"github.com/korobka/korobka/chat/redis"
)

// memberStore is a DialogStore whose members a test changes, as groups
// will; it counts reads so the cache can be seen working.
type memberStore struct {
	chat.DialogStore // other methods are not used
	mu               sync.Mutex
	members          map[int64][]int64
	reads            int
}

func (s *memberStore) Members(ctx context.Context, dialogID int64) ([]chat.Member, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.reads++
	ids, ok := s.members[dialogID]
	if !ok {
		return nil, chat.ErrNotFound
	}
	out := make([]chat.Member, len(ids))
	for i, id := range ids {
		out[i] = chat.Member{DialogID: dialogID, UserID: id}
	}
	return out, nil
}

func (s *memberStore) set(dialogID int64, ids ...int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.members[dialogID] = ids
}

// TestMembershipInvalidatedOnEveryNode: two nodes cache a dialog's
// members; a change announced by one reaches the other's cache through
// the broker, so a removed member is refused on both. The memory broker
// serves one node, which is then both a and b.
func TestMembershipInvalidatedOnEveryNode(t *testing.T) {
	for name, brokers := range map[string]func(t *testing.T) (chat.Broker, chat.Broker){
		"memory": func(t *testing.T) (chat.Broker, chat.Broker) {
			b := memory.NewBroker()
			t.Cleanup(func() { b.Close() })
			return b, b
		},
		"redis": func(t *testing.T) (chat.Broker, chat.Broker) {
			url, prefix := chattest.RedisURL(t), chattest.RedisPrefix(t)
			var out [2]chat.Broker
			for i := range out {
				client, err := redis.Open(context.Background(), url)
				if err != nil {
					t.Fatal(err)
				}
				b := redis.NewBroker(client, redis.BrokerConfig{Prefix: prefix})
				t.Cleanup(func() { b.Close(); client.Close() })
				out[i] = b
			}
			return out[0], out[1]
		},
	} {
		t.Run(name, func(t *testing.T) {
			ba, bb := brokers(t)
			store := &memberStore{members: map[int64][]int64{7: {1, 2, 3}}}
			a := chat.NewMembership(store, ba, 100)
			b := a
			if bb != ba {
				b = chat.NewMembership(store, bb, 100)
			}
			ctx, cancel := context.WithCancel(context.Background())
			var wg sync.WaitGroup
			wg.Go(func() { a.Run(ctx) })
			if b != a {
				wg.Go(func() { b.Run(ctx) })
			}
			t.Cleanup(func() { cancel(); wg.Wait() })

			alice := chat.Principal{UserID: 1}
			for _, m := range []*chat.Membership{a, b} {
				if ids, err := m.Check(ctx, alice, 7); err != nil || !slices.Equal(ids, []int64{1, 2, 3}) {
					t.Fatalf("Check: got %v, %v; want the three members", ids, err)
				}
			}
			reads := store.reads
			if _, err := a.Check(ctx, alice, 7); err != nil || store.reads != reads {
				t.Fatalf("a cached dialog was read again (%d reads, want %d), %v", store.reads, reads, err)
			}
			if _, err := a.Check(ctx, chat.Principal{UserID: 9}, 7); chat.ErrorOf(err).Kind != chat.KindNotFound {
				t.Fatalf("a non-member: got %v, want not found", err)
			}

			// Node b removes alice and announces it; node a drops its copy.
			store.set(7, 2, 3)
			deadline := time.Now().Add(10 * time.Second)
			for {
				if err := b.Invalidate(ctx, 7); err != nil {
					t.Fatal(err)
				}
				_, errB := b.Check(ctx, alice, 7)
				_, errA := a.Check(ctx, alice, 7)
				if errors.Is(errB, chat.ErrNotFound) && errors.Is(errA, chat.ErrNotFound) {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("a removed member still passes: node a %v, node b %v", errA, errB)
				}
				time.Sleep(10 * time.Millisecond)
			}
			if _, err := a.Check(ctx, chat.Principal{UserID: 2}, 7); err != nil {
				t.Fatalf("a remaining member: %v", err)
			}
		})
	}
}
