package memory

import (
	"container/heap"
	"context"
	"errors"
	"strconv"
	"sync"
	"time"

	"github.com/korobka/korobka/chat"
)

var _ chat.Queue = (*Queue)(nil)

// QueueConfig tunes a Queue. The zero value gives the defaults below.
type QueueConfig struct {
	Policy chat.RetryPolicy
	// ClaimTimeout is how long a claimed job may stay unfinished before
	// Claim hands it to another consumer.
	ClaimTimeout time.Duration
	// Block is how long Claim waits for a due job before answering none.
	Block time.Duration
	// DedupeWindow is how long a job's key keeps the same key out, from
	// its enqueue and again from its ack.
	DedupeWindow time.Duration
	// MaxJobs bounds the jobs held (queued, delayed and claimed); Enqueue
	// refuses a batch that would go over it.
	MaxJobs int
	// MaxDead is how many dead letters are kept, newest.
	MaxDead int
	// Now is the clock of due times, claim timeouts and windows; nil is
	// time.Now. Claim's wait is always real time.
	Now func() time.Time
}

// Queue defaults, shared with the Redis queue's.
const (
	DefaultClaimTimeout = 30 * time.Second
	DefaultBlock        = time.Second
	DefaultDedupeWindow = time.Hour
	DefaultMaxJobs      = 1_000_000
	DefaultMaxDead      = 10_000
)

// ErrQueueFull is returned by Enqueue when MaxJobs would be exceeded.
var ErrQueueFull = errors.New("memory: push queue full")

// Queue is chat.Queue inside one process: the embedded default. It keeps
// what the Redis queue keeps (ready jobs in order, delayed jobs by due
// time, claimed jobs per consumer, keys for a window, dead letters), so
// both behave alike under chattest.TestQueue; nothing survives a restart.
type Queue struct {
	cfg QueueConfig

	mu      sync.Mutex
	ready   []*qentry // FIFO from head
	head    int
	delayed delayHeap
	pending map[string]*qentry // by delivery id
	// keys maps a job key to the end of its window; expiries lists the
	// same in order of setting, for expiring them in O(1) amortised.
	keys     map[string]time.Time
	expiries []keyExpiry
	expHead  int
	dead     []chat.Job // oldest first, at most MaxDead
	nextID   int64
	// signal is closed (and replaced) when jobs become ready, waking
	// waiting Claims.
	signal      chan struct{}
	lastReclaim time.Time
}

type qentry struct {
	job       chat.Job
	id        string
	consumer  string
	claimedAt time.Time
}

type keyExpiry struct {
	key string
	at  time.Time
}

// NewQueue returns an empty Queue.
func NewQueue(cfg QueueConfig) *Queue {
	cfg.Policy = cfg.Policy.WithDefaults()
	if cfg.ClaimTimeout <= 0 {
		cfg.ClaimTimeout = DefaultClaimTimeout
	}
	if cfg.Block <= 0 {
		cfg.Block = DefaultBlock
	}
	if cfg.DedupeWindow <= 0 {
		cfg.DedupeWindow = DefaultDedupeWindow
	}
	if cfg.MaxJobs <= 0 {
		cfg.MaxJobs = DefaultMaxJobs
	}
	if cfg.MaxDead <= 0 {
		cfg.MaxDead = DefaultMaxDead
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Queue{
		cfg:     cfg,
		pending: map[string]*qentry{},
		keys:    map[string]time.Time{},
		signal:  make(chan struct{}),
	}
}

// Enqueue adds the jobs whose keys are not in their window: ready ones at
// the end of the line, delayed ones by due time.
func (q *Queue) Enqueue(ctx context.Context, jobs ...chat.Job) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	for _, j := range jobs {
		if j.Key == "" {
			return 0, errors.New("memory: push job without a key")
		}
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.size()+len(jobs) > q.cfg.MaxJobs {
		return 0, ErrQueueFull
	}
	now := q.cfg.Now()
	q.expireKeys(now)
	added, ready := 0, false
	for _, j := range jobs {
		if end, ok := q.keys[j.Key]; ok && end.After(now) {
			continue
		}
		q.setKey(j.Key, now)
		added++
		if j.Due().After(now) {
			heap.Push(&q.delayed, &qentry{job: j})
		} else {
			q.ready = append(q.ready, &qentry{job: j})
			ready = true
		}
	}
	if ready {
		q.wake()
	}
	return added, nil
}

// Claim hands out reclaimed jobs first, then ready ones, waiting up to
// Block for some.
func (q *Queue) Claim(ctx context.Context, consumer string, n int) ([]chat.Delivery, error) {
	if n <= 0 {
		return nil, nil
	}
	deadline := time.Now().Add(q.cfg.Block)
	for {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		q.mu.Lock()
		now := q.cfg.Now()
		q.promote(now)
		out := q.reclaim(now, consumer, n)
		for len(out) < n && q.head < len(q.ready) {
			e := q.ready[q.head]
			q.ready[q.head] = nil
			q.head++
			out = append(out, q.claim(e, consumer, now, false))
		}
		q.compact()
		wait := time.Until(deadline)
		if len(q.delayed) > 0 {
			wait = min(wait, q.delayed[0].job.Due().Sub(now))
		}
		sig := q.signal
		q.mu.Unlock()
		if len(out) > 0 {
			return out, nil
		}
		if time.Until(deadline) <= 0 {
			return nil, nil
		}
		t := time.NewTimer(max(wait, time.Millisecond))
		select {
		case <-sig:
		case <-t.C:
		case <-ctx.Done():
		}
		t.Stop()
	}
}

// claim records e as held by consumer under a new delivery id.
func (q *Queue) claim(e *qentry, consumer string, now time.Time, reclaimed bool) chat.Delivery {
	q.nextID++
	e.id, e.consumer, e.claimedAt = strconv.FormatInt(q.nextID, 10), consumer, now
	q.pending[e.id] = e
	return chat.Delivery{Job: e.job, ID: e.id, Consumer: consumer, Reclaimed: reclaimed}
}

// reclaim takes over claims older than ClaimTimeout, looking at most
// every quarter of it.
func (q *Queue) reclaim(now time.Time, consumer string, max int) []chat.Delivery {
	if now.Sub(q.lastReclaim) < q.cfg.ClaimTimeout/4 {
		return nil
	}
	q.lastReclaim = now
	var out []chat.Delivery
	for id, e := range q.pending {
		if len(out) == max {
			break
		}
		if now.Sub(e.claimedAt) >= q.cfg.ClaimTimeout {
			delete(q.pending, id)
			out = append(out, q.claim(e, consumer, now, true))
		}
	}
	if len(out) == max {
		// There may be more: look again at the next Claim.
		q.lastReclaim = time.Time{}
	}
	return out
}

// Ack finishes the deliveries still held and restarts their keys' window.
func (q *Queue) Ack(ctx context.Context, ds ...chat.Delivery) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	now := q.cfg.Now()
	for _, d := range ds {
		if _, ok := q.pending[d.ID]; ok {
			delete(q.pending, d.ID)
			q.setKey(d.Job.Key, now)
		}
	}
	return nil
}

// Retry replaces a held delivery by next, delayed or dead. A delivery no
// longer held (another consumer reclaimed and finished it) is left alone.
func (q *Queue) Retry(ctx context.Context, d chat.Delivery, next chat.Job, permanent bool) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, err
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	if _, ok := q.pending[d.ID]; !ok {
		return false, nil
	}
	delete(q.pending, d.ID)
	now := q.cfg.Now()
	next.Key = d.Job.Key
	if permanent || next.Attempt >= q.cfg.Policy.MaxAttempts {
		q.dead = append(q.dead, next)
		if len(q.dead) > q.cfg.MaxDead {
			q.dead = append(q.dead[:0:0], q.dead[len(q.dead)-q.cfg.MaxDead:]...)
		}
		return true, nil
	}
	due := now.Add(q.cfg.Policy.Delay(next.Attempt))
	if next.NotBefore.After(due) {
		due = next.NotBefore
	}
	next.NotBefore = due
	q.setKey(next.Key, now)
	heap.Push(&q.delayed, &qentry{job: next})
	return false, nil
}

// DeadLetters returns the newest dead jobs first.
func (q *Queue) DeadLetters(ctx context.Context, max int) ([]chat.Job, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	out := []chat.Job{}
	for i := len(q.dead) - 1; i >= 0 && len(out) < max; i-- {
		out = append(out, q.dead[i])
	}
	return out, nil
}

// Len reports the jobs held: ready, delayed and claimed.
func (q *Queue) Len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.size()
}

func (q *Queue) size() int { return len(q.ready) - q.head + len(q.delayed) + len(q.pending) }

// promote moves due delayed jobs to the end of the line.
func (q *Queue) promote(now time.Time) {
	for len(q.delayed) > 0 && !q.delayed[0].job.Due().After(now) {
		q.ready = append(q.ready, heap.Pop(&q.delayed).(*qentry))
	}
}

// compact drops the consumed front of the line once it is most of it.
func (q *Queue) compact() {
	if q.head > 1024 && q.head*2 > len(q.ready) {
		q.ready = append(q.ready[:0:0], q.ready[q.head:]...)
		q.head = 0
	}
}

func (q *Queue) wake() {
	close(q.signal)
	q.signal = make(chan struct{})
}

func (q *Queue) setKey(key string, now time.Time) {
	end := now.Add(q.cfg.DedupeWindow)
	q.keys[key] = end
	q.expiries = append(q.expiries, keyExpiry{key, end})
}

// expireKeys forgets keys whose window ended. Windows are set in time
// order, so expired entries are at the front; an entry superseded by a
// later setting of its key is skipped.
func (q *Queue) expireKeys(now time.Time) {
	for q.expHead < len(q.expiries) && !q.expiries[q.expHead].at.After(now) {
		x := q.expiries[q.expHead]
		q.expiries[q.expHead] = keyExpiry{}
		q.expHead++
		if end, ok := q.keys[x.key]; ok && !end.After(now) {
			delete(q.keys, x.key)
		}
	}
	if q.expHead > 1024 && q.expHead*2 > len(q.expiries) {
		q.expiries = append(q.expiries[:0:0], q.expiries[q.expHead:]...)
		q.expHead = 0
	}
}

// delayHeap orders delayed jobs by due time.
type delayHeap []*qentry

func (h delayHeap) Len() int           { return len(h) }
func (h delayHeap) Less(i, j int) bool { return h[i].job.Due().Before(h[j].job.Due()) }
func (h delayHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *delayHeap) Push(x any)        { *h = append(*h, x.(*qentry)) }
func (h *delayHeap) Pop() any {
	old := *h
	e := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	return e
}
