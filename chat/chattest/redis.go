package chattest

import (
	"context"
	"crypto/rand"
	"os"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// RedisURL returns the Redis server tests may use, from
// KOROBKA_TEST_REDIS_URL. Without it the test is skipped, so `go test ./...`
// works on a laptop with nothing running; CI sets
// KOROBKA_TEST_REQUIRE_SERVICES so that a missing server fails instead of
// silently skipping the Redis half of every suite.
func RedisURL(t testing.TB) string {
	t.Helper()
	url := os.Getenv("KOROBKA_TEST_REDIS_URL")
	if url != "" {
		return url
	}
	if os.Getenv("KOROBKA_TEST_REQUIRE_SERVICES") != "" {
		t.Fatal("KOROBKA_TEST_REQUIRE_SERVICES is set but KOROBKA_TEST_REDIS_URL is not")
	}
	t.Skip("set KOROBKA_TEST_REDIS_URL to run Redis tests (e.g. redis://127.0.0.1:6379/0)")
	return ""
}

// RedisPrefix returns a key prefix no other test uses
// ("korobka-test:<random>:"), so tests may run in parallel, in several
// processes, against one server, and deletes every key containing it when
// the test ends. Keys are matched anywhere in the name, not only at the
// start, because libraries may add their own namespace in front (redis_rate
// stores "rate:" + key). It skips like RedisURL when no server is
// configured.
func RedisPrefix(t testing.TB) string {
	t.Helper()
	opts, err := redis.ParseURL(RedisURL(t))
	if err != nil {
		t.Fatalf("KOROBKA_TEST_REDIS_URL: %v", err)
	}
	// rand.Text is base32 (A-Z, 2-7): nothing in it is special to MATCH.
	prefix := "korobka-test:" + rand.Text() + ":"
	t.Cleanup(func() {
		// The test's context is already cancelled when cleanups run.
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		client := redis.NewClient(opts)
		defer client.Close()
		iter := client.Scan(ctx, 0, "*"+prefix+"*", 1000).Iterator()
		var keys []string
		for iter.Next(ctx) {
			keys = append(keys, iter.Val())
		}
		if err := iter.Err(); err != nil {
			t.Errorf("scanning keys of %s: %v", prefix, err)
			return
		}
		if len(keys) == 0 {
			return
		}
		// One key per DEL, pipelined: a multi-key DEL would fail on a
		// cluster when the keys hash to different slots.
		_, err := client.Pipelined(ctx, func(p redis.Pipeliner) error {
			for _, k := range keys {
				p.Del(ctx, k)
			}
			return nil
		})
		if err != nil {
			t.Errorf("deleting keys of %s: %v", prefix, err)
		}
	})
	return prefix
}
