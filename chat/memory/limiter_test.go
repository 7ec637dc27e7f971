package memory

import (
	"strconv"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/korobka/korobka/chat"
	"github.com/korobka/korobka/chat/chattest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// clock is a fake time source that moves only when told to.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func newClock() *clock { return &clock{now: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func TestLimiter(t *testing.T) {
	// One clock for all subtests: advancing it is harmless to limiters
	// that are not looking.
	c := newClock()
	chattest.TestLimiter(t, func(t *testing.T) chat.Limiter {
		return NewLimiter(c.Now)
	}, c.Advance)
}

func TestLimiterRealClock(t *testing.T) {
	chattest.TestLimiter(t, func(t *testing.T) chat.Limiter {
		return NewLimiter(nil)
	}, nil)
}

// TestLimiterForgets checks that memory stays bounded by the keys still
// limited: keys whose buckets are full again are dropped as new ones come.
func TestLimiterForgets(t *testing.T) {
	c := newClock()
	l := NewLimiter(c.Now)
	lim := chat.Limit{Rate: 1, Period: time.Second, Burst: 1}
	const perRound = 10_000
	for round := range 20 {
		for i := range perRound {
			key := strconv.Itoa(round*perRound + i)
			if ok, _, err := l.Allow(t.Context(), key, lim); err != nil || !ok {
				t.Fatalf("Allow(%q): got (%v, %v), want (true, nil)", key, ok, err)
			}
		}
		c.Advance(lim.Period)
	}
	// Each round's keys are full again a second later; at most the last
	// round's keys plus sweep slack (2x per shard) may remain.
	if got, limit := l.keys(), 2*perRound+limiterShards*minSweep; got > limit {
		t.Fatalf("keys held after %d idle rounds: got %d, want <= %d", 20, got, limit)
	}
}

// TestLimiterKeepsLimited checks that a sweep never forgets a key that is
// still limited.
func TestLimiterKeepsLimited(t *testing.T) {
	c := newClock()
	l := NewLimiter(c.Now)
	long := chat.Limit{Rate: 1, Period: time.Hour, Burst: 1}
	if ok, _, _ := l.Allow(t.Context(), "held", long); !ok {
		t.Fatal("first event: got refused, want allowed")
	}
	short := chat.Limit{Rate: 1, Period: time.Millisecond, Burst: 1}
	for i := range 100_000 {
		c.Advance(time.Millisecond)
		l.Allow(t.Context(), strconv.Itoa(i), short)
	}
	if ok, retry, _ := l.Allow(t.Context(), "held", long); ok || retry <= 0 {
		t.Fatalf("held key after sweeps: got (%v, %v), want refused", ok, retry)
	}
}

func TestGCRAInterval(t *testing.T) {
	for _, tt := range []struct {
		lim       chat.Limit
		interval  time.Duration
		burstSpan time.Duration
	}{
		{chat.Limit{Rate: 1, Period: time.Hour, Burst: 3}, time.Hour, 3 * time.Hour},
		{chat.Limit{Rate: 3, Period: time.Second, Burst: 3}, 333_333_334, 1_000_000_002},
		{chat.Limit{Rate: 50, Period: time.Second, Burst: 200}, 20 * time.Millisecond, 4 * time.Second},
		{chat.Limit{Rate: 1_000_000_000, Period: 1, Burst: 1}, 1, 1},
	} {
		interval, span, err := gcra(tt.lim)
		if err != nil || interval != tt.interval || span != tt.burstSpan {
			t.Errorf("gcra(%+v): got (%v, %v, %v), want (%v, %v, nil)", tt.lim, interval, span, err, tt.interval, tt.burstSpan)
		}
	}
	if _, _, err := gcra(chat.Limit{Rate: 1, Period: 1 << 60, Burst: 1 << 20}); err == nil {
		t.Errorf("gcra of a window beyond %v: got no error, want one", maxWindow)
	}
}

func (l *Limiter) keys() int {
	n := 0
	for i := range l.shards {
		s := &l.shards[i]
		s.mu.Lock()
		n += len(s.tat)
		s.mu.Unlock()
	}
	return n
}

func BenchmarkLimiterAllow(b *testing.B) {
	lim := chat.Limit{Rate: 50, Period: time.Second, Burst: 200}
	keys := make([]string, 4096)
	for i := range keys {
		keys[i] = "ws:conn:" + strconv.Itoa(i)
	}
	b.Run("OneKey", func(b *testing.B) {
		l := NewLimiter(nil)
		b.ReportAllocs()
		for b.Loop() {
			l.Allow(b.Context(), "ws:conn:1", lim)
		}
	})
	b.Run("ParallelKeys", func(b *testing.B) {
		l := NewLimiter(nil)
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			i := 0
			for pb.Next() {
				l.Allow(b.Context(), keys[i%len(keys)], lim)
				i++
			}
		})
	})
}
