package redis

import (
	"context"
	"fmt"
	"time"

	"github.com/go-redis/redis_rate/v10"
	goredis "github.com/redis/go-redis/v9"

	"github.com/korobka/korobka/chat"
)

var _ chat.Limiter = (*Limiter)(nil)

// Limiter is chat.Limiter shared by every node, on redis_rate's GCRA: one
// Lua script per event reads and moves the key's theoretical arrival time
// atomically on the server, so concurrent nodes never over-admit, and Redis
// time is the only clock, so node clock skew does not matter. Each key
// expires on its own once its bucket is full again.
type Limiter struct {
	keys keyspace
	rate *redis_rate.Limiter
}

// NewLimiter returns a Limiter storing the state of key at prefix +
// "rate:" + key: redis_rate puts its "rate:" namespace before every key,
// and the Limiter puts prefix before that, so that every key of a
// deployment starts with its prefix (KOROBKA_REDIS_PREFIX) and deployments
// or tests can share one server.
func NewLimiter(client goredis.UniversalClient, prefix string) *Limiter {
	ks := keyspace{UniversalClient: client, prefix: prefix}
	return &Limiter{keys: ks, rate: redis_rate.NewLimiter(ks)}
}

// rateKeyPrefix is the namespace redis_rate puts before every key.
const rateKeyPrefix = "rate:"

// keyspace is the client as redis_rate sees it, with prefix put before
// every key of the commands redis_rate sends (its scripts and Del), since
// redis_rate names its keys itself.
type keyspace struct {
	goredis.UniversalClient
	prefix string
}

func (k keyspace) keys(keys []string) []string {
	out := make([]string, len(keys))
	for i, key := range keys {
		out[i] = k.prefix + key
	}
	return out
}

func (k keyspace) Eval(ctx context.Context, script string, keys []string, args ...any) *goredis.Cmd {
	return k.UniversalClient.Eval(ctx, script, k.keys(keys), args...)
}

func (k keyspace) EvalSha(ctx context.Context, sha1 string, keys []string, args ...any) *goredis.Cmd {
	return k.UniversalClient.EvalSha(ctx, sha1, k.keys(keys), args...)
}

func (k keyspace) EvalRO(ctx context.Context, script string, keys []string, args ...any) *goredis.Cmd {
	return k.UniversalClient.EvalRO(ctx, script, k.keys(keys), args...)
}

func (k keyspace) EvalShaRO(ctx context.Context, sha1 string, keys []string, args ...any) *goredis.Cmd {
	return k.UniversalClient.EvalShaRO(ctx, sha1, k.keys(keys), args...)
}

func (k keyspace) Del(ctx context.Context, keys ...string) *goredis.IntCmd {
	return k.UniversalClient.Del(ctx, k.keys(keys)...)
}

// Reset deletes the key's state: its next event finds a full bucket.
func (l *Limiter) Reset(ctx context.Context, key string) error {
	if err := l.keys.Del(ctx, rateKeyPrefix+key).Err(); err != nil {
		return fmt.Errorf("redis: reset rate limit %q: %w", key, err)
	}
	return nil
}

// Allow counts one event against key under lim. A limit with a non-positive
// Rate, Period or Burst is refused with an error, as chat/memory does,
// rather than sent to the script, where a zero rate divides by zero.
func (l *Limiter) Allow(ctx context.Context, key string, lim chat.Limit) (bool, time.Duration, error) {
	return l.AllowN(ctx, key, lim, 1)
}

// AllowN counts n events at once in one run of redis_rate's script. n
// outside 1..lim.Burst is refused with an error, as chat/memory does: the
// script would refuse it forever, with a retryAfter that means nothing.
func (l *Limiter) AllowN(ctx context.Context, key string, lim chat.Limit, n int) (bool, time.Duration, error) {
	if lim.Rate <= 0 || lim.Period <= 0 || lim.Burst <= 0 {
		return false, 0, fmt.Errorf("redis: invalid limit %+v: rate, period and burst must be positive", lim)
	}
	if n < 1 || n > lim.Burst {
		return false, 0, fmt.Errorf("redis: %d events under %+v: n must be between 1 and the burst", n, lim)
	}
	res, err := l.rate.AllowN(ctx, key, redis_rate.Limit{Rate: lim.Rate, Burst: lim.Burst, Period: lim.Period}, n)
	if err != nil {
		return false, 0, fmt.Errorf("redis: rate limit %q: %w", key, err)
	}
	if res.Allowed > 0 {
		return true, 0, nil
	}
	// The script works in float seconds; a refusal a hair before the next
	// slot must still say "later", never "now".
	return false, max(res.RetryAfter, time.Nanosecond), nil
}

// AllowAtMost counts up to n events against key under lim in one script
// run (redis_rate's AllowAtMost) and reports how many it counted. When only
// part of an event's interval is left the script still charges it, so a
// node taking events in chunks is counted conservatively, never more
// generously than event by event.
func (l *Limiter) AllowAtMost(ctx context.Context, key string, lim chat.Limit, n int) (int, time.Duration, error) {
	if lim.Rate <= 0 || lim.Period <= 0 || lim.Burst <= 0 {
		return 0, 0, fmt.Errorf("redis: invalid limit %+v: rate, period and burst must be positive", lim)
	}
	if n <= 0 {
		return 0, 0, fmt.Errorf("redis: AllowAtMost %d events: n must be positive", n)
	}
	res, err := l.rate.AllowAtMost(ctx, key, redis_rate.Limit{Rate: lim.Rate, Burst: lim.Burst, Period: lim.Period}, n)
	if err != nil {
		return 0, 0, fmt.Errorf("redis: rate limit %q: %w", key, err)
	}
	if res.Allowed > 0 {
		return res.Allowed, 0, nil
	}
	return 0, max(res.RetryAfter, time.Nanosecond), nil
}
