package redis

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/korobka/korobka/chat"
)

var _ chat.Broker = (*Broker)(nil)

const (
	// subscribeBatch caps the channels sent in one SUBSCRIBE, so that a
	// burst of thousands of subscriptions goes out in a few commands
	// without building one huge request.
	subscribeBatch = 1000
	// idlePing is how long the receive loop waits for anything before
	// pinging the server: a connection that died silently (a NAT or a
	// partition, no RST) is otherwise never noticed and the node would
	// stop receiving without knowing it.
	idlePing = 5 * time.Second
	// pongWait is how long a ping may go unanswered before the connection
	// is dropped and go-redis dials a new one.
	pongWait = 5 * time.Second
	// retryMin and retryMax bound the pause between receive attempts while
	// the server cannot be reached.
	retryMin = 20 * time.Millisecond
	retryMax = time.Second
)

// ErrBrokerClosed is returned by every call on a closed Broker.
var ErrBrokerClosed = errors.New("redis: broker closed")

// errUnsubscribed answers a Subscribe overtaken by an Unsubscribe of the
// same topic before Redis confirmed it.
var errUnsubscribed = errors.New("redis: topic unsubscribed while subscribing")

// BrokerConfig configures a Broker. The zero value is usable.
type BrokerConfig struct {
	// Prefix goes before every topic to make its channel name, so that
	// deployments or tests sharing one server do not hear each other.
	Prefix string
	// OnReset is called after the Pub/Sub connection was lost and
	// re-established: whatever was published in between never arrived, so
	// the subscriber must make its clients resync. It runs on the receive
	// goroutine, once per reconnect, and must not block. nil calls nothing.
	OnReset func()
	// Logger hears about lost connections; nil discards.
	Logger *slog.Logger
}

// Broker is chat.Broker on Redis Pub/Sub, for several nodes. Each node
// holds one Pub/Sub connection carrying all its subscriptions: Redis
// fans a publication out to every node subscribed to its channel, and the
// node's receive goroutine hands it to the topic's handler. Handlers thus
// run one at a time, in the order Redis sent the publications.
//
// Pub/Sub is fire and forget: while the connection is down publications
// are lost. go-redis reconnects and re-subscribes by itself; the Broker
// notices (see BrokerConfig.OnReset) so that clients resync from the
// database, which stays the source of truth.
//
// NewBroker starts two goroutines, one receiving and one writing
// subscriptions in batches; Close stops both.
type Broker struct {
	client  goredis.UniversalClient
	prefix  string
	onReset func()
	log     *slog.Logger
	ps      *goredis.PubSub
	// sentinel is a channel only this Broker subscribes to and never
	// leaves. go-redis re-subscribes every channel on each new connection,
	// so a confirmation of the sentinel that the Broker did not ask for
	// marks exactly one reconnect, however many channels come back with it.
	sentinel string

	handlersMu sync.RWMutex
	handlers   map[string]func([]byte) // by channel, read per message

	mu    sync.Mutex
	subs  map[string]*subscription // by channel: what callers want
	sent  map[string]bool          // channels whose SUBSCRIBE went out, with no UNSUBSCRIBE since
	live  map[string]bool          // channels of sent that Redis confirmed on the current connection
	dirty map[string]struct{}      // channels where subs and sent may disagree
	// sentinelConfirmed is set by the first confirmation of the sentinel;
	// sentinelPending counts SUBSCRIBEs of it written and not confirmed.
	sentinelConfirmed bool
	sentinelPending   int
	closed            bool

	kick      chan struct{} // wakes the writer; one pending wake is enough
	stop      context.CancelFunc
	wg        sync.WaitGroup
	closeOnce sync.Once
}

// subscription is one wanted channel, from the first Subscribe until
// Unsubscribe. done is closed once Redis confirms it (err nil) or it fails.
type subscription struct {
	done      chan struct{}
	err       error
	confirmed bool
	waiters   int // Subscribe calls waiting on done
}

// NewBroker returns a Broker on client, which it uses but does not close.
// It does no I/O: the connection is made by the first Subscribe or by the
// receive loop, so a node may start while Redis is still coming up.
func NewBroker(client goredis.UniversalClient, cfg BrokerConfig) *Broker {
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	ctx, stop := context.WithCancel(context.Background())
	b := &Broker{
		client:   client,
		prefix:   cfg.Prefix,
		onReset:  cfg.OnReset,
		log:      log,
		ps:       client.Subscribe(ctx),
		sentinel: cfg.Prefix + "korobka:broker:" + rand.Text(),
		handlers: make(map[string]func([]byte)),
		subs:     make(map[string]*subscription),
		sent:     make(map[string]bool),
		live:     make(map[string]bool),
		dirty:    make(map[string]struct{}),
		kick:     make(chan struct{}, 1),
		stop:     stop,
	}
	b.wg.Add(2)
	go func() { defer b.wg.Done(); b.receive(ctx) }()
	go func() { defer b.wg.Done(); b.write(ctx) }()
	return b
}

// Publish sends the publications in one pipeline: one round trip for the
// batch, and Redis runs them in order.
func (b *Broker) Publish(ctx context.Context, pubs ...chat.Publication) error {
	if b.isClosed() {
		return ErrBrokerClosed
	}
	switch len(pubs) {
	case 0:
		return nil
	case 1:
		if err := b.client.Publish(ctx, b.prefix+pubs[0].Topic, pubs[0].Payload).Err(); err != nil {
			return fmt.Errorf("redis: publish: %w", err)
		}
		return nil
	}
	_, err := b.client.Pipelined(ctx, func(p goredis.Pipeliner) error {
		for _, pub := range pubs {
			p.Publish(ctx, b.prefix+pub.Topic, pub.Payload)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("redis: publish %d: %w", len(pubs), err)
	}
	return nil
}

// Subscribe installs h for topic and, unless the topic is subscribed
// already, waits until Redis confirms the subscription: once it returns
// nil, every later publication from any node reaches h. Concurrent calls
// are sent together. On an error, ctx's included, the topic is left
// unsubscribed (unless another call subscribed it meanwhile).
func (b *Broker) Subscribe(ctx context.Context, topic string, h func(payload []byte)) error {
	if h == nil {
		return errors.New("redis: subscribe with a nil handler")
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	ch := b.prefix + topic
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return ErrBrokerClosed
	}
	s := b.subs[ch]
	if s == nil {
		s = &subscription{done: make(chan struct{})}
		b.subs[ch] = s
		b.markDirtyLocked(ch)
		// Unsubscribed and subscribed again before the writer sent the
		// UNSUBSCRIBE: the connection is still subscribed, the writer
		// will send nothing, and no confirmation will come.
		if b.live[ch] {
			s.confirmed = true
			close(s.done)
		}
	}
	b.handlersMu.Lock()
	b.handlers[ch] = h
	b.handlersMu.Unlock()
	if s.confirmed {
		b.mu.Unlock()
		return nil
	}
	s.waiters++
	b.mu.Unlock()

	select {
	case <-s.done:
		return s.err
	case <-ctx.Done():
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	s.waiters--
	if s.confirmed {
		return nil
	}
	if s.waiters == 0 && b.subs[ch] == s {
		b.dropLocked(ch, ctx.Err())
	}
	return ctx.Err()
}

// Unsubscribe removes topic's handler at once and sends the UNSUBSCRIBE in
// the background. It does not wait for Redis: go-redis forgets the channel
// before writing, so even a failed write leaves the next connection without
// it. A publication being delivered right now may still reach the old
// handler.
func (b *Broker) Unsubscribe(ctx context.Context, topic string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	ch := b.prefix + topic
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return ErrBrokerClosed
	}
	if b.subs[ch] != nil {
		b.dropLocked(ch, errUnsubscribed)
	}
	return nil
}

// Close stops both goroutines and the Pub/Sub connection; pending
// Subscribe calls return ErrBrokerClosed. It does not close the client and
// is idempotent.
func (b *Broker) Close() error {
	b.closeOnce.Do(func() {
		b.mu.Lock()
		b.closed = true
		for ch, s := range b.subs {
			b.failLocked(s, ErrBrokerClosed)
			delete(b.subs, ch)
		}
		b.mu.Unlock()
		b.handlersMu.Lock()
		clear(b.handlers)
		b.handlersMu.Unlock()
		b.stop()
		b.ps.Close() // unblocks Receive
		b.wg.Wait()
	})
	return nil
}

func (b *Broker) isClosed() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.closed
}

// markDirtyLocked queues ch for the writer.
func (b *Broker) markDirtyLocked(ch string) {
	b.dirty[ch] = struct{}{}
	select {
	case b.kick <- struct{}{}:
	default:
	}
}

// dropLocked forgets the wanted subscription of ch, failing its waiters
// with err if it was not confirmed, and lets the writer unsubscribe it.
func (b *Broker) dropLocked(ch string, err error) {
	b.failLocked(b.subs[ch], err)
	delete(b.subs, ch)
	b.handlersMu.Lock()
	delete(b.handlers, ch)
	b.handlersMu.Unlock()
	b.markDirtyLocked(ch)
}

func (b *Broker) failLocked(s *subscription, err error) {
	if s.confirmed || s.err != nil {
		return
	}
	s.err = err
	close(s.done)
}

// write makes Redis agree with b.subs, batching whatever accumulated while
// the previous command was being written. It is the only goroutine calling
// Subscribe and Unsubscribe on b.ps, so their order on the wire is the order
// of the decisions.
func (b *Broker) write(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-b.kick:
		}
		for b.writeBatch(ctx) {
		}
	}
}

// writeBatch sends one batch and reports whether there may be more.
func (b *Broker) writeBatch(ctx context.Context) bool {
	var sub, unsub []string
	b.mu.Lock()
	for ch := range b.dirty {
		if len(sub)+len(unsub) == subscribeBatch {
			break
		}
		delete(b.dirty, ch)
		want := b.subs[ch] != nil
		switch {
		case want && !b.sent[ch]:
			sub = append(sub, ch)
			b.sent[ch] = true
		case !want && b.sent[ch]:
			unsub = append(unsub, ch)
			delete(b.sent, ch)
			delete(b.live, ch)
		}
	}
	more := len(b.dirty) > 0
	needSentinel := len(sub) > 0 && !b.sentinelConfirmed
	b.mu.Unlock()

	if len(unsub) > 0 {
		// An error means the connection broke; go-redis has already
		// forgotten the channels, so the next connection will not carry
		// them.
		_ = b.ps.Unsubscribe(ctx, unsub...)
	}
	if len(sub) == 0 {
		return more
	}
	if needSentinel {
		// The sentinel goes out alone and before any topic, so a
		// connection that carries a topic carries the sentinel too, and
		// go-redis (which keeps every channel it was asked for) will
		// re-subscribe it on the next connection.
		// Counted before writing: the confirmation may be read before
		// Subscribe returns.
		b.mu.Lock()
		b.sentinelPending++
		b.mu.Unlock()
		if err := b.ps.Subscribe(ctx, b.sentinel); err != nil {
			b.mu.Lock()
			b.sentinelPending--
			b.mu.Unlock()
			b.log.Warn("redis broker: subscribe failed", "channels", len(sub), "err", err)
			b.subscribeFailed(ctx, sub, err)
			return more
		}
	}
	if err := b.ps.Subscribe(ctx, sub...); err != nil {
		b.log.Warn("redis broker: subscribe failed", "channels", len(sub), "err", err)
		b.subscribeFailed(ctx, sub, err)
	}
	return more
}

// subscribeFailed fails the subscriptions of a batch that could not be
// sent, so their Subscribe calls return now rather than when Redis comes
// back, and withdraws them from go-redis, which keeps every channel it was
// asked for, sent or not, to re-subscribe on the next connection.
func (b *Broker) subscribeFailed(ctx context.Context, sub []string, err error) {
	err = fmt.Errorf("redis: subscribe: %w", err)
	var withdraw []string
	b.mu.Lock()
	for _, ch := range sub {
		delete(b.sent, ch)
		delete(b.live, ch)
		withdraw = append(withdraw, ch)
		if s := b.subs[ch]; s != nil && !s.confirmed {
			b.failLocked(s, err)
			delete(b.subs, ch)
			b.handlersMu.Lock()
			delete(b.handlers, ch)
			b.handlersMu.Unlock()
		}
	}
	b.mu.Unlock()
	_ = b.ps.Unsubscribe(ctx, withdraw...)
}

// receive is the read loop: it delivers messages, confirms subscriptions,
// detects reconnects and keeps the connection checked while idle.
func (b *Broker) receive(ctx context.Context) {
	wait := retryMin
	pinged := false
	for {
		var msg any
		var err error
		if pinged {
			// A deadline rather than a timeout: go-redis treats an expired
			// deadline as a dead connection and dials a new one.
			rctx, cancel := context.WithTimeout(ctx, pongWait)
			msg, err = b.ps.Receive(rctx)
			cancel()
		} else {
			msg, err = b.ps.ReceiveTimeout(ctx, idlePing)
		}
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			if !pinged && isTimeout(err) {
				// Idle: ask the server to answer. A failed write drops
				// the connection, and the next Receive dials again.
				pinged = b.ps.Ping(ctx) == nil
				continue
			}
			pinged = false
			b.log.Warn("redis broker: receive failed; retrying", "err", err, "retry_in", wait)
			b.connectionLost(err)
			select {
			case <-ctx.Done():
				return
			case <-time.After(wait):
			}
			wait = min(2*wait, retryMax)
			continue
		}
		wait, pinged = retryMin, false
		switch m := msg.(type) {
		case *goredis.Message:
			b.handlersMu.RLock()
			h := b.handlers[m.Channel]
			b.handlersMu.RUnlock()
			if h != nil {
				h([]byte(m.Payload))
			}
		case *goredis.Subscription:
			if m.Kind == "subscribe" {
				b.confirmed(m.Channel)
			}
		}
	}
}

// connectionLost fails the subscriptions written but not yet confirmed: a
// write to a connection the server has just closed succeeds, so without
// this their callers would wait for a confirmation that comes, if ever,
// only once Redis is back. They are withdrawn like any failed Subscribe.
func (b *Broker) connectionLost(err error) {
	err = fmt.Errorf("redis: subscribe: connection lost: %w", err)
	b.mu.Lock()
	defer b.mu.Unlock()
	// go-redis subscribes the next connection to every sent channel;
	// each is live again when Redis confirms it there.
	clear(b.live)
	for ch, s := range b.subs {
		if !s.confirmed && b.sent[ch] {
			b.dropLocked(ch, err)
		}
	}
}

// confirmed handles Redis's confirmation that the connection is subscribed
// to ch.
func (b *Broker) confirmed(ch string) {
	b.mu.Lock()
	if ch == b.sentinel {
		// A confirmation nobody asked for is go-redis re-subscribing on a
		// new connection. Before the first confirmation no topic can have
		// been confirmed, so nothing was missed.
		reset := false
		if b.sentinelPending > 0 {
			b.sentinelPending--
		} else {
			reset = b.sentinelConfirmed
		}
		b.sentinelConfirmed = true
		b.mu.Unlock()
		if reset {
			b.log.Warn("redis broker: reconnected; publications in the gap are lost")
			if b.onReset != nil {
				b.onReset()
			}
		}
		return
	}
	if b.sent[ch] {
		b.live[ch] = true
	}
	if s := b.subs[ch]; s != nil && !s.confirmed && b.sent[ch] {
		s.confirmed = true
		close(s.done)
	}
	b.mu.Unlock()
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
