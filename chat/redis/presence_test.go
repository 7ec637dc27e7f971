package redis_test

import (
	"context"
	"sync"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/korobka/korobka/chat"
	"github.com/korobka/korobka/chat/chattest"
	"github.com/korobka/korobka/chat/redis"
)

func TestPresence(t *testing.T) {
	client := sharedClient(t)
	chattest.TestPresence(t, func(t *testing.T) (chat.Presence, chat.Presence) {
		prefix := chattest.RedisPrefix(t)
		return redis.NewPresence(client, prefix, "node-a", time.Minute),
			redis.NewPresence(client, prefix, "node-b", time.Minute)
	})
}

// TestPresenceKeys checks the layout other tools may read: a hash per user
// with a field per node, holding its expiry, and a TTL on the key.
func TestPresenceKeys(t *testing.T) {
	client := sharedClient(t)
	prefix := chattest.RedisPrefix(t)
	p := redis.NewPresence(client, prefix, "node-a", time.Minute)
	if _, err := p.Connect(t.Context(), 42); err != nil {
		t.Fatalf("Connect: %v", err)
	}
	key := prefix + "presence:42"
	exp, err := client.HGet(t.Context(), key, "node-a").Int64()
	if err != nil {
		t.Fatalf("HGET %s node-a: %v", key, err)
	}
	now, err := client.Time(t.Context()).Result()
	if err != nil {
		t.Fatal(err)
	}
	if left := time.UnixMilli(exp).Sub(now); left <= 50*time.Second || left > time.Minute {
		t.Fatalf("field expires in %v, want about 1m", left)
	}
	if ttl := client.PTTL(t.Context(), key).Val(); ttl <= 50*time.Second || ttl > time.Minute {
		t.Fatalf("PTTL %s: got %v, want about 1m", key, ttl)
	}
	if _, err := p.Disconnect(t.Context(), 42); err != nil {
		t.Fatalf("Disconnect: %v", err)
	}
	if n := client.Exists(t.Context(), key).Val(); n != 0 {
		t.Fatalf("EXISTS %s after the last Disconnect: got %d, want 0", key, n)
	}
}

// TestPresenceDeadNode checks that a node that stops refreshing (crashed)
// loses its users within the TTL, and that the next Connect elsewhere then
// reports them coming online.
func TestPresenceDeadNode(t *testing.T) {
	client := sharedClient(t)
	prefix := chattest.RedisPrefix(t)
	const ttl = 300 * time.Millisecond
	dead := redis.NewPresence(client, prefix, "dead", ttl)
	live := redis.NewPresence(client, prefix, "live", time.Minute)
	if came, err := dead.Connect(t.Context(), 1); err != nil || !came {
		t.Fatalf("Connect on the doomed node: got (%v, %v), want (true, nil)", came, err)
	}
	// No Run on dead: its field must expire on its own.
	deadline := time.Now().Add(10 * time.Second)
	for {
		online, err := live.Online(t.Context(), []int64{1})
		if err != nil {
			t.Fatalf("Online: %v", err)
		}
		if !online[1] {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("user of a dead node still online 10s after a 300ms TTL")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if came, err := live.Connect(t.Context(), 1); err != nil || !came {
		t.Fatalf("Connect after the dead node's field expired: got (%v, %v), want (true, nil)", came, err)
	}
}

// TestPresenceRun checks that Run keeps a node's users online well past
// the TTL and stops when its context ends.
func TestPresenceRun(t *testing.T) {
	client := sharedClient(t)
	prefix := chattest.RedisPrefix(t)
	const ttl = 600 * time.Millisecond
	p := redis.NewPresence(client, prefix, "node-a", ttl)
	ctx, cancel := context.WithCancel(t.Context())
	var wg sync.WaitGroup
	wg.Go(func() {
		if err := p.Run(ctx); err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	defer func() { cancel(); wg.Wait() }()
	if _, err := p.Connect(t.Context(), 5); err != nil {
		t.Fatalf("Connect: %v", err)
	}
	// Watch for five TTLs; a refresh comes every TTL/3.
	for end := time.Now().Add(5 * ttl); time.Now().Before(end); time.Sleep(ttl / 10) {
		online, err := p.Online(t.Context(), []int64{5})
		if err != nil {
			t.Fatalf("Online: %v", err)
		}
		if !online[5] {
			t.Fatal("user offline while its node runs the refresh loop")
		}
	}
	// A disconnected user is not refreshed back.
	if went, err := p.Disconnect(t.Context(), 5); err != nil || !went {
		t.Fatalf("Disconnect: got (%v, %v), want (true, nil)", went, err)
	}
	if err := p.Refresh(t.Context()); err != nil {
		t.Fatalf("Refresh: %v", err)
	}
	if online, _ := p.Online(t.Context(), []int64{5}); online[5] {
		t.Fatal("user online again after Disconnect and a refresh")
	}
}

// TestPresenceRefreshAfterFlush checks that a refresh restores the fields
// a Redis restart lost, script cache included. It uses a private server:
// SCRIPT FLUSH would reach every test sharing one.
func TestPresenceRefreshAfterRestart(t *testing.T) {
	srv := startPrivateRedis(t)
	client := goredis.NewClient(&goredis.Options{Addr: srv.addr})
	t.Cleanup(func() { client.Close() })
	prefix := "restart:"
	p := redis.NewPresence(client, prefix, "node-a", time.Minute)
	if _, err := p.Connect(t.Context(), 9); err != nil {
		t.Fatalf("Connect: %v", err)
	}
	srv.kill(t)
	srv.start(t)
	if online, err := p.Online(t.Context(), []int64{9}); err != nil || online[9] {
		t.Fatalf("Online after a restart: got (%v, %v), want offline", online, err)
	}
	if err := p.Refresh(t.Context()); err != nil {
		t.Fatalf("Refresh with an empty script cache: %v", err)
	}
	if online, _ := p.Online(t.Context(), []int64{9}); !online[9] {
		t.Fatal("user offline after a refresh, want online")
	}
}
