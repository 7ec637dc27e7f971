package redis

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/korobka/korobka/chat"
)

var _ chat.Queue = (*Queue)(nil)

// QueueConfig tunes a Queue. The zero value gives the defaults below.
type QueueConfig struct {
	// Prefix starts every key ("korobka:push:"). The keys carry the hash
	// tag {q}, so on Redis Cluster they share a slot, as the scripts need.
	Prefix string
	// Group is the consumer group every node's workers join.
	Group  string
	Policy chat.RetryPolicy
	// ClaimTimeout is how long a claimed job may stay unacknowledged (by
	// Redis server time) before another consumer takes it (XAUTOCLAIM).
	// Keep it well above the longest send.
	ClaimTimeout time.Duration
	// Block is how long Claim waits for a job (XREADGROUP BLOCK).
	Block time.Duration
	// DedupeWindow is how long a key keeps the same key out.
	DedupeWindow time.Duration
	// MaxDead is about how many dead letters the dead stream keeps.
	MaxDead int
	// Now is the clock of due times; nil is time.Now. Nodes' clocks only
	// need to agree to well within a retry step.
	Now func() time.Time
}

// Queue defaults.
const (
	DefaultQueueGroup   = "workers"
	DefaultClaimTimeout = 30 * time.Second
	DefaultBlock        = time.Second
	DefaultDedupeWindow = time.Hour
	DefaultMaxDead      = 10_000
	// promoteBatch bounds the delayed jobs one Claim moves to the stream.
	promoteBatch = 1000
)

// Queue is chat.Queue on Redis Streams, shared by every node:
//
//   - {q}:stream holds ready jobs as entries with one field, j, the job's
//     JSON. Workers read it through the consumer group (XREADGROUP); an
//     entry stays in the group's pending list until acked, and an entry
//     pending longer than ClaimTimeout is taken over by another consumer
//     (XAUTOCLAIM), so a worker that dies loses nothing. Acked entries are
//     deleted, so the stream holds only what is queued or in flight.
//   - {q}:delayed is a sorted set of jobs by due time in Unix ms: jobs
//     with a NotBefore and retries waiting out their backoff. Claim moves
//     the due ones to the stream in a script, so two nodes never move one
//     twice.
//   - {q}:dead is a stream of dead jobs, trimmed to about MaxDead.
//   - {q}:k:<key> marks a job key for DedupeWindow from its enqueue and
//     again from its ack.
//
// Every change of more than one key is one script or MULTI, so a node
// that dies between two commands leaves no half-moved job.
type Queue struct {
	client  goredis.UniversalClient
	cfg     QueueConfig
	stream  string
	delayed string
	dead    string
	keys    string

	mu          sync.Mutex
	groupReady  bool
	autoclaimed map[string]autoclaimState // per consumer
}

type autoclaimState struct {
	cursor string
	at     time.Time // real time of the last XAUTOCLAIM
}

// NewQueue returns the Queue under cfg.Prefix. The consumer group is
// created on first use.
func NewQueue(client goredis.UniversalClient, cfg QueueConfig) *Queue {
	cfg.Policy = cfg.Policy.WithDefaults()
	if cfg.Group == "" {
		cfg.Group = DefaultQueueGroup
	}
	if cfg.ClaimTimeout <= 0 {
		cfg.ClaimTimeout = DefaultClaimTimeout
	}
	if cfg.Block <= 0 {
		cfg.Block = DefaultBlock
	}
	if cfg.DedupeWindow <= 0 {
		cfg.DedupeWindow = DefaultDedupeWindow
	}
	if cfg.MaxDead <= 0 {
		cfg.MaxDead = DefaultMaxDead
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	base := cfg.Prefix + "{q}:"
	return &Queue{
		client:      client,
		cfg:         cfg,
		stream:      base + "stream",
		delayed:     base + "delayed",
		dead:        base + "dead",
		keys:        base + "k:",
		autoclaimed: map[string]autoclaimState{},
	}
}

// enqueueScript adds each job whose key it can set: to the stream when
// due, to the delayed set otherwise. KEYS: stream, delayed, then one key
// marker per job. ARGV: window ms, now ms, then per job its due ms and
// JSON.
var enqueueScript = goredis.NewScript(`
local added = 0
local now = tonumber(ARGV[2])
for i = 3, #KEYS do
	local a = (i - 3) * 2 + 3
	if redis.call('SET', KEYS[i], 'q', 'NX', 'PX', ARGV[1]) then
		local due = tonumber(ARGV[a])
		if due <= now then
			redis.call('XADD', KEYS[1], '*', 'j', ARGV[a + 1])
		else
			redis.call('ZADD', KEYS[2], due, ARGV[a + 1])
		end
		added = added + 1
	end
end
return added
`)

// promoteScript moves up to ARGV[2] jobs due at ARGV[1] from the delayed
// set (KEYS[1]) to the stream (KEYS[2]) and returns how many it moved and
// the due time of the next delayed job (-1 for none).
var promoteScript = goredis.NewScript(`
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))
for _, job in ipairs(due) do
	redis.call('XADD', KEYS[2], '*', 'j', job)
	redis.call('ZREM', KEYS[1], job)
end
local nxt = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
if #nxt == 0 then
	return {#due, -1}
end
return {#due, tonumber(nxt[2])}
`)

// retryScript finishes a pending entry held by the consumer and puts the
// next job in the delayed set or the dead stream. It does nothing (and
// returns -1) when the entry is no longer the consumer's: another took it
// over, and that one decides. KEYS: stream, delayed, dead, key marker.
// ARGV: group, entry id, consumer, dead (1/0), due ms, JSON, window ms,
// max dead.
var retryScript = goredis.NewScript(`
local p = redis.call('XPENDING', KEYS[1], ARGV[1], ARGV[2], ARGV[2], 1)
if #p == 0 or p[1][2] ~= ARGV[3] then
	return -1
end
redis.call('XACK', KEYS[1], ARGV[1], ARGV[2])
redis.call('XDEL', KEYS[1], ARGV[2])
redis.call('SET', KEYS[4], 'q', 'PX', ARGV[7])
if ARGV[4] == '1' then
	redis.call('XADD', KEYS[3], 'MAXLEN', '~', ARGV[8], '*', 'j', ARGV[6])
	return 1
end
redis.call('ZADD', KEYS[2], ARGV[5], ARGV[6])
return 0
`)

// Enqueue adds the jobs in one script call.
func (q *Queue) Enqueue(ctx context.Context, jobs ...chat.Job) (int, error) {
	if len(jobs) == 0 {
		return 0, nil
	}
	keys := make([]string, 0, len(jobs)+2)
	keys = append(keys, q.stream, q.delayed)
	args := make([]any, 0, 2*len(jobs)+2)
	args = append(args, q.cfg.DedupeWindow.Milliseconds(), q.cfg.Now().UnixMilli())
	for _, j := range jobs {
		if j.Key == "" {
			return 0, errors.New("redis: push job without a key")
		}
		b, err := json.Marshal(j)
		if err != nil {
			return 0, fmt.Errorf("redis: encode push job: %w", err)
		}
		keys = append(keys, q.keys+j.Key)
		args = append(args, j.Due().UnixMilli(), b)
	}
	n, err := enqueueScript.Run(ctx, q.client, keys, args...).Int()
	if err != nil {
		return 0, fmt.Errorf("redis: enqueue push jobs: %w", err)
	}
	return n, nil
}

// Claim moves due delayed jobs to the stream, takes over jobs of dead
// consumers, then reads new entries, blocking up to Block (or until the
// next delayed job is due) when there are none.
func (q *Queue) Claim(ctx context.Context, consumer string, n int) ([]chat.Delivery, error) {
	if n <= 0 {
		return nil, nil
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := q.ensureGroup(ctx); err != nil {
		return nil, err
	}
	now := q.cfg.Now()
	res, err := promoteScript.Run(ctx, q.client, []string{q.delayed, q.stream}, now.UnixMilli(), promoteBatch).Int64Slice()
	if err != nil {
		return nil, fmt.Errorf("redis: promote delayed push jobs: %w", err)
	}
	block := q.cfg.Block
	if next := res[1]; next >= 0 {
		block = min(block, time.Duration(next-now.UnixMilli())*time.Millisecond)
	}
	out, err := q.autoclaim(ctx, consumer, n)
	if err != nil {
		return nil, err
	}
	if len(out) >= n {
		return out, nil
	}
	args := &goredis.XReadGroupArgs{
		Group:    q.cfg.Group,
		Consumer: consumer,
		Streams:  []string{q.stream, ">"},
		Count:    int64(n - len(out)),
		Block:    max(block, time.Millisecond), // BLOCK 0 would wait forever
	}
	if len(out) > 0 {
		args.Block = -1 // do not wait: there is work in hand
	}
	streams, err := q.client.XReadGroup(ctx, args).Result()
	if errors.Is(err, goredis.Nil) {
		return out, nil
	}
	if err != nil {
		if goredis.HasErrorPrefix(err, "NOGROUP") {
			q.mu.Lock()
			q.groupReady = false // the stream was deleted: create it again
			q.mu.Unlock()
		}
		return nil, fmt.Errorf("redis: read push jobs: %w", err)
	}
	for _, s := range streams {
		for _, m := range s.Messages {
			d, err := q.delivery(m, consumer, false)
			if err != nil {
				return nil, err
			}
			out = append(out, d)
		}
	}
	return out, nil
}

// autoclaim takes over entries pending longer than ClaimTimeout, looking
// at most every quarter of it per consumer, and continuing from where the
// previous scan of the pending list stopped.
func (q *Queue) autoclaim(ctx context.Context, consumer string, n int) ([]chat.Delivery, error) {
	q.mu.Lock()
	st := q.autoclaimed[consumer]
	if time.Since(st.at) < q.cfg.ClaimTimeout/4 {
		q.mu.Unlock()
		return nil, nil
	}
	st.at = time.Now()
	if st.cursor == "" {
		st.cursor = "0-0"
	}
	q.autoclaimed[consumer] = st
	q.mu.Unlock()

	msgs, next, err := q.client.XAutoClaim(ctx, &goredis.XAutoClaimArgs{
		Stream:   q.stream,
		Group:    q.cfg.Group,
		Consumer: consumer,
		MinIdle:  q.cfg.ClaimTimeout,
		Start:    st.cursor,
		Count:    int64(n),
	}).Result()
	if err != nil {
		return nil, fmt.Errorf("redis: reclaim push jobs: %w", err)
	}
	q.mu.Lock()
	st = q.autoclaimed[consumer]
	st.cursor = next
	if len(msgs) == n && next != "0-0" {
		st.at = time.Time{} // there may be more: look again at once
	}
	q.autoclaimed[consumer] = st
	q.mu.Unlock()
	out := make([]chat.Delivery, 0, len(msgs))
	for _, m := range msgs {
		d, err := q.delivery(m, consumer, true)
		if err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	return out, nil
}

func (q *Queue) delivery(m goredis.XMessage, consumer string, reclaimed bool) (chat.Delivery, error) {
	raw, _ := m.Values["j"].(string)
	var j chat.Job
	if err := json.Unmarshal([]byte(raw), &j); err != nil {
		// Only this code writes the stream; a bad entry is a bug or a
		// foreign writer. It is handed out with its id so that the
		// worker dead-letters it instead of it blocking the group.
		j = chat.Job{Key: "undecodable:" + m.ID, Kind: "undecodable", LastError: err.Error()}
	}
	return chat.Delivery{Job: j, ID: m.ID, Consumer: consumer, Reclaimed: reclaimed}, nil
}

// ensureGroup creates the stream and the consumer group unless done.
func (q *Queue) ensureGroup(ctx context.Context) error {
	q.mu.Lock()
	ready := q.groupReady
	q.mu.Unlock()
	if ready {
		return nil
	}
	err := q.client.XGroupCreateMkStream(ctx, q.stream, q.cfg.Group, "0").Err()
	if err != nil && !goredis.HasErrorPrefix(err, "BUSYGROUP") {
		return fmt.Errorf("redis: create push consumer group: %w", err)
	}
	q.mu.Lock()
	q.groupReady = true
	q.mu.Unlock()
	return nil
}

// Ack acknowledges and deletes the entries and restarts their keys'
// windows, in one MULTI.
func (q *Queue) Ack(ctx context.Context, ds ...chat.Delivery) error {
	if len(ds) == 0 {
		return nil
	}
	_, err := q.client.TxPipelined(ctx, func(p goredis.Pipeliner) error {
		ids := make([]string, len(ds))
		for i, d := range ds {
			ids[i] = d.ID
			p.Set(ctx, q.keys+d.Job.Key, "d", q.cfg.DedupeWindow)
		}
		p.XAck(ctx, q.stream, q.cfg.Group, ids...)
		p.XDel(ctx, q.stream, ids...)
		return nil
	})
	if err != nil {
		return fmt.Errorf("redis: ack push jobs: %w", err)
	}
	return nil
}

// Retry replaces the consumer's entry by next, delayed or dead.
func (q *Queue) Retry(ctx context.Context, d chat.Delivery, next chat.Job, permanent bool) (bool, error) {
	next.Key = d.Job.Key
	dead := permanent || next.Attempt >= q.cfg.Policy.MaxAttempts
	due := q.cfg.Now().Add(q.cfg.Policy.Delay(next.Attempt))
	if next.NotBefore.After(due) {
		due = next.NotBefore
	}
	if !dead {
		next.NotBefore = due
	}
	b, err := json.Marshal(next)
	if err != nil {
		return false, fmt.Errorf("redis: encode push job: %w", err)
	}
	flag := "0"
	if dead {
		flag = "1"
	}
	n, err := retryScript.Run(ctx, q.client, []string{q.stream, q.delayed, q.dead, q.keys + next.Key},
		q.cfg.Group, d.ID, d.Consumer, flag, due.UnixMilli(), b, q.cfg.DedupeWindow.Milliseconds(), q.cfg.MaxDead).Int()
	if err != nil {
		return false, fmt.Errorf("redis: retry push job: %w", err)
	}
	return n == 1, nil
}

// DeadLetters reads the dead stream, newest first.
func (q *Queue) DeadLetters(ctx context.Context, n int) ([]chat.Job, error) {
	msgs, err := q.client.XRevRangeN(ctx, q.dead, "+", "-", int64(n)).Result()
	if err != nil {
		return nil, fmt.Errorf("redis: read dead push jobs: %w", err)
	}
	out := make([]chat.Job, 0, len(msgs))
	for _, m := range msgs {
		raw, _ := m.Values["j"].(string)
		var j chat.Job
		if err := json.Unmarshal([]byte(raw), &j); err != nil {
			j = chat.Job{Key: "undecodable:" + m.ID, LastError: err.Error()}
		}
		out = append(out, j)
	}
	return out, nil
}

// Depth reports the jobs in the stream (queued or claimed) and delayed,
// for metrics.
func (q *Queue) Depth(ctx context.Context) (stream, delayed int64, err error) {
	pipe := q.client.Pipeline()
	s := pipe.XLen(ctx, q.stream)
	d := pipe.ZCard(ctx, q.delayed)
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, goredis.Nil) {
		return 0, 0, fmt.Errorf("redis: push queue depth: %w", err)
	}
	return s.Val(), d.Val(), nil
}
