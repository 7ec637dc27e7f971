package chattest

import (
	"context"
	"fmt"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/korobka/korobka/chat"
)

// QueueOptions is what TestQueue asks of the queues it is given: a retry
// policy, claim timeout and block time small enough for a test, and the
// clock of due times.
type QueueOptions struct {
	Policy chat.RetryPolicy
	// ClaimTimeout is real time for queues whose server measures idle
	// time itself (Redis), and the clock's time for the rest; the suite
	// advances the clock past it and then polls with a deadline.
	ClaimTimeout time.Duration
	Block        time.Duration
	Now          func() time.Time
}

// Clock is a settable clock for queues and services under test.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// NewClock returns a clock stopped at start.
func NewClock(start time.Time) *Clock { return &Clock{t: start} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Advance moves the clock forward.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// TestQueue checks that a chat.Queue keeps the promises the push workers
// rely on: jobs in order and intact, de-duplication by key, delayed jobs
// held until due, retries spaced by the policy (never before the lower
// bound of their jitter), dead letters after the last attempt or at once
// for a permanent failure, a dead consumer's jobs reclaimed by another and
// nothing shown twice, and two consumers on two nodes each getting every
// job exactly once.
//
// newQueues returns two nodes' queues over one fresh, empty backend for a
// subtest, configured with opt (an in-process queue returns the same value
// twice).
func TestQueue(t *testing.T, newQueues func(t *testing.T, opt QueueOptions) (a, b chat.Queue)) {
	t.Helper()
	start := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	setup := func(t *testing.T) (*Clock, QueueOptions, chat.Queue, chat.Queue) {
		clock := NewClock(start)
		opt := QueueOptions{
			Policy:       chat.RetryPolicy{Base: time.Second, Max: 8 * time.Second, MaxAttempts: 4},
			ClaimTimeout: 300 * time.Millisecond,
			Block:        20 * time.Millisecond,
			Now:          clock.Now,
		}
		a, b := newQueues(t, opt)
		return clock, opt, a, b
	}
	job := func(key string, c *Clock) chat.Job {
		return chat.Job{Key: key, Kind: chat.JobMessage, UserID: 5, DialogID: 17, Seq: 42, EnqueuedAt: c.Now()}
	}

	t.Run("InOrderAndIntact", func(t *testing.T) {
		c, _, q, _ := setup(t)
		full := chat.Job{
			Key: "notice:1:0:5", Kind: chat.JobNotice, UserID: 5, DialogID: 1, Seq: 9,
			Title: "Группа «Дом»", Body: "Анна добавила вас", Devices: []int64{3, 4},
			Attempt: 2, EnqueuedAt: c.Now().Add(-time.Minute), LastError: "429",
		}
		mustEnqueue(t, q, 4, full, job("a", c), job("b", c), job("c", c))
		ds := claimN(t, q, "w1", 10, 4)
		for i, want := range []string{full.Key, "a", "b", "c"} {
			if ds[i].Job.Key != want {
				t.Fatalf("claim %d: got key %q, want %q (in order)", i, ds[i].Job.Key, want)
			}
			if ds[i].ID == "" || ds[i].Reclaimed {
				t.Fatalf("claim %d: got id %q reclaimed %v, want an id, not reclaimed", i, ds[i].ID, ds[i].Reclaimed)
			}
		}
		if got := ds[0].Job; !sameJob(got, full) {
			t.Fatalf("job came back changed:\n got %+v\nwant %+v", got, full)
		}
		ack(t, q, ds...)
		claimNone(t, q, "w1")
	})

	t.Run("DedupeKey", func(t *testing.T) {
		c, _, q, b := setup(t)
		mustEnqueue(t, q, 1, job("k", c), job("k", c))
		mustEnqueue(t, b, 0, job("k", c)) // the other node sees the key too
		ds := claimN(t, q, "w1", 10, 1)
		ack(t, q, ds...)
		// A job done and enqueued again (a producer's retry) is not sent
		// again within the window.
		mustEnqueue(t, q, 0, job("k", c))
		claimNone(t, q, "w1")
		if _, err := q.Enqueue(t.Context(), chat.Job{Kind: chat.JobMessage, UserID: 1}); err == nil {
			t.Fatal("Enqueue of a job without a key: got nil error, want one")
		}
	})

	t.Run("Delayed", func(t *testing.T) {
		c, _, q, _ := setup(t)
		j := job("later", c)
		j.NotBefore = c.Now().Add(10 * time.Second)
		mustEnqueue(t, q, 2, j, job("now", c))
		ds := claimN(t, q, "w1", 10, 1)
		if ds[0].Job.Key != "now" {
			t.Fatalf("got %q, want only the due job", ds[0].Job.Key)
		}
		ack(t, q, ds...)
		c.Advance(9 * time.Second)
		claimNone(t, q, "w1")
		c.Advance(time.Second)
		ds = claimN(t, q, "w1", 10, 1)
		if ds[0].Job.Key != "later" {
			t.Fatalf("got %q, want the delayed job once due", ds[0].Job.Key)
		}
	})

	t.Run("RetryBackoff", func(t *testing.T) {
		c, opt, q, _ := setup(t)
		mustEnqueue(t, q, 1, job("r", c))
		d := claimN(t, q, "w1", 1, 1)[0]
		// Attempt n waits a random point in [Ceiling(n)/2, Ceiling(n)].
		for attempt := 1; attempt <= 3; attempt++ {
			next := d.Job
			next.Attempt = attempt
			next.Devices = []int64{int64(attempt)}
			next.LastError = fmt.Sprint("failure ", attempt)
			if dead := retry(t, q, d, next, false); dead {
				t.Fatalf("attempt %d of %d: got dead, want retried", attempt, opt.Policy.MaxAttempts)
			}
			ceiling := opt.Policy.Ceiling(attempt)
			c.Advance(ceiling/2 - time.Millisecond)
			claimNone(t, q, "w1")
			c.Advance(ceiling - ceiling/2 + time.Millisecond)
			d = claimN(t, q, "w1", 1, 1)[0]
			if d.Job.Attempt != attempt || !reflect.DeepEqual(d.Job.Devices, next.Devices) || d.Job.LastError != next.LastError || d.Job.Key != "r" {
				t.Fatalf("retried job: got %+v, want attempt %d, devices %v, its error and key", d.Job, attempt, next.Devices)
			}
		}
		ack(t, q, d)
	})

	t.Run("RetryAfterHint", func(t *testing.T) {
		c, _, q, _ := setup(t)
		mustEnqueue(t, q, 1, job("h", c))
		d := claimN(t, q, "w1", 1, 1)[0]
		next := d.Job
		next.Attempt = 1
		next.NotBefore = c.Now().Add(time.Minute) // a Retry-After longer than the backoff
		retry(t, q, d, next, false)
		c.Advance(59 * time.Second)
		claimNone(t, q, "w1")
		c.Advance(time.Second)
		claimN(t, q, "w1", 1, 1)
	})

	t.Run("DeadLetter", func(t *testing.T) {
		c, opt, q, _ := setup(t)
		mustEnqueue(t, q, 2, job("x", c), job("p", c))
		ds := claimN(t, q, "w1", 2, 2)
		next := ds[0].Job
		next.Attempt = opt.Policy.MaxAttempts
		next.LastError = "503 ServiceUnavailable"
		if !retry(t, q, ds[0], next, false) {
			t.Fatalf("attempt %d of %d: got retried, want dead", next.Attempt, opt.Policy.MaxAttempts)
		}
		perm := ds[1].Job
		perm.LastError = "PayloadTooLarge"
		if !retry(t, q, ds[1], perm, true) {
			t.Fatal("a permanent failure on the first attempt: got retried, want dead")
		}
		// Dead is done: the key stays taken, and nothing comes back.
		mustEnqueue(t, q, 0, job("x", c))
		c.Advance(10 * time.Minute)
		claimNone(t, q, "w1")
		dead, err := q.DeadLetters(t.Context(), 10)
		if err != nil {
			t.Fatal(err)
		}
		if len(dead) != 2 || dead[0].Key != "p" || dead[1].Key != "x" || dead[0].LastError != "PayloadTooLarge" || dead[1].Attempt != opt.Policy.MaxAttempts {
			t.Fatalf("dead letters: got %+v, want p then x with their errors", dead)
		}
	})

	t.Run("ReclaimAfterWorkerDies", func(t *testing.T) {
		c, opt, a, b := setup(t)
		mustEnqueue(t, a, 3, job("1", c), job("2", c), job("3", c))
		// Worker A takes a batch, finishes one job and dies mid-batch.
		batch := claimN(t, a, "node-a", 10, 3)
		ack(t, a, batch[0])
		// Within the claim timeout nobody else gets the rest.
		claimNone(t, b, "node-b")
		c.Advance(opt.ClaimTimeout)
		got := map[string]chat.Delivery{}
		deadline := time.Now().Add(10 * time.Second)
		for len(got) < 2 && time.Now().Before(deadline) {
			ds, err := b.Claim(t.Context(), "node-b", 10)
			if err != nil {
				t.Fatal(err)
			}
			for _, d := range ds {
				if _, twice := got[d.Job.Key]; twice {
					t.Fatalf("job %s reclaimed twice", d.Job.Key)
				}
				if !d.Reclaimed {
					t.Fatalf("job %s: got Reclaimed false, want true", d.Job.Key)
				}
				got[d.Job.Key] = d
			}
		}
		if len(got) != 2 || got["2"].ID == "" || got["3"].ID == "" {
			t.Fatalf("reclaimed %v, want exactly the unfinished jobs 2 and 3 (job 1 was acked)", keys(got))
		}
		// The dead worker's late answers change nothing: its retry of a
		// job another consumer now holds queues no copy.
		stale := batch[1]
		next := stale.Job
		next.Attempt = 1
		retry(t, a, stale, next, false)
		ack(t, b, got["2"], got["3"])
		ack(t, a, batch[2])
		c.Advance(time.Hour)
		claimNone(t, a, "node-a")
		claimNone(t, b, "node-b")
	})

	t.Run("TwoConsumersEachJobOnce", func(t *testing.T) {
		c, _, a, b := setup(t)
		const n = 300
		jobs := make([]chat.Job, n)
		for i := range jobs {
			jobs[i] = job(fmt.Sprint("j", i), c)
		}
		mustEnqueue(t, a, n/2, jobs[:n/2]...)
		mustEnqueue(t, b, n-n/2, jobs[n/2:]...)
		var mu sync.Mutex
		seen := map[string]string{}
		var wg sync.WaitGroup
		errs := make(chan error, 2)
		for _, w := range []struct {
			q    chat.Queue
			name string
		}{{a, "node-a"}, {b, "node-b"}} {
			wg.Go(func() {
				deadline := time.Now().Add(20 * time.Second)
				for time.Now().Before(deadline) {
					mu.Lock()
					done := len(seen) >= n
					mu.Unlock()
					if done {
						return
					}
					ds, err := w.q.Claim(context.Background(), w.name, 16)
					if err != nil {
						errs <- err
						return
					}
					mu.Lock()
					for _, d := range ds {
						if other, ok := seen[d.Job.Key]; ok {
							mu.Unlock()
							errs <- fmt.Errorf("job %s claimed by %s and again by %s", d.Job.Key, other, w.name)
							return
						}
						seen[d.Job.Key] = w.name
					}
					mu.Unlock()
					if err := w.q.Ack(context.Background(), ds...); err != nil {
						errs <- err
						return
					}
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		if len(seen) != n {
			t.Fatalf("claimed %d distinct jobs, want %d", len(seen), n)
		}
	})

	t.Run("ClaimWaitsThenAnswersNone", func(t *testing.T) {
		_, _, q, _ := setup(t)
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		if _, err := q.Claim(ctx, "w1", 1); err == nil {
			t.Fatal("Claim with a cancelled context: got nil error, want one")
		}
		claimNone(t, q, "w1")
	})
}

func sameJob(a, b chat.Job) bool {
	return a.Key == b.Key && a.Kind == b.Kind && a.UserID == b.UserID && a.DialogID == b.DialogID &&
		a.Seq == b.Seq && a.Title == b.Title && a.Body == b.Body && reflect.DeepEqual(a.Devices, b.Devices) &&
		a.Attempt == b.Attempt && a.EnqueuedAt.Equal(b.EnqueuedAt) && a.NotBefore.Equal(b.NotBefore) &&
		a.LastError == b.LastError
}

func keys(m map[string]chat.Delivery) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

func mustEnqueue(t *testing.T, q chat.Queue, wantAdded int, jobs ...chat.Job) {
	t.Helper()
	added, err := q.Enqueue(t.Context(), jobs...)
	if err != nil {
		t.Fatalf("Enqueue: %v", err)
	}
	if added != wantAdded {
		t.Fatalf("Enqueue of %d jobs: got %d added, want %d", len(jobs), added, wantAdded)
	}
}

// claimN claims until want deliveries came (or a deadline passes).
func claimN(t *testing.T, q chat.Queue, consumer string, max, want int) []chat.Delivery {
	t.Helper()
	var out []chat.Delivery
	deadline := time.Now().Add(10 * time.Second)
	for len(out) < want && time.Now().Before(deadline) {
		ds, err := q.Claim(t.Context(), consumer, max-len(out))
		if err != nil {
			t.Fatalf("Claim: %v", err)
		}
		out = append(out, ds...)
	}
	if len(out) != want {
		t.Fatalf("Claim: got %d deliveries, want %d", len(out), want)
	}
	return out
}

// claimNone checks that a Claim (which waits its block time) gets nothing.
func claimNone(t *testing.T, q chat.Queue, consumer string) {
	t.Helper()
	ds, err := q.Claim(t.Context(), consumer, 10)
	if err != nil {
		t.Fatalf("Claim: %v", err)
	}
	if len(ds) != 0 {
		got := make([]string, len(ds))
		for i, d := range ds {
			got[i] = d.Job.Key
		}
		t.Fatalf("Claim: got %v, want nothing due", got)
	}
}

func ack(t *testing.T, q chat.Queue, ds ...chat.Delivery) {
	t.Helper()
	if err := q.Ack(t.Context(), ds...); err != nil {
		t.Fatalf("Ack: %v", err)
	}
}

func retry(t *testing.T, q chat.Queue, d chat.Delivery, next chat.Job, permanent bool) bool {
	t.Helper()
	dead, err := q.Retry(t.Context(), d, next, permanent)
	if err != nil {
		t.Fatalf("Retry: %v", err)
	}
	return dead
}
