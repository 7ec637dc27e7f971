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

var _ chat.Presence = (*Presence)(nil)

// presenceShards lets Connect and Disconnect of different users run in
// parallel while each still excludes the refresh of its own user.
const presenceShards = 32

// DefaultPresenceTTL is used when NewPresence is given no TTL.
const DefaultPresenceTTL = 30 * time.Second

// Presence is chat.Presence shared by every node. Each user is a hash at
// prefix+"presence:"+userID with one field per node holding a connection,
// valued with the Unix millisecond at which the field expires. A node that
// crashes stops refreshing its fields, so its users go offline within a TTL
// without anyone cleaning up after it. All times are Redis server time,
// read inside the scripts, so clock skew between nodes does not matter.
//
// The Presence keeps the set of users connected on this node, which Run
// refreshes; Connect and Disconnect are called on a user's first and last
// connection here (counting connections is the gateway's job).
type Presence struct {
	client goredis.UniversalClient
	prefix string
	node   string
	ttl    time.Duration
	shards [presenceShards]presenceShard
}

type presenceShard struct {
	// mu is held across the Redis call so that a refresh cannot write back
	// a field that a concurrent Disconnect has just deleted.
	mu    sync.Mutex
	local map[int64]struct{}
}

// NewPresence returns the Presence of node nodeID, which must be unique
// among live nodes and should be stable enough to read in a key (a host
// name and a random suffix will do). Fields live for ttl unless refreshed
// by Run; ttl <= 0 means DefaultPresenceTTL.
func NewPresence(client goredis.UniversalClient, prefix, nodeID string, ttl time.Duration) *Presence {
	if ttl <= 0 {
		ttl = DefaultPresenceTTL
	}
	p := &Presence{client: client, prefix: prefix, node: nodeID, ttl: ttl}
	for i := range p.shards {
		p.shards[i].local = make(map[int64]struct{})
	}
	return p
}

// presenceNow is Redis server time in Unix milliseconds.
const presenceNow = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
`

// connectScript sets this node's field (ARGV[1]) to expire ARGV[2] ms from
// now, drops other nodes' expired fields, keeps the key alive at least as
// long as the field and returns 1 when no unexpired field existed before.
var connectScript = goredis.NewScript(presenceNow + `
local ttl = tonumber(ARGV[2])
local online = 0
local all = redis.call('HGETALL', KEYS[1])
for i = 1, #all, 2 do
	if tonumber(all[i+1]) > now then
		online = 1
	elseif all[i] ~= ARGV[1] then
		redis.call('HDEL', KEYS[1], all[i])
	end
end
redis.call('HSET', KEYS[1], ARGV[1], now + ttl)
if redis.call('PTTL', KEYS[1]) < ttl then
	redis.call('PEXPIRE', KEYS[1], ttl)
end
return 1 - online
`)

// disconnectScript deletes this node's field and returns 1 when no
// unexpired field remains, deleting the key then.
var disconnectScript = goredis.NewScript(presenceNow + `
redis.call('HDEL', KEYS[1], ARGV[1])
for _, v in ipairs(redis.call('HVALS', KEYS[1])) do
	if tonumber(v) > now then
		return 0
	end
end
redis.call('DEL', KEYS[1])
return 1
`)

func (p *Presence) key(userID int64) string {
	return p.prefix + "presence:" + strconv.FormatInt(userID, 10)
}

func (p *Presence) shard(userID int64) *presenceShard {
	return &p.shards[uint64(userID)%presenceShards]
}

// Connect records userID as connected here and sets this node's field. The
// user stays in the local set even when Redis fails, so the next refresh
// publishes it; the error only means the answer is unknown.
func (p *Presence) Connect(ctx context.Context, userID int64) (bool, error) {
	s := p.shard(userID)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.local[userID] = struct{}{}
	n, err := connectScript.Run(ctx, p.client, []string{p.key(userID)}, p.node, p.ttl.Milliseconds()).Int()
	if err != nil {
		return false, fmt.Errorf("redis: presence connect %d: %w", userID, err)
	}
	return n == 1, nil
}

// Disconnect forgets userID here and deletes this node's field. A user
// this node did not hold is left alone and reported as not going offline,
// as chat/memory does. On a Redis error the field expires within the TTL.
func (p *Presence) Disconnect(ctx context.Context, userID int64) (bool, error) {
	s := p.shard(userID)
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.local[userID]; !ok {
		return false, nil
	}
	delete(s.local, userID)
	n, err := disconnectScript.Run(ctx, p.client, []string{p.key(userID)}, p.node).Int()
	if err != nil {
		return false, fmt.Errorf("redis: presence disconnect %d: %w", userID, err)
	}
	return n == 1, nil
}

// Online reads the users' hashes and the server time in one pipeline.
func (p *Presence) Online(ctx context.Context, userIDs []int64) (map[int64]bool, error) {
	online := make(map[int64]bool, len(userIDs))
	if len(userIDs) == 0 {
		return online, nil
	}
	pipe := p.client.Pipeline()
	now := pipe.Time(ctx)
	vals := make([]*goredis.StringSliceCmd, len(userIDs))
	for i, id := range userIDs {
		vals[i] = pipe.HVals(ctx, p.key(id))
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return nil, fmt.Errorf("redis: presence online: %w", err)
	}
	nowMs := now.Val().UnixMilli()
	for i, id := range userIDs {
		online[id] = false
		for _, v := range vals[i].Val() {
			if exp, err := strconv.ParseInt(v, 10, 64); err == nil && exp > nowMs {
				online[id] = true
				break
			}
		}
	}
	return online, nil
}

// Run refreshes this node's fields every TTL/3 until ctx ends, so two
// refreshes may fail in a row before a user is wrongly shown offline. A
// failed refresh is retried at the next tick: there is nothing better to
// do, and Connect reports Redis errors to its callers anyway. Run returns
// nil when ctx ends, since stopping is not a failure.
func (p *Presence) Run(ctx context.Context) error {
	return refreshEvery(ctx, p.ttl/3, p.Refresh)
}

// Refresh resets the expiry of this node's field of every locally
// connected user, one pipeline per shard, and returns the first error. Run
// calls it; it is exported for callers that drive their own schedule.
func (p *Presence) Refresh(ctx context.Context) error {
	var first error
	for i := range p.shards {
		if err := p.refreshShard(ctx, &p.shards[i]); err != nil && first == nil {
			first = err
		}
	}
	return first
}

func (p *Presence) refreshShard(ctx context.Context, s *presenceShard) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.local) == 0 {
		return nil
	}
	run := func(useSHA bool) error {
		pipe := p.client.Pipeline()
		for id := range s.local {
			keys, ttl := []string{p.key(id)}, p.ttl.Milliseconds()
			if useSHA {
				connectScript.EvalSha(ctx, pipe, keys, p.node, ttl)
			} else {
				connectScript.Eval(ctx, pipe, keys, p.node, ttl)
			}
		}
		_, err := pipe.Exec(ctx)
		return err
	}
	err := run(true)
	if err != nil && goredis.HasErrorPrefix(err, "NOSCRIPT") {
		// The script cache is empty after a Redis restart: send the
		// body once more, which also loads it for next time.
		err = run(false)
	}
	if err != nil {
		return fmt.Errorf("redis: presence refresh: %w", err)
	}
	return nil
}
