package memory

import (
	"context"
	"sync"

	"github.com/korobka/korobka/chat"
)

var _ chat.Presence = (*Presence)(nil)

// Presence is chat.Presence inside one process. It counts Connect calls per
// user rather than keeping a set, so several gateways in one process (or
// tests standing in for several nodes) may share it: a user is online while
// any of them has reported a connection, exactly as the Redis Presence
// behaves across nodes.
type Presence struct {
	mu    sync.Mutex
	conns map[int64]int // userID -> Connect calls not yet matched by Disconnect
}

// NewPresence returns a Presence in which every user is offline.
func NewPresence() *Presence {
	return &Presence{conns: make(map[int64]int)}
}

// Connect counts one more holder of userID's connections.
func (p *Presence) Connect(ctx context.Context, userID int64) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.conns[userID]++
	return p.conns[userID] == 1, nil
}

// Disconnect counts one holder less. A Disconnect without a matching
// Connect changes nothing and reports false: the user did not go offline
// now, it was offline already.
func (p *Presence) Disconnect(ctx context.Context, userID int64) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	n, ok := p.conns[userID]
	if !ok {
		return false, nil
	}
	if n > 1 {
		p.conns[userID] = n - 1
		return false, nil
	}
	delete(p.conns, userID)
	return true, nil
}

// Online reports, for each of userIDs, whether it holds a connection.
func (p *Presence) Online(ctx context.Context, userIDs []int64) (map[int64]bool, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	online := make(map[int64]bool, len(userIDs))
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, id := range userIDs {
		online[id] = p.conns[id] > 0
	}
	return online, nil
}
