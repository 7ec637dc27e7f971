package chat

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// DefaultLastSeenInterval is how long disconnects gather before their last
// seen times are written, in one transaction.
const DefaultLastSeenInterval = time.Second

// maxPendingLastSeen bounds the disconnects held between writes: a storm
// bigger than this is written at once rather than held.
const maxPendingLastSeen = 10_000

// lastSeen gathers the last seen times of disconnecting users and writes
// them together. Every last disconnect used to be its own transaction (on
// SQLite, an fsync on the single writer), so a reconnect storm of
// thousands of clients became thousands of serial writes competing with
// messages; gathered, it is one transaction per interval. Until it is
// written, a time is served from here (get), so the node that saw the
// disconnect answers it at once; other nodes see it after the write,
// within the interval (their watchers got the presence event meanwhile).
// Run's end writes what is pending, so a shutdown loses nothing; a
// disconnect reported after that (none is, in the server's shutdown order:
// the gateway closes first) is written on its own.
type lastSeen struct {
	store    AccountStore
	log      *slog.Logger
	interval time.Duration

	mu      sync.Mutex
	pending map[int64]time.Time
	stopped bool // run has made its final write
	wake    chan struct{}
}

func newLastSeen(store AccountStore, log *slog.Logger, interval time.Duration) *lastSeen {
	if interval <= 0 {
		interval = DefaultLastSeenInterval
	}
	return &lastSeen{store: store, log: log, interval: interval, pending: map[int64]time.Time{}, wake: make(chan struct{}, 1)}
}

// add records that userID was last seen at at. Once run has stopped the
// time is written at once instead.
func (l *lastSeen) add(ctx context.Context, userID int64, at time.Time) {
	l.mu.Lock()
	if l.stopped {
		l.mu.Unlock()
		l.write(ctx, map[int64]time.Time{userID: at})
		return
	}
	if old, ok := l.pending[userID]; !ok || at.After(old) {
		l.pending[userID] = at
	}
	full := len(l.pending) >= maxPendingLastSeen
	l.mu.Unlock()
	if full {
		l.flushNow()
	}
	select {
	case l.wake <- struct{}{}:
	default:
	}
}

// flushNow takes what is pending and writes it, outside the interval.
func (l *lastSeen) flushNow() {
	l.mu.Lock()
	batch := l.take()
	l.mu.Unlock()
	l.write(context.Background(), batch)
}

// get returns userID's last seen time while it waits to be written.
func (l *lastSeen) get(userID int64) (time.Time, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	t, ok := l.pending[userID]
	return t, ok
}

// take returns and clears what is pending; l.mu is held.
func (l *lastSeen) take() map[int64]time.Time {
	if len(l.pending) == 0 {
		return nil
	}
	batch := l.pending
	l.pending = make(map[int64]time.Time, len(batch))
	return batch
}

// run writes the pending times one interval after the first of them
// arrived, until ctx ends, then writes what is left. It is called once.
func (l *lastSeen) run(ctx context.Context) {
	t := time.NewTimer(l.interval)
	t.Stop()
	armed := false
	for {
		select {
		case <-ctx.Done():
			l.mu.Lock()
			batch := l.take()
			l.stopped = true
			l.mu.Unlock()
			l.write(context.WithoutCancel(ctx), batch)
			return
		case <-l.wake:
			// Wait out the interval from the first arrival, so that a
			// storm gathers into one write and a steady stream is written
			// once per interval.
			if !armed {
				t.Reset(l.interval)
				armed = true
			}
		case <-t.C:
			armed = false
			l.mu.Lock()
			batch := l.take()
			l.mu.Unlock()
			l.write(ctx, batch)
		}
	}
}

// write stores a batch in one transaction. A batch that fails is put back,
// under any newer time, for the next write.
func (l *lastSeen) write(ctx context.Context, batch map[int64]time.Time) {
	if len(batch) == 0 {
		return
	}
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), presenceTimeout)
	defer cancel()
	err := l.store.TouchLastSeen(wctx, batch)
	if err == nil {
		return
	}
	l.log.WarnContext(ctx, "last seen not stored", "users", len(batch), "err", err)
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.stopped {
		return
	}
	for id, at := range batch {
		if old, ok := l.pending[id]; !ok || at.After(old) {
			l.pending[id] = at
		}
	}
}
