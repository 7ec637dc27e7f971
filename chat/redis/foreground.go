package redis

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/korobka/korobka/chat"
)

var _ chat.Foreground = (*Foreground)(nil)

// Foreground is chat.Foreground shared by every node. Each user with a
// foreground connection is a hash at prefix+"fg:"+userID with one field
// per such connection (its id), valued with the Unix millisecond at which
// it expires, Redis server time. The node that holds the connection
// refreshes the field (Run) and deletes it when the connection goes to the
// background or closes; a node that crashes stops refreshing, so its
// connections fall back to the background within a TTL and never hold
// back pushes for longer.
type Foreground struct {
	client goredis.UniversalClient
	prefix string
	ttl    time.Duration

	mu    sync.Mutex
	local map[int64]map[int64]struct{} // this node's foreground connections
}

// NewForeground returns the Foreground of one node under prefix; fields
// live for ttl unless refreshed by Run (ttl <= 0: DefaultPresenceTTL).
func NewForeground(client goredis.UniversalClient, prefix string, ttl time.Duration) *Foreground {
	if ttl <= 0 {
		ttl = DefaultPresenceTTL
	}
	return &Foreground{client: client, prefix: prefix, ttl: ttl, local: map[int64]map[int64]struct{}{}}
}

// setForegroundScript sets the connection's field (ARGV[1]) to expire
// ARGV[2] ms from now and keeps the key alive at least that long.
var setForegroundScript = goredis.NewScript(presenceNow + `
local ttl = tonumber(ARGV[2])
redis.call('HSET', KEYS[1], ARGV[1], now + ttl)
if redis.call('PTTL', KEYS[1]) < ttl then
	redis.call('PEXPIRE', KEYS[1], ttl)
end
return 1
`)

func (f *Foreground) key(userID int64) string {
	return f.prefix + "fg:" + strconv.FormatInt(userID, 10)
}

// SetForeground sets or deletes the connection's field. The local set is
// changed under the lock held across the call, so a refresh never writes
// back a field just deleted.
func (f *Foreground) SetForeground(ctx context.Context, userID, connID int64, foreground bool) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	field := strconv.FormatInt(connID, 10)
	if foreground {
		set := f.local[userID]
		if set == nil {
			set = map[int64]struct{}{}
			f.local[userID] = set
		}
		set[connID] = struct{}{}
		if err := setForegroundScript.Run(ctx, f.client, []string{f.key(userID)}, field, f.ttl.Milliseconds()).Err(); err != nil {
			return fmt.Errorf("redis: set foreground %d: %w", userID, err)
		}
		return nil
	}
	if set := f.local[userID]; set != nil {
		delete(set, connID)
		if len(set) == 0 {
			delete(f.local, userID)
		}
	}
	if err := f.client.HDel(ctx, f.key(userID), field).Err(); err != nil {
		return fmt.Errorf("redis: set background %d: %w", userID, err)
	}
	return nil
}

// Foreground reads the users' hashes and the server time in one pipeline.
func (f *Foreground) Foreground(ctx context.Context, userIDs []int64) (map[int64]bool, error) {
	out := make(map[int64]bool, len(userIDs))
	if len(userIDs) == 0 {
		return out, nil
	}
	pipe := f.client.Pipeline()
	now := pipe.Time(ctx)
	vals := make([]*goredis.StringSliceCmd, len(userIDs))
	for i, id := range userIDs {
		vals[i] = pipe.HVals(ctx, f.key(id))
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return nil, fmt.Errorf("redis: foreground: %w", err)
	}
	nowMs := now.Val().UnixMilli()
	for i, id := range userIDs {
		out[id] = false
		for _, v := range vals[i].Val() {
			if exp, err := strconv.ParseInt(v, 10, 64); err == nil && exp > nowMs {
				out[id] = true
				break
			}
		}
	}
	return out, nil
}

// Run refreshes this node's fields every TTL/3 until ctx ends.
func (f *Foreground) Run(ctx context.Context) error {
	return refreshEvery(ctx, f.ttl/3, f.Refresh)
}

// Refresh resets the expiry of every foreground connection of this node
// in one pipeline.
func (f *Foreground) Refresh(ctx context.Context) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.local) == 0 {
		return nil
	}
	run := func(useSHA bool) error {
		pipe := f.client.Pipeline()
		for uid, conns := range f.local {
			for cid := range conns {
				keys, args := []string{f.key(uid)}, []any{strconv.FormatInt(cid, 10), f.ttl.Milliseconds()}
				if useSHA {
					setForegroundScript.EvalSha(ctx, pipe, keys, args...)
				} else {
					setForegroundScript.Eval(ctx, pipe, keys, args...)
				}
			}
		}
		_, err := pipe.Exec(ctx)
		return err
	}
	err := run(true)
	if err != nil && goredis.HasErrorPrefix(err, "NOSCRIPT") {
		err = run(false)
	}
	if err != nil {
		return fmt.Errorf("redis: foreground refresh: %w", err)
	}
	return nil
}
