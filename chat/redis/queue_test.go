package redis_test

import (
	"testing"
	"time"

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

// TestForegroundDeadNode: a node that dies with a foreground connection
// stops refreshing it, and the user falls back to the background within
// the TTL, so pushes resume without anyone cleaning up.
func TestForegroundDeadNode(t *testing.T) {
	client := sharedClient(t)
	prefix := chattest.RedisPrefix(t)
	dead := redis.NewForeground(client, prefix, 300*time.Millisecond)
	live := redis.NewForeground(client, prefix, time.Minute)
	if err := dead.SetForeground(t.Context(), 1, 10, true); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		fg, err := live.Foreground(t.Context(), []int64{1})
		if err != nil {
			t.Fatal(err)
		}
		if !fg[1] {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("a dead node's connection still in the foreground 10s after a 300ms TTL")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestQueueKeys checks the layout operators read: the stream with its
// consumer group, the delayed set and a job key's marker, all under the
// prefix and one hash tag.
func TestQueueKeys(t *testing.T) {
	client := sharedClient(t)
	prefix := chattest.RedisPrefix(t) + "push:"
	q := redis.NewQueue(client, redis.QueueConfig{Prefix: prefix, Block: 10 * time.Millisecond})
	now := time.Now()
	jobs := []chat.Job{
		{Key: "message:1:1:2", Kind: chat.JobMessage, UserID: 2, DialogID: 1, Seq: 1, EnqueuedAt: now},
		{Key: "message:1:2:2", Kind: chat.JobMessage, UserID: 2, DialogID: 1, Seq: 2, EnqueuedAt: now, NotBefore: now.Add(time.Hour)},
	}
	if _, err := q.Enqueue(t.Context(), jobs...); err != nil {
		t.Fatal(err)
	}
	if _, err := q.Claim(t.Context(), "node-a", 10); err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	if n := client.XLen(ctx, prefix+"{q}:stream").Val(); n != 1 {
		t.Errorf("XLEN stream: got %d, want 1", n)
	}
	if n := client.ZCard(ctx, prefix+"{q}:delayed").Val(); n != 1 {
		t.Errorf("ZCARD delayed: got %d, want 1", n)
	}
	groups := client.XInfoGroups(ctx, prefix+"{q}:stream").Val()
	if len(groups) != 1 || groups[0].Name != redis.DefaultQueueGroup || groups[0].Pending != 1 {
		t.Errorf("XINFO GROUPS: got %+v, want group %q with 1 pending", groups, redis.DefaultQueueGroup)
	}
	if ttl := client.PTTL(ctx, prefix+"{q}:k:message:1:1:2").Val(); ttl <= 50*time.Minute {
		t.Errorf("PTTL of a job key: got %v, want about the hour-long window", ttl)
	}
	stream, delayed, err := q.Depth(ctx)
	if err != nil || stream != 1 || delayed != 1 {
		t.Errorf("Depth: got %d, %d, %v; want 1, 1", stream, delayed, err)
	}
}
