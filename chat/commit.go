package chat

import (
	"context"
	"log/slog"
	"sync"
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

// ParallelCommitter is implemented by a MessageStore that can run several
// Commits at once to advantage (a database server, where transactions on
// different dialogs proceed in parallel and share fsyncs). It says how many.
// Stores without it get one writer, which is right for SQLite.
type ParallelCommitter interface {
	CommitParallelism() int
}

// job is one request for the committer. Exactly one of app and rcpt is set.
type job struct {
	app     *Append
	rcpt    *Receipt
	members []int64 // the dialog's members, checked by the caller
	origin  int64   // the sending connection, skipped by the message event
	done    chan error
}

// committer owns the write path of messages and receipts. It has one lane
// per concurrent writer; a dialog always goes through the same lane, so its
// messages are committed and published in seq order and lanes never wait
// on each other's dialog locks.
type committer struct {
	store  MessageStore
	broker Broker
	log    *slog.Logger
	lanes  []chan *job
	// stopping is closed when shutdown begins; submit refuses from then on.
	stopping chan struct{}
	// mu orders submits before the final drain: submit holds it shared
	// from its check of stopping until its job is in a lane, and run takes
	// it exclusively after closing stopping. Once run has, no job can enter
	// a lane behind the drain, so every accepted job is committed.
	mu sync.RWMutex
}

func newCommitter(store MessageStore, broker Broker, log *slog.Logger) *committer {
	n := 1
	if p, ok := store.(ParallelCommitter); ok && p.CommitParallelism() > 1 {
		n = p.CommitParallelism()
	}
	c := &committer{store: store, broker: broker, log: log, stopping: make(chan struct{})}
	for range n {
		c.lanes = append(c.lanes, make(chan *job, queueLen/n))
	}
	return c
}

// errStopped answers requests that arrive after shutdown began.
var errStopped = &Error{Kind: KindUnavailable, Code: "unavailable", Message: "The server is shutting down; try again."}

// submit queues j on its dialog's lane, waiting while the lane is full.
// Once shutdown has begun it refuses with errStopped at once; a job it
// accepted is always committed and answered, even during shutdown.
func (c *committer) submit(ctx context.Context, j *job) error {
	var d int64
	if j.app != nil {
		d = j.app.Msg.DialogID
	} else {
		d = j.rcpt.DialogID
	}
	c.mu.RLock()
	defer c.mu.RUnlock()
	// Checked first, because a select among ready cases picks at random:
	// a lane with room would otherwise win half the time after the stop.
	select {
	case <-c.stopping:
		return errStopped
	default:
	}
	select {
	case c.lanes[uint64(d)%uint64(len(c.lanes))] <- j:
		// Even if stopping closed meanwhile, run has not taken mu yet,
		// so the lanes have not drained: the job will be committed.
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-c.stopping:
		return errStopped
	}
}

// run writes batches on every lane until ctx ends, then drains what is
// queued and returns. Nothing accepted by submit is dropped; submits from
// the moment ctx ends are refused. run is called once.
func (c *committer) run(ctx context.Context) {
	quit := make(chan struct{})
	var wg sync.WaitGroup
	for _, lane := range c.lanes {
		wg.Go(func() { c.runLane(quit, lane) })
	}
	<-ctx.Done()
	close(c.stopping)
	// Wait out the submits in flight (they see stopping and return, or
	// have queued their job); later ones refuse. Only then drain.
	c.mu.Lock()
	close(quit)
	c.mu.Unlock()
	wg.Wait()
}

func (c *committer) runLane(quit <-chan struct{}, in chan *job) {
	batch := make([]*job, 0, maxBatch)
	for {
		select {
		case j := <-in:
			batch = append(batch, j)
		case <-quit:
			c.drain(in, batch[:0])
			return
		}
		batch = c.gather(in, batch)
		c.commit(batch)
		clear(batch)
		batch = batch[:0]
	}
}

// gather adds to batch whatever is already queued, up to maxBatch.
func (c *committer) gather(in chan *job, batch []*job) []*job {
	for len(batch) < maxBatch {
		select {
		case j := <-in:
			batch = append(batch, j)
		default:
			return batch
		}
	}
	return batch
}

// drain commits everything still queued at shutdown.
func (c *committer) drain(in chan *job, batch []*job) {
	for {
		batch = c.gather(in, batch[:0])
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
