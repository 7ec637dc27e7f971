package memory

import (
	"testing"

	"github.com/korobka/korobka/chat"
	"github.com/korobka/korobka/chat/chattest"
)

func TestQueue(t *testing.T) {
	// One Queue serves every worker of the process: both "nodes" are it.
	chattest.TestQueue(t, func(t *testing.T, opt chattest.QueueOptions) (chat.Queue, chat.Queue) {
		q := NewQueue(QueueConfig{
			Policy:       opt.Policy,
			ClaimTimeout: opt.ClaimTimeout,
			Block:        opt.Block,
			Now:          opt.Now,
		})
		return q, q
	})
}

func TestForeground(t *testing.T) {
	chattest.TestForeground(t, func(t *testing.T) (chat.Foreground, chat.Foreground) {
		f := NewForeground()
		return f, f
	})
}
