package memory

import (
	"context"
	"fmt"
	"slices"
	"sync"

	"github.com/korobka/korobka/chat"
)

var _ chat.SocketCounter = (*SocketCounter)(nil)

// SocketCounter is chat.SocketCounter inside one process: per user, the
// counted connections in the order they were acquired.
type SocketCounter struct {
	mu    sync.Mutex
	users map[int64][]int64 // userID -> connection ids, oldest first
}

// NewSocketCounter returns a SocketCounter that counts no connection.
func NewSocketCounter() *SocketCounter {
	return &SocketCounter{users: make(map[int64][]int64)}
}

// Acquire counts connID as the user's newest connection and lets go of the
// oldest beyond max.
func (s *SocketCounter) Acquire(ctx context.Context, userID, connID int64, max int) ([]int64, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if max <= 0 {
		return nil, fmt.Errorf("memory: socket cap %d: must be positive", max)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	conns := slices.DeleteFunc(s.users[userID], func(id int64) bool { return id == connID })
	var evicted []int64
	if over := len(conns) + 1 - max; over > 0 {
		evicted = slices.Clone(conns[:over])
		conns = slices.Delete(conns, 0, over)
	}
	s.users[userID] = append(conns, connID)
	return evicted, nil
}

// Release forgets connID.
func (s *SocketCounter) Release(ctx context.Context, userID, connID int64) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	conns := slices.DeleteFunc(s.users[userID], func(id int64) bool { return id == connID })
	if len(conns) == 0 {
		delete(s.users, userID)
	} else {
		s.users[userID] = conns
	}
	return nil
}
