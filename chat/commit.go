package chat

import (
	"context"
	"log/slog"
	"time"
)

// Group commit: sends and receipts from every connection queue up here and
// one goroutine writes whatever has gathered in one transaction, publishes
// the resulting events in one pipelined call, then acknowledges each
// request. Under light load a batch holds one request and adds no delay;
// under heavy load batches grow, so durability costs one fsync per batch
// rather than one per message.

const (
	// maxBatch bounds one transaction. Larger batches amortise the fsync
	// further but hold the acks of early arrivals longer.
	maxBatch = 512
	// queueLen bounds the requests waiting for the writer; a full queue
	// pushes back on senders instead of growing memory.
	queueLen = 8192
	// commitTimeout bounds one transaction, so a stuck database fails
	// requests instead of hanging them.
	commitTimeout = 10 * time.Second
)

// job is one request for the committer. Exactly one of app and rcpt is set.
type job struct {
	app     *Append
	rcpt    *Receipt
	members []int64 // the dialog's members, checked by the caller
	origin  int64   // the sending connection, skipped by the message event
	done    chan error
}

// committer owns the write path of messages and receipts.
type committer struct {
	store  MessageStore
	broker Broker
	log    *slog.Logger
	in     chan *job
	// stopped is closed when Run has drained the queue and returned.
	stopped chan struct{}
}

func newCommitter(store MessageStore, broker Broker, log *slog.Logger) *committer {
	return &committer{store: store, broker: broker, log: log,
		in: make(chan *job, queueLen), stopped: make(chan struct{})}
}

// errStopped answers requests that arrive after shutdown began.
var errStopped = &Error{Kind: KindUnavailable, Code: "unavailable", Message: "The server is shutting down; try again."}

// submit queues j, waiting while the queue is full.
func (c *committer) submit(ctx context.Context, j *job) error {
	select {
	case c.in <- j:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-c.stopped:
		return errStopped
	}
}

// run writes batches until ctx ends, then drains what is queued and
// returns. Nothing queued before the end is dropped.
func (c *committer) run(ctx context.Context) {
	defer close(c.stopped)
	batch := make([]*job, 0, maxBatch)
	for {
		select {
		case j := <-c.in:
			batch = append(batch, j)
		case <-ctx.Done():
			c.drain(batch[:0])
			return
		}
		batch = c.gather(batch)
		c.commit(batch)
		clear(batch)
		batch = batch[:0]
	}
}

// gather adds to batch whatever is already queued, up to maxBatch.
func (c *committer) gather(batch []*job) []*job {
	for len(batch) < maxBatch {
		select {
		case j := <-c.in:
			batch = append(batch, j)
		default:
			return batch
		}
	}
	return batch
}

// drain commits everything still queued at shutdown.
func (c *committer) drain(batch []*job) {
	for {
		batch = c.gather(batch[:0])
		if len(batch) == 0 {
			return
		}
		c.commit(batch)
	}
}

func (c *committer) commit(jobs []*job) {
	var b Batch
	for _, j := range jobs {
		if j.app != nil {
			b.Appends = append(b.Appends, *j.app)
		} else {
			b.Receipts = append(b.Receipts, *j.rcpt)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), commitTimeout)
	defer cancel()
	err := c.store.Commit(ctx, &b)
	if err != nil {
		c.log.Error("commit failed", "appends", len(b.Appends), "receipts", len(b.Receipts), "err", err)
		err = &Error{Kind: KindUnavailable, Code: "unavailable", Message: "The message was not stored; retry with the same client_id.", Err: err}
		for _, j := range jobs {
			j.finish(err)
		}
		return
	}
	// Copy results back and publish the events in one pipelined call.
	var pubs []Publication
	ai, ri := 0, 0
	for _, j := range jobs {
		if j.app != nil {
			*j.app = b.Appends[ai]
			ai++
			if !j.app.Dup {
				pubs = appendMessageEvent(pubs, j.app.Msg, j.members, j.origin)
			}
		} else {
			*j.rcpt = b.Receipts[ri]
			ri++
			if j.rcpt.Changed {
				pubs = appendStatusEvent(pubs, j.rcpt.Result, j.members)
			}
		}
	}
	if len(pubs) > 0 {
		if err := c.broker.Publish(ctx, pubs...); err != nil {
			// Stored but not fanned out: clients catch up with sync.
			c.log.Warn("publish failed", "publications", len(pubs), "err", err)
		}
	}
	for _, j := range jobs {
		j.finish(nil)
	}
}

func (j *job) finish(err error) {
	if j.done != nil {
		j.done <- err
	}
}

// appendMessageEvent adds a message event for every member; the sending
// connection is skipped because it gets the reply.
func appendMessageEvent(pubs []Publication, m Message, members []int64, origin int64) []Publication {
	payload := Envelope(EnvFrame, origin, encodeFrame(messageFrame{Type: "message", Message: viewOf(m, StatusSent)}))
	for _, uid := range members {
		pubs = append(pubs, Publication{Topic: UserTopic(uid), Payload: payload})
	}
	return pubs
}

// appendStatusEvent tells every member, the reader's other devices
// included, that a member's watermarks moved.
func appendStatusEvent(pubs []Publication, mb Member, members []int64) []Publication {
	payload := Envelope(EnvFrame, 0, encodeFrame(statusFrame{
		Type:         "status",
		DialogID:     FormatID(mb.DialogID),
		UserID:       FormatID(mb.UserID),
		DeliveredSeq: mb.DeliveredSeq,
		ReadSeq:      mb.ReadSeq,
	}))
	for _, uid := range members {
		pubs = append(pubs, Publication{Topic: UserTopic(uid), Payload: payload})
	}
	return pubs
}
