package redis_test

import (
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/korobka/korobka/chat"
	"github.com/korobka/korobka/chat/chattest"
	"github.com/korobka/korobka/chat/redis"
)

func TestSocketCounter(t *testing.T) {
	client := sharedClient(t)
	chattest.TestSocketCounter(t, func(t *testing.T) (chat.SocketCounter, chat.SocketCounter) {
		prefix := chattest.RedisPrefix(t)
		return redis.NewSocketCounter(client, prefix, time.Minute), redis.NewSocketCounter(client, prefix, time.Minute)
	})
}

// TestSocketCounterDeadNode: the connections of a node that stops
// refreshing (crashed) stop counting once their TTL passes, so its users
// are not capped by sockets that no longer exist; a live node's refreshed
// ones keep counting.
func TestSocketCounterDeadNode(t *testing.T) {
	client := sharedClient(t)
	prefix := chattest.RedisPrefix(t)
	// Long enough that the live node's refreshed entry outlives the delays of
	// a loaded machine between its last refresh and the Acquire below.
	const ttl = 2 * time.Second
	dead := redis.NewSocketCounter(client, prefix, ttl)
	live := redis.NewSocketCounter(client, prefix, ttl)
	ctx := t.Context()
	for conn := int64(1); conn <= 2; conn++ {
		if _, err := dead.Acquire(ctx, 7, conn, 3); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := live.Acquire(ctx, 7, 10, 3); err != nil {
		t.Fatal(err)
	}
	// The layout: "<acquired ms>:<expires ms>" per connection.
	v, err := client.HGet(ctx, prefix+"sockets:7", "2").Result()
	if err != nil {
		t.Fatalf("HGET the dead node's field: %v", err)
	}
	_, exp, _ := strings.Cut(v, ":")
	expMs, err := strconv.ParseInt(exp, 10, 64)
	if err != nil {
		t.Fatalf("field %q: %v", v, err)
	}
	// Poll Redis time past the dead node's expiry while the live node
	// keeps refreshing.
	deadline := time.Now().Add(10 * time.Second)
	for {
		if err := live.Refresh(ctx); err != nil {
			t.Fatal(err)
		}
		now, err := client.Time(ctx).Result()
		if err != nil {
			t.Fatal(err)
		}
		if now.UnixMilli() > expMs {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("Redis time did not pass the entries' expiry")
		}
		time.Sleep(10 * time.Millisecond)
	}
	// Under a cap of 2 the new connection evicts only the live node's
	// refreshed one: the dead node's no longer count.
	ev, err := live.Acquire(ctx, 7, 11, 2)
	if err != nil {
		t.Fatal(err)
	}
	if len(ev) != 0 {
		t.Fatalf("a cap of 2 with one live connection evicted %v", ev)
	}
	ev, err = live.Acquire(ctx, 7, 12, 2)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(ev, []int64{10}) {
		t.Fatalf("evicted %v, want the live node's oldest, 10", ev)
	}
}
