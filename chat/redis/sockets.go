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

var _ chat.SocketCounter = (*SocketCounter)(nil)

// SocketCounter is chat.SocketCounter shared by every node. Each user is a
// hash at prefix+"sockets:"+userID with one field per counted connection,
// valued "<acquired ms>:<expires ms>" in Redis server time. Acquire drops
// expired fields, evicts the oldest beyond the cap and adds the new one in
// one script, so nodes acquiring at once never count past the cap. The node
// that holds a connection refreshes its expiry (Run); the fields of a node
// that died expire within the TTL and stop counting.
type SocketCounter struct {
	client goredis.UniversalClient
	prefix string
	ttl    time.Duration

	mu    sync.Mutex
	local map[int64]map[int64]struct{} // userID -> connections counted by this node
}

// NewSocketCounter returns the SocketCounter of one node; entries live ttl
// unless Run refreshes them (ttl <= 0: DefaultPresenceTTL).
func NewSocketCounter(client goredis.UniversalClient, prefix string, ttl time.Duration) *SocketCounter {
	if ttl <= 0 {
		ttl = DefaultPresenceTTL
	}
	return &SocketCounter{client: client, prefix: prefix, ttl: ttl, local: make(map[int64]map[int64]struct{})}
}

// socketsNow is Redis server time in Unix milliseconds.
const socketsNow = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
`

// acquireScript: KEYS[1] the user's hash; ARGV[1] the connection, ARGV[2]
// the TTL in ms, ARGV[3] the cap. Returns the evicted connections, oldest
// first.
var acquireScript = goredis.NewScript(socketsNow + `
local ttl = tonumber(ARGV[2])
local cap = tonumber(ARGV[3])
local live = {}
local all = redis.call('HGETALL', KEYS[1])
for i = 1, #all, 2 do
	local since, exp = string.match(all[i+1], '^(%d+):(%d+)$')
	if since == nil or tonumber(exp) <= now then
		redis.call('HDEL', KEYS[1], all[i])
	elseif all[i] ~= ARGV[1] then
		live[#live+1] = {all[i], tonumber(since)}
	end
end
table.sort(live, function(a, b)
	if a[2] ~= b[2] then return a[2] < b[2] end
	if #a[1] ~= #b[1] then return #a[1] < #b[1] end
	return a[1] < b[1]
end)
local evicted = {}
local over = #live + 1 - cap
for i = 1, over do
	redis.call('HDEL', KEYS[1], live[i][1])
	evicted[#evicted+1] = live[i][1]
end
redis.call('HSET', KEYS[1], ARGV[1], string.format('%d:%d', now, now + ttl))
redis.call('PEXPIRE', KEYS[1], ttl)
return evicted
`)

// refreshScript moves one counted connection's expiry on, unless another
// node has evicted it meanwhile (then it stays gone).
var refreshScript = goredis.NewScript(socketsNow + `
local v = redis.call('HGET', KEYS[1], ARGV[1])
if not v then
	return 0
end
local since = string.match(v, '^(%d+):')
redis.call('HSET', KEYS[1], ARGV[1], since .. ':' .. string.format('%d', now + tonumber(ARGV[2])))
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 1
`)

func (s *SocketCounter) key(userID int64) string {
	return s.prefix + "sockets:" + strconv.FormatInt(userID, 10)
}

// Acquire counts connID and evicts the user's oldest connections beyond
// max, on whichever nodes they are.
func (s *SocketCounter) Acquire(ctx context.Context, userID, connID int64, max int) ([]int64, error) {
	if max <= 0 {
		return nil, fmt.Errorf("redis: socket cap %d: must be positive", max)
	}
	s.mu.Lock()
	conns := s.local[userID]
	if conns == nil {
		conns = make(map[int64]struct{})
		s.local[userID] = conns
	}
	conns[connID] = struct{}{}
	s.mu.Unlock()
	res, err := acquireScript.Run(ctx, s.client, []string{s.key(userID)},
		strconv.FormatInt(connID, 10), s.ttl.Milliseconds(), max).StringSlice()
	if err != nil {
		s.forget(userID, connID)
		return nil, fmt.Errorf("redis: acquire socket of user %d: %w", userID, err)
	}
	evicted := make([]int64, 0, len(res))
	for _, v := range res {
		id, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			continue // not one of ours: nothing to close
		}
		evicted = append(evicted, id)
		s.forget(userID, id)
	}
	return evicted, nil
}

// Release stops counting connID. On a Redis error the field expires within
// the TTL, since this node no longer refreshes it.
func (s *SocketCounter) Release(ctx context.Context, userID, connID int64) error {
	s.forget(userID, connID)
	if err := s.client.HDel(ctx, s.key(userID), strconv.FormatInt(connID, 10)).Err(); err != nil {
		return fmt.Errorf("redis: release socket of user %d: %w", userID, err)
	}
	return nil
}

func (s *SocketCounter) forget(userID, connID int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if conns := s.local[userID]; conns != nil {
		delete(conns, connID)
		if len(conns) == 0 {
			delete(s.local, userID)
		}
	}
}

// Run refreshes this node's connections every TTL/3 until ctx ends, like
// Presence.Run; it returns nil then.
func (s *SocketCounter) Run(ctx context.Context) error {
	return refreshEvery(ctx, s.ttl/3, s.Refresh)
}

// Refresh moves the expiry of every connection this node counts, in one
// pipeline. Run calls it; it is exported for callers with their own
// schedule.
func (s *SocketCounter) Refresh(ctx context.Context) error {
	type entry struct{ user, conn int64 }
	s.mu.Lock()
	entries := make([]entry, 0, len(s.local))
	for uid, conns := range s.local {
		for id := range conns {
			entries = append(entries, entry{uid, id})
		}
	}
	s.mu.Unlock()
	if len(entries) == 0 {
		return nil
	}
	run := func(useSHA bool) error {
		pipe := s.client.Pipeline()
		for _, e := range entries {
			keys, args := []string{s.key(e.user)}, []any{strconv.FormatInt(e.conn, 10), s.ttl.Milliseconds()}
			if useSHA {
				refreshScript.EvalSha(ctx, pipe, keys, args...)
			} else {
				refreshScript.Eval(ctx, pipe, keys, args...)
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
		return fmt.Errorf("redis: socket refresh: %w", err)
	}
	return nil
}
