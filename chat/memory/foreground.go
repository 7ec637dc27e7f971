package memory

import (
	"context"
	"sync"

	"github.com/korobka/korobka/chat"
)

var _ chat.Foreground = (*Foreground)(nil)

// Foreground is chat.Foreground inside one process: the set of connections
// that reported the app in the foreground, per user. Several gateways in
// one process (or tests standing in for nodes) may share it.
type Foreground struct {
	mu    sync.Mutex
	conns map[int64]map[int64]struct{} // userID -> foreground connection ids
}

// NewForeground returns a Foreground in which every connection is in the
// background.
func NewForeground() *Foreground {
	return &Foreground{conns: map[int64]map[int64]struct{}{}}
}

// SetForeground adds or removes one connection of a user.
func (f *Foreground) SetForeground(ctx context.Context, userID, connID int64, foreground bool) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	set := f.conns[userID]
	if foreground {
		if set == nil {
			set = map[int64]struct{}{}
			f.conns[userID] = set
		}
		set[connID] = struct{}{}
		return nil
	}
	delete(set, connID)
	if len(set) == 0 {
		delete(f.conns, userID)
	}
	return nil
}

// Foreground reports the users with a foreground connection.
func (f *Foreground) Foreground(ctx context.Context, userIDs []int64) (map[int64]bool, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make(map[int64]bool, len(userIDs))
	for _, id := range userIDs {
		out[id] = len(f.conns[id]) > 0
	}
	return out, nil
}
