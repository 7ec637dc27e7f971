package chat

import (
	"context"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"
)

// watcherStore answers every user's watchers as {1000+id}; the first
// Watchers call blocks until gate is closed, holding the announcer busy.
type watcherStore struct {
	DialogStore
	gate    chan struct{}
	entered chan struct{}

	mu       sync.Mutex
	single   int
	batched  [][]int64
	firstHit bool
}

func (s *watcherStore) Watchers(ctx context.Context, userID int64) ([]int64, error) {
	s.mu.Lock()
	s.single++
	first := !s.firstHit
	s.firstHit = true
	s.mu.Unlock()
	if first {
		close(s.entered)
		<-s.gate
	}
	return []int64{1000 + userID}, nil
}

func (s *watcherStore) WatchersOf(ctx context.Context, ids []int64) (map[int64][]int64, error) {
	s.mu.Lock()
	s.batched = append(s.batched, slices.Clone(ids))
	s.mu.Unlock()
	out := map[int64][]int64{}
	for _, id := range ids {
		out[id] = []int64{1000 + id}
	}
	return out, nil
}

type topicBroker struct {
	Broker
	mu     sync.Mutex
	topics []string
}

func (b *topicBroker) Publish(ctx context.Context, pubs ...Publication) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, p := range pubs {
		b.topics = append(b.topics, p.Topic)
	}
	return nil
}

// TestAnnouncerBatches (issue 15): the announcements that queue while the
// announcer is busy are read with one WatchersOf query and published
// before their callers return; past the queue's bound they are made
// inline, and counted.
func TestAnnouncerBatches(t *testing.T) {
	store := &watcherStore{gate: make(chan struct{}), entered: make(chan struct{})}
	broker := &topicBroker{}
	a := newAnnouncer(store, broker, slog.New(slog.DiscardHandler))
	a.queue = make(chan presenceNote, 40) // a small bound to overflow
	go a.run()
	waitUntil(t, "the announcer runs", func() bool { a.mu.Lock(); defer a.mu.Unlock(); return a.running })

	var wg sync.WaitGroup
	wg.Go(func() { a.announce(1, false, time.Now()) })
	<-store.entered // user 1's batch holds the announcer
	for id := int64(2); id <= 41; id++ {
		wg.Go(func() { a.announce(id, true, time.Time{}) })
	}
	waitUntil(t, "40 queued", func() bool { return len(a.queue) == 40 })
	a.announce(42, true, time.Time{}) // the queue is full: inline
	if got := a.inline.Load(); got != 1 {
		t.Errorf("inline announcements: %d, want 1", got)
	}
	close(store.gate)
	wg.Wait()
	a.stop()
	a.announce(43, true, time.Time{}) // after the stop: inline, not counted as overflow
	if got := a.inline.Load(); got != 1 {
		t.Errorf("inline announcements after the stop: %d, want still 1", got)
	}

	store.mu.Lock()
	defer store.mu.Unlock()
	if store.single != 3 {
		t.Errorf("Watchers queries: %d, want 3 (the first batch, the inline one, the one after the stop)", store.single)
	}
	if len(store.batched) != 1 || len(store.batched[0]) != 40 {
		t.Errorf("WatchersOf queries: %v, want one of the 40 queued users", store.batched)
	}
	broker.mu.Lock()
	defer broker.mu.Unlock()
	var want []string
	for id := int64(1); id <= 43; id++ {
		want = append(want, UserTopic(1000+id))
	}
	got := slices.Clone(broker.topics)
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("published to %v, want each watcher once: %v", got, want)
	}
}

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}
