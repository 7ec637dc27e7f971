// Package memory implements chat's shared-state interfaces inside one
// process. It is the embedded default: a single node with no Redis needs
// nothing more, and it passes the same chattest suites as chat/redis.
package memory

import (
	"context"
	"fmt"
	"hash/maphash"
	"math"
	"sync"
	"time"

	"github.com/korobka/korobka/chat"
)

var _ chat.Limiter = (*Limiter)(nil)

const (
	// limiterShards spreads keys over independent locks so that parallel
	// requests for different keys rarely wait for each other. A power of
	// two, so a shard is picked with a mask.
	limiterShards = 64
	// minSweep is how many keys a shard holds before it first looks for
	// idle ones: below it a sweep costs more than the memory it frees.
	minSweep = 64
)

// Limiter is chat.Limiter for one node. It runs the same GCRA as
// redis_rate (chat/redis): each key stores only its theoretical arrival
// time (TAT), the moment its bucket would be full again, and the limit is
// applied on every call. Keeping the same state model, rather than a token
// bucket per key, makes the two implementations agree even when a key is
// used with different limits over time.
//
// A key whose TAT has passed is indistinguishable from a key never seen, so
// it can be forgotten. Each shard drops such keys when it has grown to twice
// the size it had after its last sweep, which bounds memory by the keys
// active within their limits' windows, at amortised O(1) per call and with
// no background goroutine to own or stop.
type Limiter struct {
	now    func() time.Time
	base   time.Time // times are kept as durations since base
	seed   maphash.Seed
	shards [limiterShards]limiterShard
}

type limiterShard struct {
	mu      sync.Mutex
	tat     map[string]time.Duration // since Limiter.base
	sweepAt int                      // sweep before growing past this
	_       [40]byte                 // one cache line per shard: no false sharing
}

// NewLimiter returns an empty Limiter reading time from now, so tests can
// drive it with a fake clock instead of sleeping; nil means time.Now. Time
// is measured as now() minus the first reading, which uses the monotonic
// clock when now is time.Now: a wall-clock step does not free or block keys.
func NewLimiter(now func() time.Time) *Limiter {
	if now == nil {
		now = time.Now
	}
	l := &Limiter{now: now, base: now(), seed: maphash.MakeSeed()}
	for i := range l.shards {
		l.shards[i].tat = make(map[string]time.Duration)
		l.shards[i].sweepAt = minSweep
	}
	return l
}

// Allow counts one event against key under lim. A cancelled ctx returns
// its error and counts nothing, as chat/redis does, so callers see one
// behaviour whichever implementation is configured. A limit with a
// non-positive Rate, Period or Burst is a programming error and is
// reported rather than guessed at.
func (l *Limiter) Allow(ctx context.Context, key string, lim chat.Limit) (bool, time.Duration, error) {
	return l.AllowN(ctx, key, lim, 1)
}

// AllowN counts n events at once: the key's TAT moves by n emission
// intervals, or not at all. n outside 1..lim.Burst is an error, as in
// chat/redis.
func (l *Limiter) AllowN(ctx context.Context, key string, lim chat.Limit, n int) (bool, time.Duration, error) {
	if err := ctx.Err(); err != nil {
		return false, 0, err
	}
	interval, burstOffset, err := gcra(lim)
	if err != nil {
		return false, 0, err
	}
	if n < 1 || n > lim.Burst {
		return false, 0, fmt.Errorf("memory: %d events under %+v: n must be between 1 and the burst", n, lim)
	}
	now := l.now().Sub(l.base)
	s := &l.shards[maphash.String(l.seed, key)&(limiterShards-1)]

	s.mu.Lock()
	defer s.mu.Unlock()
	tat, seen := s.tat[key]
	tat = max(tat, now)
	next := tat + interval*time.Duration(n)
	if allowAt := next - burstOffset; allowAt > now {
		return false, allowAt - now, nil
	}
	if !seen && len(s.tat) >= s.sweepAt {
		s.sweep(now)
	}
	s.tat[key] = next
	return true, 0, nil
}

// Reset forgets key. A cancelled ctx returns its error and forgets
// nothing, as chat/redis does.
func (l *Limiter) Reset(ctx context.Context, key string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s := &l.shards[maphash.String(l.seed, key)&(limiterShards-1)]
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.tat, key)
	return nil
}

// AllowAtMost counts up to n events against key under lim at once: as
// many as fit before the key's TAT would run more than the burst ahead of
// now. It reports how many (0..n); with none, when one would fit.
func (l *Limiter) AllowAtMost(ctx context.Context, key string, lim chat.Limit, n int) (int, time.Duration, error) {
	if err := ctx.Err(); err != nil {
		return 0, 0, err
	}
	if n <= 0 {
		return 0, 0, fmt.Errorf("memory: AllowAtMost %d events: n must be positive", n)
	}
	interval, burstOffset, err := gcra(lim)
	if err != nil {
		return 0, 0, err
	}
	now := l.now().Sub(l.base)
	s := &l.shards[maphash.String(l.seed, key)&(limiterShards-1)]

	s.mu.Lock()
	defer s.mu.Unlock()
	tat, seen := s.tat[key]
	tat = max(tat, now)
	// Event k (1-based) is allowed when tat + k*interval - burstOffset <= now.
	room := (now + burstOffset - tat) / interval
	if room < 1 {
		return 0, tat + interval - burstOffset - now, nil
	}
	k := min(int64(n), int64(room))
	if !seen && len(s.tat) >= s.sweepAt {
		s.sweep(now)
	}
	s.tat[key] = tat + time.Duration(k)*interval
	return int(k), 0, nil
}

// sweep forgets the keys whose buckets are full again at now.
func (s *limiterShard) sweep(now time.Duration) {
	for k, tat := range s.tat {
		if tat <= now {
			delete(s.tat, k)
		}
	}
	s.sweepAt = max(2*len(s.tat), minSweep)
}

// maxWindow caps Burst*Period/Rate so TAT arithmetic cannot overflow.
const maxWindow = time.Duration(math.MaxInt64 / 4) // about 73 years

// gcra returns the time one event costs (the emission interval, rounded up
// so that never more than Rate events fit in a Period) and how far ahead of
// now a key's TAT may run (Burst events).
func gcra(lim chat.Limit) (interval, burstOffset time.Duration, err error) {
	if lim.Rate <= 0 || lim.Period <= 0 || lim.Burst <= 0 {
		return 0, 0, fmt.Errorf("memory: invalid limit %+v: rate, period and burst must be positive", lim)
	}
	rate := time.Duration(lim.Rate)
	interval = lim.Period / rate
	if lim.Period%rate != 0 {
		interval++
	}
	if interval > maxWindow/time.Duration(lim.Burst) {
		return 0, 0, fmt.Errorf("memory: invalid limit %+v: burst window too long", lim)
	}
	return interval, interval * time.Duration(lim.Burst), nil
}
