package redis_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/korobka/korobka/chat"
	"github.com/korobka/korobka/chat/chattest"
	"github.com/korobka/korobka/chat/redis"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func TestLimiter(t *testing.T) {
	url := chattest.RedisURL(t)
	client, err := redis.Open(t.Context(), url)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { client.Close() })
	chattest.TestLimiter(t, func(t *testing.T) chat.Limiter {
		return redis.NewLimiter(client, chattest.RedisPrefix(t))
	}, nil)
}

func TestOpen(t *testing.T) {
	url := chattest.RedisURL(t)
	client, err := redis.Open(t.Context(), url)
	if err != nil {
		t.Fatalf("Open(KOROBKA_TEST_REDIS_URL): %v", err)
	}
	if err := client.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
}

func TestOpenFails(t *testing.T) {
	const secret = "s3cr3t-pa55"
	for _, url := range []string{
		"",
		"http://127.0.0.1:6379/0",
		"redis://:" + secret + "@127.0.0.1:6379/notadb",
		"redis://:" + secret + "@127.0.0.1:port/0",
		"redis://:" + secret + "@127.0.0.1:6379/0/1",
		// Nothing listens on port 1: the ping must fail.
		"redis://:" + secret + "@127.0.0.1:1/0",
	} {
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
		client, err := redis.Open(ctx, url)
		cancel()
		if err == nil {
			client.Close()
			t.Errorf("Open(%q): got no error, want one", url)
			continue
		}
		if strings.Contains(err.Error(), secret) {
			t.Errorf("Open(%q): got error %q, want it without the password", url, err)
		}
	}
}

// TestRedisPrefix checks the key layout NewLimiter documents and that
// chattest.RedisPrefix leaves nothing behind.
func TestRedisPrefix(t *testing.T) {
	client, err := redis.Open(t.Context(), chattest.RedisURL(t))
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { client.Close() })
	var prefix string
	t.Run("Use", func(t *testing.T) {
		prefix = chattest.RedisPrefix(t)
		l := redis.NewLimiter(client, prefix)
		if _, _, err := l.Allow(t.Context(), "k", chat.Limit{Rate: 1, Period: time.Hour, Burst: 2}); err != nil {
			t.Fatalf("Allow: %v", err)
		}
		key := prefix + "rate:" + "k" // the prefix comes first

		if n, err := client.Exists(t.Context(), key).Result(); err != nil || n != 1 {
			t.Fatalf("EXISTS %s: got (%d, %v), want (1, nil)", key, n, err)
		}
	})
	var keys []string
	iter := client.Scan(t.Context(), 0, "*"+prefix+"*", 1000).Iterator()
	for iter.Next(t.Context()) {
		keys = append(keys, iter.Val())
	}
	if err := iter.Err(); err != nil {
		t.Fatalf("SCAN: %v", err)
	}
	if len(keys) != 0 {
		t.Fatalf("keys left after the test: got %q, want none", keys)
	}
}

// BenchmarkFrameBudget is what a user's WebSocket frame costs the shared
// limiter: one script run per frame (Allow), or one per chunk of 8 frames
// (AllowAtMost, as chat/ws takes them). ns/op is per frame.
func BenchmarkFrameBudget(b *testing.B) {
	client, err := redis.Open(b.Context(), chattest.RedisURL(b))
	if err != nil {
		b.Fatal(err)
	}
	defer client.Close()
	l := redis.NewLimiter(client, chattest.RedisPrefix(b))
	// A budget no frame here exhausts: the cost measured is the call's.
	lim := chat.Limit{Rate: 1 << 30, Period: time.Second, Burst: 1 << 30}
	b.Run("per-frame", func(b *testing.B) {
		for b.Loop() {
			if _, _, err := l.Allow(b.Context(), "frames", lim); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("chunk-8", func(b *testing.B) {
		left := 0
		for b.Loop() {
			if left == 0 {
				n, _, err := l.AllowAtMost(b.Context(), "frames", lim, 8)
				if err != nil {
					b.Fatal(err)
				}
				left = n
			}
			left--
		}
	})
}
