package memory

import (
	"context"
	"errors"
	"sync"

	"github.com/korobka/korobka/chat"
)

var _ chat.Broker = (*Broker)(nil)

// errBrokerClosed is returned by every call on a closed Broker, so a
// gateway that keeps running after shutdown began fails loudly instead of
// silently dropping events.
var errBrokerClosed = errors.New("memory: broker closed")

// Broker is chat.Broker for one node: publishing calls the topic's handler
// on the publisher's goroutine, so delivery is as fast as a map lookup and
// ordered per publisher with no queue to bound or goroutine to stop.
// Handlers must not block (the chat.Broker contract) and, unlike on the
// Redis Broker, may run concurrently for publications made by different
// goroutines at once.
type Broker struct {
	mu       sync.RWMutex
	handlers map[string]func(payload []byte)
	closed   bool
}

// NewBroker returns a Broker with no subscriptions.
func NewBroker() *Broker {
	return &Broker{handlers: make(map[string]func([]byte))}
}

// Publish delivers each publication to its topic's handler, if any, in
// order. The handler is read under the lock and called outside it, so a
// handler may itself subscribe, unsubscribe or publish without deadlock.
func (b *Broker) Publish(ctx context.Context, pubs ...chat.Publication) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	for i := range pubs {
		b.mu.RLock()
		h, closed := b.handlers[pubs[i].Topic], b.closed
		b.mu.RUnlock()
		if closed {
			return errBrokerClosed
		}
		if h != nil {
			h(pubs[i].Payload)
		}
	}
	if len(pubs) == 0 && b.isClosed() {
		return errBrokerClosed
	}
	return nil
}

// Subscribe installs h for topic, replacing any earlier handler.
func (b *Broker) Subscribe(ctx context.Context, topic string, h func(payload []byte)) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if h == nil {
		return errors.New("memory: subscribe with a nil handler")
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return errBrokerClosed
	}
	b.handlers[topic] = h
	return nil
}

// Unsubscribe removes topic's handler. A publication already being
// delivered on another goroutine may still reach it.
func (b *Broker) Unsubscribe(ctx context.Context, topic string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return errBrokerClosed
	}
	delete(b.handlers, topic)
	return nil
}

// Close drops every subscription; later calls fail. It is idempotent.
func (b *Broker) Close() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.closed = true
	clear(b.handlers)
	return nil
}

func (b *Broker) isClosed() bool {
	b.mu.RLock()
	defer b.mu.RUnlock()
	return b.closed
}
