package main

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/korobka/korobka/chat/chattest"
)

// TestRedisKeysStartWithThePrefix: every key the server writes to Redis
// (rate limits, presence, sockets, the push queue, ...) starts with
// KOROBKA_REDIS_PREFIX, so deployments can share one Redis. The test runs
// the server on a Redis database of its own (15), uses it the way shells
// do, and scans every key there.
func TestRedisKeysStartWithThePrefix(t *testing.T) {
	opts, err := goredis.ParseURL(chattest.RedisURL(t))
	if err != nil {
		t.Fatal(err)
	}
	opts.DB = 15
	client := goredis.NewClient(opts)
	t.Cleanup(func() { client.Close() })
	ctx := context.Background()
	clear := func() {
		if err := client.FlushDB(ctx).Err(); err != nil {
			t.Fatalf("FLUSHDB of the test's own database: %v", err)
		}
	}
	clear()
	t.Cleanup(clear)
	prefix := "kbtest-prefix:"
	e := newEnv(t, map[string]string{
		"KOROBKA_MYSQL_DSN":    chattest.MySQLDSN(t),
		"KOROBKA_REDIS_URL":    fmt.Sprintf("redis://%s/15", opts.Addr),
		"KOROBKA_REDIS_PREFIX": prefix,
	})
	// Logins (limits), a dialog, a message over REST (limits, the push
	// queue), WebSockets (presence, sockets, foreground, frame budget).
	a, b, id := e.pair()
	e.befriend(a, b)
	wa, wb := dial(t, e.url, a.AccessToken), dial(t, e.url, b.AccessToken)
	wb.send(map[string]any{"type": "state", "state": "background"})
	e.want(e.do("POST", "/v1/dialogs/"+id+"/messages", a.AccessToken, map[string]any{"client_id": "k1", "text": "hi"}), 201)
	wa.send(map[string]any{"type": "typing", "dialog_id": id})
	wb.waitFor("the message", messageWith("k1"))

	var keys []string
	deadline := time.Now().Add(5 * time.Second)
	for {
		keys = keys[:0]
		iter := client.Scan(ctx, 0, "*", 1000).Iterator()
		for iter.Next(ctx) {
			keys = append(keys, iter.Val())
		}
		if err := iter.Err(); err != nil {
			t.Fatal(err)
		}
		if len(keys) >= 3 || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if len(keys) < 3 {
		t.Fatalf("the server wrote only %q to Redis; the test did not exercise it", keys)
	}
	for _, k := range keys {
		if !strings.HasPrefix(k, prefix) {
			t.Errorf("key %q does not start with KOROBKA_REDIS_PREFIX %q", k, prefix)
		}
	}
	t.Logf("%d keys, all under %q", len(keys), prefix)
}
