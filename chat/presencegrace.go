package chat

import (
	"sync"
	"time"
)

// DefaultPresenceGrace is the reconnect grace korobka serve uses
// (KOROBKA_PRESENCE_GRACE): how long a user whose last connection on a node
// closed still counts as online there.
const DefaultPresenceGrace = 5 * time.Second

// presenceGrace holds back the offline step of users whose last connection
// on this node closed, for the grace period. A connection of the same user
// opening on this node within it cancels the step, and the user simply
// stayed online: no offline and no online announcement, no presence or
// last-seen writes. A reconnect storm thus costs nothing for everyone who
// comes back in time.
//
// Memory is bounded by the users of the node: one entry (a timer) per
// user, removed when it fires or is cancelled. stop runs every pending step
// at once, so a shutdown leaves nobody online; after it, steps run
// immediately.
type presenceGrace struct {
	grace time.Duration
	// offline is the offline step of userID, closed at at.
	offline func(userID int64, at time.Time)

	mu      sync.Mutex
	pending map[int64]*graceEntry
	stopped bool
}

type graceEntry struct {
	at     time.Time // when the last connection closed
	timer  *time.Timer
	firing bool          // the step runs: a connect waits for done
	done   chan struct{} // closed when the step has run
}

func newPresenceGrace(grace time.Duration, offline func(int64, time.Time)) *presenceGrace {
	return &presenceGrace{grace: grace, offline: offline, pending: map[int64]*graceEntry{}}
}

// closed reports userID's last connection on this node closing at at, and
// returns false if the offline step is to run now (no grace, or stopped).
// Otherwise the step runs after the grace unless reopened cancels it. A
// close while one is already pending keeps the first close time.
func (g *presenceGrace) closed(userID int64, at time.Time) bool {
	if g.grace <= 0 {
		return false
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.stopped {
		return false
	}
	if _, ok := g.pending[userID]; ok {
		return true
	}
	e := &graceEntry{at: at, done: make(chan struct{})}
	e.timer = time.AfterFunc(g.grace, func() { g.fire(userID, e) })
	g.pending[userID] = e
	return true
}

// reopened reports a connection of userID opening on this node and
// returns true if it cancelled a pending offline step: the user stayed
// online and nothing is to be announced. If the step is running at that
// moment, reopened waits for it, so the online step follows the offline
// one.
func (g *presenceGrace) reopened(userID int64) bool {
	g.mu.Lock()
	e, ok := g.pending[userID]
	if ok && !e.firing {
		e.timer.Stop()
		delete(g.pending, userID)
		g.mu.Unlock()
		return true
	}
	g.mu.Unlock()
	if ok {
		<-e.done
	}
	return false
}

// fire runs e's offline step, unless it was cancelled meanwhile.
func (g *presenceGrace) fire(userID int64, e *graceEntry) {
	g.mu.Lock()
	if g.pending[userID] != e || e.firing {
		g.mu.Unlock()
		return
	}
	e.firing = true
	g.mu.Unlock()
	defer func() {
		g.mu.Lock()
		if g.pending[userID] == e {
			delete(g.pending, userID)
		}
		g.mu.Unlock()
		close(e.done)
	}()
	g.offline(userID, e.at)
}

// len is the number of pending offline steps.
func (g *presenceGrace) len() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.pending)
}

// stop runs every pending offline step now and waits for them (and for
// any already running); later closes run their step at once.
func (g *presenceGrace) stop() {
	g.mu.Lock()
	g.stopped = true
	entries := make(map[int64]*graceEntry, len(g.pending))
	for id, e := range g.pending {
		entries[id] = e
		e.timer.Stop()
	}
	g.mu.Unlock()
	var wg sync.WaitGroup
	sem := make(chan struct{}, 16) // bounded concurrency of the flush
	for id, e := range entries {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			g.fire(id, e) // a no-op for one already firing
			<-e.done
		})
	}
	wg.Wait()
}
