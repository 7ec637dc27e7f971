package redis_test

import (
	"testing"

	"github.com/korobka/korobka/chat"
	"github.com/korobka/korobka/chat/chattest"
	"github.com/korobka/korobka/chat/redis"
)

// TestQueue runs the shared suite against the real Redis: two nodes are
// two Queues over one key prefix, as two korobka processes would be.
func TestQueue(t *testing.T) {
	client := sharedClient(t)
	chattest.TestQueue(t, func(t *testing.T, opt chattest.QueueOptions) (chat.Queue, chat.Queue) {
		prefix := chattest.RedisPrefix(t)
		cfg := redis.QueueConfig{
			Prefix:       prefix + "push:",
			Policy:       opt.Policy,
			ClaimTimeout: opt.ClaimTimeout,
			Block:        opt.Block,
			Now:          opt.Now,
		}
		return redis.NewQueue(client, cfg), redis.NewQueue(client, cfg)
	})
}

func TestForeground(t *testing.T) {
	client := sharedClient(t)
	chattest.TestForeground(t, func(t *testing.T) (chat.Foreground, chat.Foreground) {
		prefix := chattest.RedisPrefix(t)
		return redis.NewForeground(client, prefix, 0), redis.NewForeground(client, prefix, 0)
	})
}
