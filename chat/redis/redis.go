// Package redis implements chat's shared-state interfaces on Redis 7
// (go-redis v9), for deployments where several nodes must agree: what one
// node counts or publishes, every node sees. It passes the same chattest
// suites as chat/memory.
package redis

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// Open connects to the Redis server at url, a KOROBKA_REDIS_URL such as
// redis://:password@host:6379/0 or rediss://... for TLS, and pings it so a
// wrong address fails at startup rather than on the first request. Errors
// never contain the URL: it may hold a password, and they end up in logs.
// The client is a UniversalClient so callers need not change when a
// cluster URL is supported.
func Open(ctx context.Context, url string) (goredis.UniversalClient, error) {
	opts, err := goredis.ParseURL(url)
	if err != nil {
		return nil, fmt.Errorf("redis: invalid URL: %w", redactURL(err))
	}
	client := goredis.NewClient(opts)
	if err := client.Ping(ctx).Err(); err != nil {
		client.Close()
		return nil, fmt.Errorf("redis: ping %s: %w", opts.Addr, err)
	}
	return client, nil
}

// redactURL drops the URL that net/url puts into its errors, keeping the
// reason.
func redactURL(err error) error {
	var uerr *url.Error
	if errors.As(err, &uerr) {
		return uerr.Err
	}
	return err
}

// refreshEvery calls refresh every interval, each call bounded by the
// interval, until ctx ends; it returns nil then. A failed refresh is
// retried at the next tick: the keys it extends live for three intervals
// (TTL/3), so two may fail in a row before an entry expires. It is the
// loop of Presence, Foreground and SocketCounter.
func refreshEvery(ctx context.Context, interval time.Duration, refresh func(context.Context) error) error {
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
			rctx, cancel := context.WithTimeout(ctx, interval)
			_ = refresh(rctx)
			cancel()
		}
	}
}
