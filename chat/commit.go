package chat

import (
	"context"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Group commit: sends and receipts from every connection queue up here and
// one goroutine per lane (the writer) writes whatever has gathered in one
// transaction. A second goroutine (the finisher) then copies the results
// back, builds the events, acknowledges each request and hands the events
// to a publisher goroutine, which sends them in one pipelined call; so the
// writer only executes transactions, and the next batch commits while the
// last one is being finished. Under light load a batch holds one request
// and adds no delay; under load, requests gather while the writer commits,
// and a writer that finds only a few waiting after a commit waits up to
// gatherWait for gatherMin of them (group commit), so durability costs one
// fsync per batch rather than one per message. A writer that was idle
// never waits. The broker is off the commit path: a stalled broker delays
// events, never acknowledgements or the next commit.

const (
	// maxBatch bounds one transaction. Larger batches amortise the fsync
	// further but hold the acks of early arrivals longer.
	maxBatch = 512
	// gatherMin and gatherWait shape group commit under load: a busy
	// writer (one that found requests already waiting when its last
	// commit ended) that has fewer than gatherMin waits for more, at most
	// gatherWait. On SQLite a transaction's fixed cost is most of a small
	// batch's (BenchmarkCommit: about 600 µs of CPU for one message, 80-
	// 120 µs a message in batches of 100), so waiting a millisecond at a
	// few thousand messages a second saves far more than it costs.
	gatherMin  = 64
	gatherWait = time.Millisecond
	// finishQueue bounds the committed batches waiting for the lane's
	// finisher; a full queue holds the writer back.
	finishQueue = 4
	// queueLen bounds the requests waiting for the writer; a full queue
	// pushes back on senders instead of growing memory.
	queueLen = 8192
	// commitTimeout bounds one transaction, so a stuck database fails
	// requests instead of hanging them.
	commitTimeout = 10 * time.Second
	// pubQueueLen bounds the committed batches per lane whose events wait
	// for the broker. When it is full the events of the next batch are
	// dropped (see lane.publish).
	pubQueueLen = 256
	// publishTimeout bounds one pipelined Publish.
	publishTimeout = 5 * time.Second
	// shutdownPublishTimeout bounds how long shutdown waits for the events
	// of the last commits to be published before it gives up on them.
	shutdownPublishTimeout = 5 * time.Second
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
	lanes  []*lane
	// stopping is closed when shutdown begins; submit refuses from then on.
	stopping chan struct{}
	// mu orders submits before the final drain: submit holds it shared
	// from its check of stopping until its job is in a lane, and run takes
	// it exclusively after closing stopping. Once run has, no job can enter
	// a lane behind the drain, so every accepted job is committed.
	mu sync.RWMutex
	// shutdownWait is shutdownPublishTimeout, shorter in tests.
	shutdownWait time.Duration
	// dropped counts publications that never reached the broker: a full
	// publish queue, a failed Publish, or the end of shutdown's wait.
	dropped atomic.Int64
	// view renders a committed message for its event (Service.view, which
	// signs attachment URLs); nil: viewOf.
	view func(Message, MessageStatus) MessageView
	// committed, when set, is given every committed batch on the lane,
	// just before its acknowledgements, so a sender that got its answer
	// knows its push jobs are handed on. It must not block (push jobs:
	// push.go). It runs on the lane's finisher, so the lane's next
	// transaction does not wait for it.
	committed func(jobs []*job)
	// gatherMin and gatherWait are the constants of the same names
	// (tests change them).
	gatherMin  int
	gatherWait time.Duration
}

// written is one batch as the writer hands it to the finisher: the jobs,
// the batch the store filled in, and the store's error.
type written struct {
	jobs []*job
	b    *Batch
	err  error
}

// lane is one writer: its queue of jobs and the queue of committed events
// its publisher sends, in commit order.
type lane struct {
	jobs chan *job
	pubs chan []Publication
	// dropping counts the publications this lane has dropped since its
	// publish queue last had room; only the lane's finisher touches it.
	dropping int
}

func newCommitter(store MessageStore, broker Broker, log *slog.Logger) *committer {
	n := 1
	if p, ok := store.(ParallelCommitter); ok && p.CommitParallelism() > 1 {
		n = p.CommitParallelism()
	}
	c := &committer{store: store, broker: broker, log: log, stopping: make(chan struct{}), shutdownWait: shutdownPublishTimeout,
		gatherMin: gatherMin, gatherWait: gatherWait}
	for range n {
		c.lanes = append(c.lanes, &lane{
			jobs: make(chan *job, queueLen/n),
			pubs: make(chan []Publication, pubQueueLen),
		})
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
	case c.lanes[uint64(d)%uint64(len(c.lanes))].jobs <- j:
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
// queued, publishes the events of what it committed (for at most
// shutdownPublishTimeout) and returns. Nothing accepted by submit is
// dropped; submits from the moment ctx ends are refused. run is called
// once.
func (c *committer) run(ctx context.Context) {
	quit := make(chan struct{})
	pubCtx, cancelPubs := context.WithCancel(context.Background())
	defer cancelPubs()
	var writers, publishers sync.WaitGroup
	for _, l := range c.lanes {
		fin := make(chan written, finishQueue)
		writers.Go(func() { c.runLane(quit, l, fin) })
		writers.Go(func() { c.runFinisher(l, fin) })
		publishers.Go(func() { c.runPublisher(pubCtx, l.pubs) })
	}
	<-ctx.Done()
	close(c.stopping)
	// Wait out the submits in flight (they see stopping and return, or
	// have queued their job); later ones refuse. Only then drain.
	c.mu.Lock()
	close(quit)
	c.mu.Unlock()
	writers.Wait() // each finisher closes its publish queue when drained
	t := time.AfterFunc(c.shutdownWait, cancelPubs)
	publishers.Wait()
	t.Stop()
}

// runLane is the lane's writer: it gathers jobs into batches, commits
// each and hands it to the finisher (fin, which it closes when it stops).
func (c *committer) runLane(quit <-chan struct{}, l *lane, fin chan<- written) {
	defer close(fin)
	var timer *time.Timer
	wrote := false // a batch was committed just before this one
	for {
		batch := make([]*job, 0, maxBatch)
		// A job already waiting after a commit means the lane is busy: it
		// arrived while that batch committed. An idle lane (and a lane
		// that has not committed yet) takes its first job as it comes and
		// commits at once.
		busy := false
		select {
		case j := <-l.jobs:
			batch, busy = append(batch, j), wrote
		default:
			select {
			case j := <-l.jobs:
				batch = append(batch, j)
			case <-quit:
				c.drain(l.jobs, fin)
				return
			}
		}
		batch = c.gather(l.jobs, batch)
		if busy && len(batch) < c.gatherMin && c.gatherWait > 0 {
			if timer == nil {
				timer = time.NewTimer(c.gatherWait)
			} else {
				timer.Reset(c.gatherWait)
			}
			batch = c.gatherFor(l.jobs, batch, timer.C, quit)
			timer.Stop()
		}
		fin <- c.write(batch)
		wrote = true
	}
}

// gatherFor adds jobs to batch as they come until it holds gatherMin, the
// wait is over or shutdown begins.
func (c *committer) gatherFor(in chan *job, batch []*job, over <-chan time.Time, quit <-chan struct{}) []*job {
	for len(batch) < c.gatherMin {
		select {
		case j := <-in:
			batch = append(batch, j)
		case <-over:
			return batch
		case <-quit:
			return batch
		}
	}
	return batch
}

// runFinisher finishes the lane's committed batches in commit order, then
// closes the lane's publish queue.
func (c *committer) runFinisher(l *lane, fin <-chan written) {
	defer close(l.pubs)
	for w := range fin {
		c.finish(l, w)
	}
}

// runPublisher sends each committed batch's events, in commit order, until
// the lane closes its queue. Once ctx ends (shutdown waited long enough)
// it counts what is left as dropped instead.
func (c *committer) runPublisher(ctx context.Context, in <-chan []Publication) {
	given := 0
	for pubs := range in {
		if ctx.Err() != nil {
			given += len(pubs)
			c.dropped.Add(int64(len(pubs)))
			continue
		}
		pctx, cancel := context.WithTimeout(ctx, publishTimeout)
		err := c.broker.Publish(pctx, pubs...)
		cancel()
		if err != nil {
			// Stored but not fanned out: clients catch up with sync.
			c.dropped.Add(int64(len(pubs)))
			c.log.Warn("publish failed", "publications", len(pubs), "err", err)
		}
	}
	if given > 0 {
		c.log.Warn("shutdown gave up on publishing events", "publications", given)
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
func (c *committer) drain(in chan *job, fin chan<- written) {
	for {
		batch := c.gather(in, make([]*job, 0, maxBatch))
		if len(batch) == 0 {
			return
		}
		fin <- c.write(batch)
	}
}

// write commits jobs in one transaction. It touches neither the jobs nor
// the results: the finisher does.
func (c *committer) write(jobs []*job) written {
	b := &Batch{}
	for _, j := range jobs {
		if j.app != nil {
			b.Appends = append(b.Appends, *j.app)
		} else {
			b.Receipts = append(b.Receipts, *j.rcpt)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), commitTimeout)
	defer cancel()
	return written{jobs: jobs, b: b, err: c.store.Commit(ctx, b)}
}

// finish copies a committed batch's results into its jobs, acknowledges
// them and queues their events for publishing; a failed batch's jobs get
// the error.
func (c *committer) finish(l *lane, w written) {
	jobs, b := w.jobs, w.b
	if err := w.err; err != nil {
		c.log.Error("commit failed", "appends", len(b.Appends), "receipts", len(b.Receipts), "err", err)
		err = &Error{Kind: KindUnavailable, Code: "unavailable", Message: "The message was not stored; retry with the same client_id.", Err: err}
		for _, j := range jobs {
			j.finish(err)
		}
		return
	}
	// Copy results back, acknowledge, and queue the events for publishing.
	var pubs []Publication
	ai, ri := 0, 0
	for _, j := range jobs {
		if j.app != nil {
			*j.app = b.Appends[ai]
			ai++
			if !j.app.Dup {
				pubs = appendMessageEvent(pubs, c.viewOf(j.app.Msg), j.members, j.origin)
			}
		} else {
			*j.rcpt = b.Receipts[ri]
			ri++
			if j.rcpt.Changed {
				pubs = appendStatusEvent(pubs, j.rcpt.Result, statusRecipients(j.rcpt, j.members))
			}
		}
	}
	if c.committed != nil {
		c.committed(jobs)
	}
	for _, j := range jobs {
		j.finish(nil)
	}
	c.publish(l, pubs)
}

// publish queues a committed batch's events for the lane's publisher
// without waiting. When the queue is full the broker has been stalled for
// pubQueueLen batches; the events are then dropped, deliberately, rather
// than waited for: waiting would put the broker back on the commit path
// and hold every acknowledgement of the lane. The messages are stored and
// the broker is best effort anyway: clients notice the gap in seqs (or
// reconnect) and catch up with sync. Drops are counted (Service.
// DroppedEvents) and logged once when they start and once when they end.
func (c *committer) publish(l *lane, pubs []Publication) {
	if len(pubs) == 0 {
		return
	}
	select {
	case l.pubs <- pubs:
		if l.dropping > 0 {
			c.log.Warn("publish queue has room again; events were dropped", "publications", l.dropping)
			l.dropping = 0
		}
	default:
		if l.dropping == 0 {
			c.log.Warn("publish queue full: the broker is stalled; dropping events until it catches up")
		}
		l.dropping += len(pubs)
		c.dropped.Add(int64(len(pubs)))
	}
}

func (j *job) finish(err error) {
	if j.done != nil {
		j.done <- err
	}
}

func (c *committer) viewOf(m Message) MessageView {
	if c.view != nil {
		return c.view(m, StatusSent)
	}
	return viewOf(m, StatusSent)
}

// appendMessageEvent adds a message event for every member; the sending
// connection is skipped because it gets the reply.
func appendMessageEvent(pubs []Publication, v MessageView, members []int64, origin int64) []Publication {
	return appendEvent(pubs, Event{Type: EventMessage, Message: &v}, origin, members, 0)
}

// statusRecipients is who needs a receipt's status event: in a direct
// dialog both members; in a group (the Service asked for Senders) the
// reader's devices and the members whose messages the move passed, whose
// ticks and read counts changed (docs/api.md, "Receipts and ticks in
// groups"), or every member when too many messages passed to list them.
func statusRecipients(r *Receipt, members []int64) []int64 {
	if !r.WantSenders || r.AllSenders {
		return members
	}
	out := make([]int64, 0, len(r.Senders)+1)
	out = append(out, r.UserID)
	for _, id := range r.Senders {
		if id != r.UserID && slices.Contains(members, id) {
			out = append(out, id)
		}
	}
	return out
}

// appendStatusEvent tells every member, the reader's other devices
// included, that a member's watermarks moved.
func appendStatusEvent(pubs []Publication, mb Member, members []int64) []Publication {
	return appendEvent(pubs, Event{
		Type:         EventStatus,
		DialogID:     mb.DialogID,
		UserID:       mb.UserID,
		DeliveredSeq: mb.DeliveredSeq,
		ReadSeq:      mb.ReadSeq,
	}, 0, members, 0)
}
