package chattest

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/korobka/korobka/chat"
)

// TestLimiter checks that a chat.Limiter behaves as the service relies on:
// GCRA with bursts, refused events not counted, independent keys, refill
// over time, exact counting under concurrency (event by event and in
// chunks), weighted requests (AllowN) that are allowed or refused whole,
// Reset giving a key's budget back, and errors for a cancelled context, a
// nonsensical limit or a weight that could never fit.
//
// newLimiter returns an empty limiter for one subtest (keys of other
// subtests must not be visible). advance moves the limiter's clock forward;
// it is nil for implementations that read a clock the test cannot control
// (Redis uses its server time), in which case timings are only bounded, and
// refill is checked with a short period and polling under a deadline, never
// by asserting how long it took.
func TestLimiter(t *testing.T, newLimiter func(t *testing.T) chat.Limiter, advance func(time.Duration)) {
	t.Helper()
	// An hour per event: no event refills while a subtest runs, however
	// slow the machine, so counts are exact even on a real clock.
	slow := chat.Limit{Rate: 1, Period: time.Hour, Burst: 5}
	perEvent := slow.Period / time.Duration(slow.Rate)

	t.Run("BurstThenRefused", func(t *testing.T) {
		l := newLimiter(t)
		for i := range slow.Burst {
			mustAllowEvent(t, l, "k", slow, i+1)
		}
		ok, retry := allowEvent(t, l, "k", slow)
		if ok {
			t.Fatalf("event %d after a burst of %d: got allowed, want refused", slow.Burst+1, slow.Burst)
		}
		if retry <= 0 || retry > perEvent {
			t.Fatalf("retryAfter: got %v, want in (0, %v]", retry, perEvent)
		}
		if advance != nil && retry != perEvent {
			t.Fatalf("retryAfter with the clock stopped: got %v, want %v", retry, perEvent)
		}
	})

	t.Run("RefusedNotCounted", func(t *testing.T) {
		l := newLimiter(t)
		for i := range slow.Burst {
			mustAllowEvent(t, l, "k", slow, i+1)
		}
		_, first := allowEvent(t, l, "k", slow)
		// Were refusals counted, each would push the next allowed event
		// an hour further away.
		for i := range 10 {
			ok, retry := allowEvent(t, l, "k", slow)
			if ok {
				t.Fatalf("refused retry %d: got allowed, want refused", i+1)
			}
			if retry > first {
				t.Fatalf("retryAfter after %d refusals: got %v, want <= %v (refusals must not count)", i+1, retry, first)
			}
		}
		if advance == nil {
			return
		}
		advance(first)
		mustAllowEvent(t, l, "k", slow, slow.Burst+1)
		ok, retry := allowEvent(t, l, "k", slow)
		if ok || retry != perEvent {
			t.Fatalf("after one refill: got (%v, %v), want (false, %v)", ok, retry, perEvent)
		}
	})

	t.Run("KeysIndependent", func(t *testing.T) {
		l := newLimiter(t)
		for i := range slow.Burst {
			mustAllowEvent(t, l, "a", slow, i+1)
		}
		if ok, _ := allowEvent(t, l, "a", slow); ok {
			t.Fatalf("key a after its burst: got allowed, want refused")
		}
		for _, key := range []string{"b", "a:", "A", ""} {
			for i := range slow.Burst {
				mustAllowEvent(t, l, key, slow, i+1)
			}
		}
	})

	t.Run("BurstRaisedLater", func(t *testing.T) {
		// The state is the key's arrival time, not a token count, so a key
		// used under a larger burst at once gets the difference.
		l := newLimiter(t)
		small := chat.Limit{Rate: 1, Period: time.Hour, Burst: 2}
		big := chat.Limit{Rate: 1, Period: time.Hour, Burst: 4}
		for i := range small.Burst {
			mustAllowEvent(t, l, "k", small, i+1)
		}
		for i := small.Burst; i < big.Burst; i++ {
			mustAllowEvent(t, l, "k", big, i+1)
		}
		if ok, _ := allowEvent(t, l, "k", big); ok {
			t.Fatalf("event %d under burst %d: got allowed, want refused", big.Burst+1, big.Burst)
		}
	})

	t.Run("Refill", func(t *testing.T) {
		l := newLimiter(t)
		if advance != nil {
			lim := chat.Limit{Rate: 2, Period: time.Second, Burst: 4}
			for i := range lim.Burst {
				mustAllowEvent(t, l, "k", lim, i+1)
			}
			advance(499 * time.Millisecond)
			if ok, retry := allowEvent(t, l, "k", lim); ok || retry != time.Millisecond {
				t.Fatalf("1ms before a refill: got (%v, %v), want (false, 1ms)", ok, retry)
			}
			advance(time.Millisecond)
			mustAllowEvent(t, l, "k", lim, lim.Burst+1)
			// Idle far longer than needed: the bucket holds Burst, no more.
			advance(time.Hour)
			for i := range lim.Burst {
				mustAllowEvent(t, l, "k", lim, i+1)
			}
			if ok, _ := allowEvent(t, l, "k", lim); ok {
				t.Fatalf("after an hour idle: got more than burst %d, want exactly %d", lim.Burst, lim.Burst)
			}
			return
		}
		// Redis time cannot be moved: wait for a refusal, then for the event
		// after it to be allowed, with a deadline but no timing assertion.
		lim := chat.Limit{Rate: 1, Period: 200 * time.Millisecond, Burst: 1}
		deadline := time.Now().Add(10 * time.Second)
		refused := false
		for {
			if time.Now().After(deadline) {
				t.Fatalf("no refusal followed by an allowed event within 10s (refused: %v)", refused)
			}
			ok, retry := allowEvent(t, l, "k", lim)
			if ok && refused {
				return
			}
			if !ok {
				if retry <= 0 || retry > lim.Period {
					t.Fatalf("retryAfter: got %v, want in (0, %v]", retry, lim.Period)
				}
				refused = true
				time.Sleep(min(retry, 10*time.Millisecond))
			}
		}
	})

	t.Run("Concurrent", func(t *testing.T) {
		l := newLimiter(t)
		lim := chat.Limit{Rate: 1, Period: time.Hour, Burst: 25}
		const goroutines, calls = 50, 4
		var allowed atomic.Int64
		var wg sync.WaitGroup
		errs := make(chan error, goroutines*calls)
		start := make(chan struct{})
		for range goroutines {
			wg.Go(func() {
				<-start
				for range calls {
					ok, _, err := l.Allow(t.Context(), "k", lim)
					if err != nil {
						errs <- err
						return
					}
					if ok {
						allowed.Add(1)
					}
				}
			})
		}
		close(start)
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatalf("Allow: %v", err)
		}
		if got := allowed.Load(); got != int64(lim.Burst) {
			t.Fatalf("allowed of %d concurrent events: got %d, want %d", goroutines*calls, got, lim.Burst)
		}
	})

	t.Run("Weighted", func(t *testing.T) {
		// n events at once cost what n single events cost, and a request
		// that does not fit is refused whole and counts nothing.
		l := newLimiter(t)
		lim := chat.Limit{Rate: 1, Period: time.Hour, Burst: 10}
		mustAllowEvents(t, l, "k", lim, 4)
		mustAllowEvents(t, l, "k", lim, 4)
		ok, retry := allowEvents(t, l, "k", lim, 4)
		if ok {
			t.Fatalf("4 events with 2 left: got allowed, want refused")
		}
		// Two more events must drain before four fit.
		if want := 2 * perEvent; retry <= 0 || retry > want || (advance != nil && retry != want) {
			t.Fatalf("retryAfter of 4 events with 2 left: got %v, want %v", retry, want)
		}
		// The refused request took nothing: the two left are still there.
		mustAllowEvent(t, l, "k", lim, 9)
		mustAllowEvent(t, l, "k", lim, 10)
		if ok, _ := allowEvent(t, l, "k", lim); ok {
			t.Fatalf("event 11 under burst 10: got allowed, want refused")
		}
		// The whole burst at once fits an idle key.
		mustAllowEvents(t, l, "other", lim, lim.Burst)
		if advance == nil {
			return
		}
		advance(3 * perEvent)
		mustAllowEvents(t, l, "k", lim, 3)
		if ok, retry := allowEvents(t, l, "k", lim, 1); ok || retry != perEvent {
			t.Fatalf("after refilling 3 and taking 3: got (%v, %v), want (false, %v)", ok, retry, perEvent)
		}
	})

	t.Run("WeightedConcurrent", func(t *testing.T) {
		l := newLimiter(t)
		lim := chat.Limit{Rate: 1, Period: time.Hour, Burst: 30}
		const goroutines, n = 40, 3
		var allowed atomic.Int64
		var wg sync.WaitGroup
		errs := make(chan error, goroutines)
		start := make(chan struct{})
		for range goroutines {
			wg.Go(func() {
				<-start
				ok, _, err := l.AllowN(t.Context(), "k", lim, n)
				if err != nil {
					errs <- err
					return
				}
				if ok {
					allowed.Add(1)
				}
			})
		}
		close(start)
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatalf("AllowN: %v", err)
		}
		if got, want := allowed.Load(), int64(lim.Burst/n); got != want {
			t.Fatalf("allowed of %d concurrent requests of %d events under burst %d: got %d, want %d", goroutines, n, lim.Burst, got, want)
		}
	})

	t.Run("WeightedOutOfRange", func(t *testing.T) {
		l := newLimiter(t)
		for _, n := range []int{0, -1, slow.Burst + 1} {
			ok, _, err := l.AllowN(t.Context(), "k", slow, n)
			if err == nil || ok {
				t.Errorf("AllowN of %d events under burst %d: got (%v, %v), want (false, an error)", n, slow.Burst, ok, err)
			}
		}
		// Nothing was counted.
		mustAllowEvents(t, l, "k", slow, slow.Burst)
	})

	t.Run("Reset", func(t *testing.T) {
		l := newLimiter(t)
		for i := range slow.Burst {
			mustAllowEvent(t, l, "k", slow, i+1)
			mustAllowEvent(t, l, "other", slow, i+1)
		}
		if err := l.Reset(t.Context(), "k"); err != nil {
			t.Fatalf("Reset: %v", err)
		}
		// The whole burst again on k, none on the key left alone.
		mustAllowEvents(t, l, "k", slow, slow.Burst)
		if ok, _ := allowEvent(t, l, "other", slow); ok {
			t.Fatalf("a key that was not reset: got allowed, want refused")
		}
		if err := l.Reset(t.Context(), "never used"); err != nil {
			t.Fatalf("Reset of a key never used: %v", err)
		}
	})

	t.Run("ContextCancelled", func(t *testing.T) {
		l := newLimiter(t)
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		ok, _, err := l.Allow(ctx, "k", slow)
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("Allow with a cancelled context: got error %v, want context.Canceled", err)
		}
		if ok {
			t.Fatalf("Allow with a cancelled context: got allowed, want not")
		}
		for i := range slow.Burst {
			mustAllowEvent(t, l, "k", slow, i+1)
		}
	})

	t.Run("AtMost", func(t *testing.T) {
		// Events taken a few at a time come out of the same budget as
		// single ones, and never more than the budget holds.
		l := newLimiter(t)
		mustAllowEvent(t, l, "k", slow, 1)
		for _, want := range []int{3, 1} {
			if got, retry := allowAtMost(t, l, "k", slow, 3); got != want || retry != 0 {
				t.Fatalf("AllowAtMost(3): got (%d, %v), want (%d, 0)", got, retry, want)
			}
		}
		got, retry := allowAtMost(t, l, "k", slow, 3)
		if got != 0 || retry <= 0 || retry > perEvent {
			t.Fatalf("AllowAtMost(3) on a spent budget: got (%d, %v), want (0, in (0, %v])", got, retry, perEvent)
		}
		if ok, _ := allowEvent(t, l, "k", slow); ok {
			t.Fatalf("Allow after AllowAtMost spent the burst: got allowed, want refused")
		}
		if advance == nil {
			return
		}
		advance(2 * perEvent)
		if got, _ := allowAtMost(t, l, "k", slow, 5); got != 2 {
			t.Fatalf("AllowAtMost(5) after two refills: got %d, want 2", got)
		}
	})

	t.Run("AtMostConcurrent", func(t *testing.T) {
		l := newLimiter(t)
		lim := chat.Limit{Rate: 1, Period: time.Hour, Burst: 25}
		const goroutines = 50
		var allowed atomic.Int64
		var wg sync.WaitGroup
		errs := make(chan error, goroutines)
		for range goroutines {
			wg.Go(func() {
				n, _, err := l.AllowAtMost(t.Context(), "k", lim, 3)
				if err != nil {
					errs <- err
					return
				}
				allowed.Add(int64(n))
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatalf("AllowAtMost: %v", err)
		}
		if got := allowed.Load(); got != int64(lim.Burst) {
			t.Fatalf("allowed of %d concurrent chunks of 3: got %d, want %d", goroutines, got, lim.Burst)
		}
	})

	t.Run("AtMostInvalid", func(t *testing.T) {
		l := newLimiter(t)
		for _, n := range []int{0, -1} {
			if got, _, err := l.AllowAtMost(t.Context(), "k", slow, n); err == nil || got != 0 {
				t.Errorf("AllowAtMost(%d): got (%d, %v), want (0, an error)", n, got, err)
			}
		}
		if got, _, err := l.AllowAtMost(t.Context(), "k", chat.Limit{}, 1); err == nil || got != 0 {
			t.Errorf("AllowAtMost under a zero limit: got (%d, %v), want (0, an error)", got, err)
		}
	})

	t.Run("InvalidLimit", func(t *testing.T) {
		l := newLimiter(t)
		for _, lim := range []chat.Limit{
			{},
			{Rate: 0, Period: time.Second, Burst: 1},
			{Rate: 1, Period: 0, Burst: 1},
			{Rate: 1, Period: time.Second, Burst: 0},
			{Rate: -1, Period: time.Second, Burst: 1},
			{Rate: 1, Period: -time.Second, Burst: 1},
			{Rate: 1, Period: time.Second, Burst: -1},
		} {
			ok, _, err := l.Allow(t.Context(), "k", lim)
			if err == nil || ok {
				t.Errorf("Allow under %+v: got (%v, %v), want (false, an error)", lim, ok, err)
			}
		}
	})
}

// allowAtMost calls l.AllowAtMost and fails the test on an error.
func allowAtMost(t *testing.T, l chat.Limiter, key string, lim chat.Limit, n int) (int, time.Duration) {
	t.Helper()
	got, retry, err := l.AllowAtMost(t.Context(), key, lim, n)
	if err != nil {
		t.Fatalf("AllowAtMost(%q, %+v, %d): %v", key, lim, n, err)
	}
	return got, retry
}

// allowEvent calls l.Allow and fails the test on an error.
func allowEvent(t *testing.T, l chat.Limiter, key string, lim chat.Limit) (bool, time.Duration) {
	t.Helper()
	ok, retry, err := l.Allow(t.Context(), key, lim)
	if err != nil {
		t.Fatalf("Allow(%q, %+v): %v", key, lim, err)
	}
	return ok, retry
}

// mustAllowEvent fails the test unless the nth event on key is allowed with no
// retryAfter.
func mustAllowEvent(t *testing.T, l chat.Limiter, key string, lim chat.Limit, n int) {
	t.Helper()
	ok, retry := allowEvent(t, l, key, lim)
	if !ok || retry != 0 {
		t.Fatalf("event %d on key %q under %+v: got (%v, %v), want (true, 0)", n, key, lim, ok, retry)
	}
}

// allowEvents calls l.AllowN and fails the test on an error.
func allowEvents(t *testing.T, l chat.Limiter, key string, lim chat.Limit, n int) (bool, time.Duration) {
	t.Helper()
	ok, retry, err := l.AllowN(t.Context(), key, lim, n)
	if err != nil {
		t.Fatalf("AllowN(%q, %+v, %d): %v", key, lim, n, err)
	}
	return ok, retry
}

// mustAllowEvents fails the test unless n events at once on key are
// allowed with no retryAfter.
func mustAllowEvents(t *testing.T, l chat.Limiter, key string, lim chat.Limit, n int) {
	t.Helper()
	ok, retry := allowEvents(t, l, key, lim, n)
	if !ok || retry != 0 {
		t.Fatalf("%d events on key %q under %+v: got (%v, %v), want (true, 0)", n, key, lim, ok, retry)
	}
}
