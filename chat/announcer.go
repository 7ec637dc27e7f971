package chat

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// Bounds of the presence announcer.
const (
	// announceQueue is how many announcements wait for the announcer; a
	// caller finding it full announces inline (one Watchers query).
	announceQueue = 1024
	// announceGather is how long the announcer waits for more users
	// once it has fewer than MaxWatchersOf.
	announceGather = 2 * time.Millisecond
)

// presenceNote is one user's change to announce; done is closed once it
// has been published (or failed).
type presenceNote struct {
	userID   int64
	online   bool
	lastSeen time.Time
	done     chan struct{}
}

// announcer publishes presence changes in batches: the users that came
// online or went offline within a few milliseconds (at most MaxWatchersOf)
// have their watchers read with one WatchersOf query and their events
// published in one Publish. Callers wait for their batch, so an
// announcement is published when Connected or Disconnected returns, as
// without batching. Memory is bounded by the queue (announceQueue notes);
// a caller who finds it full, or the announcer not running (before Run,
// after its end), announces inline with Watchers, and inline counts it.
type announcer struct {
	store  DialogStore
	broker Broker
	log    *slog.Logger

	mu      sync.Mutex
	running bool
	queue   chan presenceNote
	stopc   chan struct{}
	done    chan struct{}

	// inline counts announcements made outside a batch because the queue
	// was full; batches and users count the batches and their users.
	inline, batches, users atomic.Int64
}

func newAnnouncer(store DialogStore, broker Broker, log *slog.Logger) *announcer {
	return &announcer{store: store, broker: broker, log: log,
		queue: make(chan presenceNote, announceQueue), stopc: make(chan struct{}), done: make(chan struct{})}
}

// announce publishes userID's change to their watchers and returns once
// it is published.
func (a *announcer) announce(userID int64, online bool, lastSeen time.Time) {
	n := presenceNote{userID: userID, online: online, lastSeen: lastSeen, done: make(chan struct{})}
	a.mu.Lock()
	queued := false
	full := false
	if a.running {
		select {
		case a.queue <- n:
			queued = true
		default:
			full = true
		}
	}
	a.mu.Unlock()
	if queued {
		<-n.done
		return
	}
	if full {
		if c := a.inline.Add(1); c&(c-1) == 0 { // 1, 2, 4, ...: bounded logging
			a.log.Warn("presence queue full: announced inline", "inline_total", c)
		}
	}
	a.publish([]presenceNote{n})
}

// run announces batches until stop. It is called once.
func (a *announcer) run() {
	a.mu.Lock()
	a.running = true
	a.mu.Unlock()
	defer close(a.done)
	gather := time.NewTimer(announceGather)
	gather.Stop()
	batch := make([]presenceNote, 0, MaxWatchersOf)
	for {
		select {
		case <-a.stopc:
			a.drain(batch)
			return
		case n := <-a.queue:
			batch = append(batch[:0], n)
		}
		gather.Reset(announceGather)
	fill:
		for len(batch) < MaxWatchersOf {
			select {
			case n := <-a.queue:
				batch = append(batch, n)
			case <-gather.C:
				break fill
			case <-a.stopc:
				gather.Stop()
				a.drain(batch)
				return
			}
		}
		gather.Stop()
		a.publish(batch)
		batch = batch[:0]
	}
}

// drain stops queueing and announces batch and whatever is queued.
func (a *announcer) drain(batch []presenceNote) {
	a.mu.Lock()
	a.running = false // no note is queued after this
	a.mu.Unlock()
	for {
		select {
		case n := <-a.queue:
			batch = append(batch, n)
			if len(batch) < MaxWatchersOf {
				continue
			}
		default:
		}
		if len(batch) == 0 {
			return
		}
		a.publish(batch)
		batch = batch[:0]
	}
}

// stop ends run after announcing what is queued; later announcements are
// inline. Without run it returns at once.
func (a *announcer) stop() {
	a.mu.Lock()
	started := a.running
	a.mu.Unlock()
	close(a.stopc)
	if started {
		<-a.done
	}
}

// publish reads the watchers of the batch's users in one query and
// publishes their events in one call, then releases their callers. For one
// user it uses Watchers, as before batching.
func (a *announcer) publish(batch []presenceNote) {
	defer func() {
		for _, n := range batch {
			close(n.done)
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), presenceTimeout)
	defer cancel()
	var watchers map[int64][]int64
	if len(batch) == 1 {
		w, err := a.store.Watchers(ctx, batch[0].userID)
		if err != nil {
			a.log.WarnContext(ctx, "presence not announced", "user", batch[0].userID, "err", err)
			return
		}
		watchers = map[int64][]int64{batch[0].userID: w}
	} else {
		ids := make([]int64, len(batch))
		for i, n := range batch {
			ids[i] = n.userID
		}
		var err error
		if watchers, err = a.store.WatchersOf(ctx, ids); err != nil {
			a.log.WarnContext(ctx, "presence not announced", "users", len(ids), "err", err)
			return
		}
	}
	a.batches.Add(1)
	a.users.Add(int64(len(batch)))
	var pubs []Publication
	for _, n := range batch {
		w := watchers[n.userID]
		if len(w) == 0 {
			continue
		}
		e := Event{Type: EventPresence, UserID: n.userID, Online: n.online}
		if !n.online {
			at := n.lastSeen
			e.LastSeen = &at
		}
		pubs = appendEvent(pubs, e, 0, w, 0)
	}
	if len(pubs) == 0 {
		return
	}
	if err := a.broker.Publish(ctx, pubs...); err != nil {
		a.log.WarnContext(ctx, "presence not announced", "users", len(batch), "err", err)
	}
}
