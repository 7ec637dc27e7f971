package chattest

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/korobka/korobka/chat"
)

// deliveryTimeout bounds every wait for a publication: generous, because
// it only matters when something is broken.
const deliveryTimeout = 10 * time.Second

// TestBroker checks that a chat.Broker behaves as the gateway relies on:
// delivery in order, unsubscribing, replacing a handler, several topics in
// one Publish, delivery between nodes and errors once closed.
//
// newBroker returns a fresh broker for one subtest, closed by the test's
// cleanup; newPeer returns another node's broker on the same backend as the
// newBroker of the same t (for Redis: the same server and prefix), or is
// nil for single-node implementations. Absence of a delivery is checked
// with a sentinel publication sent after it, never with a sleep: a broker
// delivers in order, so once the sentinel arrived the other would have.
func TestBroker(t *testing.T, newBroker func(t *testing.T) chat.Broker, newPeer func(t *testing.T) chat.Broker) {
	t.Helper()

	t.Run("Delivery", func(t *testing.T) {
		b := newBroker(t)
		r := subscribe(t, b, "a")
		publish(t, b, pub("a", "hello"))
		r.want(t, "hello")
	})

	t.Run("Order", func(t *testing.T) {
		b := newBroker(t)
		r := subscribe(t, b, "a")
		const n = 1000
		var want []string
		for i := 0; i < n; {
			// Mix single publications and batches of up to 10.
			size := min(1+i%10, n-i)
			batch := make([]chat.Publication, size)
			for j := range batch {
				batch[j] = pub("a", strconv.Itoa(i+j))
				want = append(want, strconv.Itoa(i+j))
			}
			publish(t, b, batch...)
			i += size
		}
		r.want(t, want...)
	})

	t.Run("Unsubscribe", func(t *testing.T) {
		b := newBroker(t)
		gone := subscribe(t, b, "gone")
		stays := subscribe(t, b, "stays")
		if err := b.Unsubscribe(t.Context(), "gone"); err != nil {
			t.Fatalf("Unsubscribe: %v", err)
		}
		publish(t, b, pub("gone", "lost"))
		publish(t, b, pub("stays", "sentinel"))
		stays.want(t, "sentinel")
		gone.wantNothing(t)
		// Unsubscribing again, or a topic never subscribed, is harmless.
		for _, topic := range []string{"gone", "never"} {
			if err := b.Unsubscribe(t.Context(), topic); err != nil {
				t.Fatalf("Unsubscribe(%q) again: %v", topic, err)
			}
		}
		// And the topic can come back.
		back := subscribe(t, b, "gone")
		publish(t, b, pub("gone", "back"))
		back.want(t, "back")
	})

	t.Run("ResubscribeAtOnce", func(t *testing.T) {
		// A user who disconnects and reconnects at once: the topic is
		// unsubscribed and subscribed again before the broker's writer
		// has acted on the first change. Every Subscribe must return,
		// and delivery must follow.
		b := newBroker(t)
		for i := range 200 {
			r := subscribe(t, b, "churn")
			if err := b.Unsubscribe(t.Context(), "churn"); err != nil {
				t.Fatalf("Unsubscribe %d: %v", i, err)
			}
			ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
			err := b.Subscribe(ctx, "churn", r.handle)
			cancel()
			if err != nil {
				t.Fatalf("Subscribe right after Unsubscribe (round %d): %v", i, err)
			}
			msg := strconv.Itoa(i)
			publish(t, b, pub("churn", msg))
			r.want(t, msg)
			if err := b.Unsubscribe(t.Context(), "churn"); err != nil {
				t.Fatal(err)
			}
		}
	})

	t.Run("HandlerReplaced", func(t *testing.T) {
		b := newBroker(t)
		old := subscribe(t, b, "a")
		replacement := subscribe(t, b, "a")
		publish(t, b, pub("a", "1"), pub("a", "2"))
		replacement.want(t, "1", "2")
		old.wantNothing(t)
	})

	t.Run("ManyTopicsOnePublish", func(t *testing.T) {
		b := newBroker(t)
		ra, rb, rc := subscribe(t, b, "a"), subscribe(t, b, "b"), subscribe(t, b, "c")
		publish(t, b, pub("a", "a1"), pub("b", "b1"), pub("nobody", "x"), pub("a", "a2"), pub("c", "c1"), pub("b", "b2"))
		ra.want(t, "a1", "a2")
		rb.want(t, "b1", "b2")
		rc.want(t, "c1")
	})

	t.Run("ConcurrentSubscribe", func(t *testing.T) {
		b := newBroker(t)
		const n = 300
		recs := make([]*recorder, n)
		errs := make(chan error, n)
		var wg sync.WaitGroup
		for i := range n {
			recs[i] = newRecorder()
			wg.Go(func() {
				if err := b.Subscribe(t.Context(), "t"+strconv.Itoa(i), recs[i].handle); err != nil {
					errs <- fmt.Errorf("Subscribe(t%d): %w", i, err)
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		pubs := make([]chat.Publication, n)
		for i := range pubs {
			pubs[i] = pub("t"+strconv.Itoa(i), strconv.Itoa(i))
		}
		publish(t, b, pubs...)
		for i, r := range recs {
			r.want(t, strconv.Itoa(i))
		}
	})

	t.Run("EmptyPublish", func(t *testing.T) {
		b := newBroker(t)
		r := subscribe(t, b, "a")
		if err := b.Publish(t.Context()); err != nil {
			t.Fatalf("Publish of nothing: got %v, want nil", err)
		}
		publish(t, b, pub("a", "sentinel"))
		r.want(t, "sentinel")
	})

	t.Run("BinaryPayload", func(t *testing.T) {
		b := newBroker(t)
		r := subscribe(t, b, "a")
		payload := chat.Envelope(chat.EnvFrame, 42, []byte("\x00\xff{\"type\":\"message\"}\r\n"))
		publish(t, b, chat.Publication{Topic: "a", Payload: payload}, pub("a", ""))
		r.want(t, string(payload), "")
	})

	// A single-node broker (memory) has no peer to deliver across.
	if newPeer != nil {
		t.Run("CrossNode", func(t *testing.T) {
			b := newBroker(t)
			peer := newPeer(t)
			onB := subscribe(t, b, "a")
			onPeer := subscribe(t, peer, "a")
			publish(t, peer, pub("a", "from peer"))
			publish(t, b, pub("a", "from b"))
			// Each node sees each publisher's publications; the order between
			// two publishers is not defined, so compare sets.
			onB.wantSet(t, "from peer", "from b")
			onPeer.wantSet(t, "from peer", "from b")

			// A topic only the peer subscribes to reaches only the peer.
			only := subscribe(t, peer, "peer-only")
			publish(t, b, pub("peer-only", "x"), pub("a", "sentinel"))
			only.want(t, "x")
			onB.want(t, "sentinel")
		})
	}

	t.Run("CancelledContext", func(t *testing.T) {
		b := newBroker(t)
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		r := newRecorder()
		if err := b.Subscribe(ctx, "a", r.handle); err == nil {
			t.Fatal("Subscribe with a cancelled context: got nil, want an error")
		}
		if err := b.Publish(ctx, pub("a", "x")); err == nil {
			t.Fatal("Publish with a cancelled context: got nil, want an error")
		}
		// The failed Subscribe left nothing behind.
		other := subscribe(t, b, "b")
		publish(t, b, pub("a", "lost"), pub("b", "sentinel"))
		other.want(t, "sentinel")
		r.wantNothing(t)
	})

	t.Run("Closed", func(t *testing.T) {
		b := newBroker(t)
		subscribe(t, b, "a")
		if err := b.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}
		if err := b.Close(); err != nil {
			t.Fatalf("second Close: got %v, want nil", err)
		}
		if err := b.Publish(t.Context(), pub("a", "x")); err == nil {
			t.Error("Publish after Close: got nil, want an error")
		}
		if err := b.Subscribe(t.Context(), "a", func([]byte) {}); err == nil {
			t.Error("Subscribe after Close: got nil, want an error")
		}
		if err := b.Unsubscribe(t.Context(), "a"); err == nil {
			t.Error("Unsubscribe after Close: got nil, want an error")
		}
	})
}

func pub(topic, payload string) chat.Publication {
	return chat.Publication{Topic: topic, Payload: []byte(payload)}
}

func publish(t *testing.T, b chat.Broker, pubs ...chat.Publication) {
	t.Helper()
	if err := b.Publish(t.Context(), pubs...); err != nil {
		t.Fatalf("Publish of %d: %v", len(pubs), err)
	}
}

// subscribe subscribes a new recorder to topic.
func subscribe(t *testing.T, b chat.Broker, topic string) *recorder {
	t.Helper()
	r := newRecorder()
	if err := b.Subscribe(t.Context(), topic, r.handle); err != nil {
		t.Fatalf("Subscribe(%q): %v", topic, err)
	}
	return r
}

// recorder is a handler that keeps what it receives. It never blocks, as
// the Broker contract requires.
type recorder struct {
	mu     sync.Mutex
	got    []string
	notify chan struct{}
}

func newRecorder() *recorder { return &recorder{notify: make(chan struct{}, 1)} }

func (r *recorder) handle(payload []byte) {
	r.mu.Lock()
	r.got = append(r.got, string(payload))
	r.mu.Unlock()
	select {
	case r.notify <- struct{}{}:
	default:
	}
}

// take waits until n payloads arrived (or the deadline passed) and removes
// and returns the first n, or all there are.
func (r *recorder) take(n int) []string {
	deadline := time.NewTimer(deliveryTimeout)
	defer deadline.Stop()
	for {
		r.mu.Lock()
		if len(r.got) >= n {
			got := r.got[:n:n]
			r.got = r.got[n:]
			r.mu.Unlock()
			return got
		}
		r.mu.Unlock()
		select {
		case <-r.notify:
		case <-deadline.C:
			r.mu.Lock()
			defer r.mu.Unlock()
			got := r.got
			r.got = nil
			return got
		}
	}
}

// want waits for exactly these payloads, in this order.
func (r *recorder) want(t testing.TB, want ...string) {
	t.Helper()
	got := r.take(len(want))
	if len(got) != len(want) {
		t.Fatalf("received %d payloads within %v, want %d (first: %.80q)", len(got), deliveryTimeout, len(want), got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("payload %d: got %.80q, want %.80q", i, got[i], want[i])
		}
	}
}

// wantSet waits for these payloads in any order.
func (r *recorder) wantSet(t testing.TB, want ...string) {
	t.Helper()
	got := r.take(len(want))
	left := make(map[string]int)
	for _, w := range want {
		left[w]++
	}
	for _, g := range got {
		left[g]--
	}
	for _, n := range left {
		if n != 0 {
			t.Fatalf("received %q, want %q in any order", got, want)
		}
	}
}

// wantNothing checks that nothing arrived; call it after a later
// publication was seen elsewhere.
func (r *recorder) wantNothing(t testing.TB) {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.got) > 0 {
		t.Fatalf("received %.80q, want nothing", r.got)
	}
}
