package chat

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// waitTimeout bounds every wait in these tests: it is a deadline for a
// hang, never a measure of speed.
const waitTimeout = 10 * time.Second

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// recv waits for one value from ch.
func recv[T any](t testing.TB, what string, ch <-chan T) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(waitTimeout):
		t.Fatalf("timed out waiting for %s", what)
		var zero T
		return zero
	}
}

// fakeMessages is a MessageStore whose Commit assigns seqs per dialog in
// memory and records every batch. Only Commit is implemented.
type fakeMessages struct {
	MessageStore // nil: any other method panics

	// entered, when set, receives the size of each batch as Commit starts;
	// gate, when set, holds each Commit until it is closed.
	entered chan int
	gate    chan struct{}
	fail    error

	mu      sync.Mutex
	seqs    map[int64]int64
	sent    map[string]Message // by client id
	batches [][]string         // the client ids (or "r:<user>") of each batch
}

func newFakeMessages() *fakeMessages {
	return &fakeMessages{seqs: map[int64]int64{}, sent: map[string]Message{}}
}

func (f *fakeMessages) Commit(ctx context.Context, b *Batch) error {
	if f.entered != nil {
		f.entered <- len(b.Appends) + len(b.Receipts)
	}
	if f.gate != nil {
		select {
		case <-f.gate:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	if f.fail != nil {
		return f.fail
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	var ids []string
	for i := range b.Appends {
		a := &b.Appends[i]
		ids = append(ids, a.Msg.ClientID)
		if m, ok := f.sent[a.Msg.ClientID]; ok {
			a.Msg, a.Dup = m, true
			continue
		}
		f.seqs[a.Msg.DialogID]++
		a.Msg.Seq = f.seqs[a.Msg.DialogID]
		f.sent[a.Msg.ClientID] = a.Msg
	}
	for i := range b.Receipts {
		r := &b.Receipts[i]
		ids = append(ids, fmt.Sprintf("r:%d", r.UserID))
		last := f.seqs[r.DialogID]
		r.Result = Member{DialogID: r.DialogID, UserID: r.UserID, DeliveredSeq: min(r.Delivered, last), ReadSeq: min(r.Read, last)}
		r.Changed = true
	}
	f.batches = append(f.batches, ids)
	return nil
}

func (f *fakeMessages) stored(clientID string) (Message, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	m, ok := f.sent[clientID]
	return m, ok
}

func (f *fakeMessages) batchSizes() []int {
	f.mu.Lock()
	defer f.mu.Unlock()
	var n []int
	for _, b := range f.batches {
		n = append(n, len(b))
	}
	return n
}

// lanesStore is a fakeMessages that asks for several commit lanes.
type lanesStore struct {
	*fakeMessages
	n int
}

func (s lanesStore) CommitParallelism() int { return s.n }

// fakeBroker records publications. While block is open (not closed),
// Publish waits for it, or for its context unless ignoreCtx is set (a
// broker stalled without regard to deadlines).
type fakeBroker struct {
	Broker // nil: only Publish is implemented

	block     chan struct{}
	ignoreCtx bool
	started   chan struct{} // receives once per Publish call, when set

	mu   sync.Mutex
	pubs []Publication
}

func (b *fakeBroker) Publish(ctx context.Context, pubs ...Publication) error {
	if b.started != nil {
		select {
		case b.started <- struct{}{}:
		default:
		}
	}
	if b.block != nil {
		var expired <-chan struct{}
		if !b.ignoreCtx {
			expired = ctx.Done()
		}
		select {
		case <-b.block:
		case <-expired:
			return ctx.Err()
		}
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.pubs = append(b.pubs, pubs...)
	return nil
}

func (b *fakeBroker) published() []Publication {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]Publication(nil), b.pubs...)
}

// published message event as seen on the wire.
type wireEvent struct {
	Topic    string
	Origin   int64
	Type     string `json:"type"`
	DialogID string `json:"dialog_id"`
	Message  struct {
		DialogID string `json:"dialog_id"`
		Seq      int64  `json:"seq"`
		ClientID string `json:"client_id"`
	} `json:"message"`
	DeliveredSeq int64 `json:"delivered_seq"`
	ReadSeq      int64 `json:"read_seq"`
}

func decodePubs(t testing.TB, pubs []Publication) []wireEvent {
	t.Helper()
	out := make([]wireEvent, len(pubs))
	for i, p := range pubs {
		kind, origin, frame, err := OpenEnvelope(p.Payload)
		if err != nil || !IsFrame(kind) {
			t.Fatalf("publication %d: kind %d, err %v", i, kind, err)
		}
		if err := json.Unmarshal(frame, &out[i]); err != nil {
			t.Fatalf("publication %d: %v", i, err)
		}
		out[i].Topic, out[i].Origin = p.Topic, origin
	}
	return out
}

// startCommitter runs c until the returned stop is called (or the test
// ends); stop returns once run has.
func startCommitter(t testing.TB, c *committer) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		c.run(ctx)
	}()
	stop = func() {
		cancel()
		recv(t, "the committer to stop", done)
	}
	t.Cleanup(func() {
		cancel()
		<-done
	})
	return stop
}

func newTestCommitter(store MessageStore, broker Broker) *committer {
	return newCommitter(store, broker, slog.New(slog.DiscardHandler))
}

func appJob(dialogID, senderID int64, clientID string, members ...int64) *job {
	return &job{
		app:     &Append{Msg: Message{DialogID: dialogID, SenderID: senderID, ClientID: clientID, Text: "hi " + clientID}},
		members: members,
		origin:  senderID * 10,
		done:    make(chan error, 1),
	}
}

func submitOK(t testing.TB, c *committer, j *job) {
	t.Helper()
	if err := c.submit(context.Background(), j); err != nil {
		t.Fatalf("submit: %v", err)
	}
}

// TestCommitterBatching checks that jobs queued while a commit runs are
// gathered into the next batch, at most maxBatch of them.
func TestCommitterBatching(t *testing.T) {
	store := newFakeMessages()
	store.entered = make(chan int, 16)
	store.gate = make(chan struct{})
	broker := &fakeBroker{}
	c := newTestCommitter(store, broker)
	stop := startCommitter(t, c)

	first := appJob(1, 1, "c0", 1, 2)
	submitOK(t, c, first)
	if n := recv(t, "the first commit", store.entered); n != 1 {
		t.Fatalf("first batch holds %d jobs, want 1", n)
	}
	// The writer is inside Commit: everything submitted now waits for it.
	const more = maxBatch + 10
	jobs := []*job{first}
	for i := range more {
		j := appJob(1, 1, fmt.Sprintf("c%d", i+1), 1, 2)
		submitOK(t, c, j)
		jobs = append(jobs, j)
	}
	close(store.gate)
	if n := recv(t, "the second commit", store.entered); n != maxBatch {
		t.Errorf("second batch holds %d jobs, want maxBatch (%d)", n, maxBatch)
	}
	if n := recv(t, "the third commit", store.entered); n != more-maxBatch {
		t.Errorf("third batch holds %d jobs, want %d", n, more-maxBatch)
	}
	for i, j := range jobs {
		if err := recv(t, "an ack", j.done); err != nil {
			t.Fatalf("job %d: %v", i, err)
		}
		if j.app.Msg.Seq != int64(i+1) {
			t.Errorf("job %d got seq %d, want %d", i, j.app.Msg.Seq, i+1)
		}
	}
	stop()
	if got := store.batchSizes(); len(got) != 3 {
		t.Errorf("batches %v, want 3", got)
	}
	// Every member hears of every message.
	if got, want := len(broker.published()), 2*len(jobs); got != want {
		t.Errorf("%d publications, want %d", got, want)
	}
}

// TestCommitterOrderPerDialog checks that each dialog's messages are
// committed in submission order and published in seq order, with one lane
// and with several.
func TestCommitterOrderPerDialog(t *testing.T) {
	for _, lanes := range []int{1, 4} {
		t.Run(fmt.Sprintf("lanes=%d", lanes), func(t *testing.T) {
			fake := newFakeMessages()
			var store MessageStore = fake
			if lanes > 1 {
				store = lanesStore{fake, lanes}
			}
			broker := &fakeBroker{}
			c := newTestCommitter(store, broker)
			if len(c.lanes) != lanes {
				t.Fatalf("%d lanes, want %d", len(c.lanes), lanes)
			}
			stop := startCommitter(t, c)

			const dialogs, perDialog = 8, 200
			var wg sync.WaitGroup
			for d := range int64(dialogs) {
				wg.Go(func() {
					// One sender per dialog submits without waiting, so
					// jobs pile up and batch; the last one is awaited.
					var last *job
					for i := range perDialog {
						last = appJob(d+1, d+1, fmt.Sprintf("d%d-%d", d+1, i), d+1, 100)
						if err := c.submit(context.Background(), last); err != nil {
							t.Errorf("submit: %v", err)
							return
						}
					}
					if err := recv(t, "the last ack", last.done); err != nil {
						t.Errorf("dialog %d: %v", d+1, err)
					}
				})
			}
			wg.Wait()
			stop()

			for d := range int64(dialogs) {
				for i := range perDialog {
					m, ok := fake.stored(fmt.Sprintf("d%d-%d", d+1, i))
					if !ok || m.Seq != int64(i+1) {
						t.Fatalf("dialog %d message %d: stored %v with seq %d, want seq %d", d+1, i, ok, m.Seq, i+1)
					}
				}
			}
			// The shared member 100 sees each dialog's messages in seq order.
			next := map[string]int64{}
			for _, e := range decodePubs(t, broker.published()) {
				if e.Topic != UserTopic(100) {
					continue
				}
				next[e.Message.DialogID]++
				if e.Message.Seq != next[e.Message.DialogID] {
					t.Fatalf("dialog %s: published seq %d, want %d", e.Message.DialogID, e.Message.Seq, next[e.Message.DialogID])
				}
			}
			for d := range int64(dialogs) {
				if got := next[FormatID(d+1)]; got != perDialog {
					t.Errorf("dialog %d: %d events, want %d", d+1, got, perDialog)
				}
			}
		})
	}
}

// TestCommitterShutdownCommitsQueued checks that stopping the committer
// commits, answers and publishes everything queued before the stop.
func TestCommitterShutdownCommitsQueued(t *testing.T) {
	store := newFakeMessages()
	store.entered = make(chan int, 16)
	store.gate = make(chan struct{})
	broker := &fakeBroker{}
	c := newTestCommitter(store, broker)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		c.run(ctx)
	}()

	first := appJob(1, 1, "first", 1, 2)
	submitOK(t, c, first)
	recv(t, "the first commit", store.entered)
	jobs := []*job{first}
	for i := range 100 {
		j := appJob(int64(i%5+1), 1, fmt.Sprintf("q%d", i), 1, 2)
		submitOK(t, c, j)
		jobs = append(jobs, j)
	}
	cancel() // stop while the first commit is still running
	close(store.gate)
	recv(t, "run to return", done)

	for i, j := range jobs {
		select {
		case err := <-j.done:
			if err != nil {
				t.Errorf("job %d: %v", i, err)
			}
		default:
			t.Errorf("job %d was not answered when run returned", i)
		}
		if _, ok := store.stored(j.app.Msg.ClientID); !ok {
			t.Errorf("job %d was not committed", i)
		}
	}
	if got, want := len(broker.published()), 2*len(jobs); got != want {
		t.Errorf("%d publications when run returned, want %d", got, want)
	}
}

// TestCommitterCommitFailure checks that a failed commit answers every job
// of its batch with the unavailable error and publishes nothing.
func TestCommitterCommitFailure(t *testing.T) {
	store := newFakeMessages()
	store.entered = make(chan int, 16)
	store.gate = make(chan struct{})
	store.fail = errors.New("disk on fire")
	broker := &fakeBroker{}
	c := newTestCommitter(store, broker)
	stop := startCommitter(t, c)

	jobs := []*job{appJob(1, 1, "a", 1, 2)}
	submitOK(t, c, jobs[0])
	recv(t, "the first commit", store.entered)
	for i := range 5 {
		j := appJob(1, 1, fmt.Sprintf("b%d", i), 1, 2)
		submitOK(t, c, j)
		jobs = append(jobs, j)
	}
	r := &job{rcpt: &Receipt{DialogID: 1, UserID: 2, Delivered: 1, Read: 1}, members: []int64{1, 2}, done: make(chan error, 1)}
	submitOK(t, c, r)
	jobs = append(jobs, r)
	close(store.gate)
	for i, j := range jobs {
		err := recv(t, "an answer", j.done)
		var e *Error
		if !errors.As(err, &e) || e.Kind != KindUnavailable {
			t.Errorf("job %d: got %v, want an unavailable error", i, err)
		}
		if !errors.Is(err, store.fail) {
			t.Errorf("job %d: %v does not wrap the store's error", i, err)
		}
	}
	stop()
	if n := len(broker.published()); n != 0 {
		t.Errorf("%d publications after a failed commit, want none", n)
	}
}

// TestCommitterReceipts checks that receipts share batches with messages
// and publish status events to every member.
func TestCommitterReceipts(t *testing.T) {
	store := newFakeMessages()
	broker := &fakeBroker{}
	c := newTestCommitter(store, broker)
	stop := startCommitter(t, c)

	m := appJob(7, 1, "m", 1, 2)
	submitOK(t, c, m)
	if err := recv(t, "an ack", m.done); err != nil {
		t.Fatal(err)
	}
	r := &job{rcpt: &Receipt{DialogID: 7, UserID: 2, Delivered: 5, Read: 5}, members: []int64{1, 2}, done: make(chan error, 1)}
	submitOK(t, c, r)
	if err := recv(t, "an ack", r.done); err != nil {
		t.Fatal(err)
	}
	if r.rcpt.Result.ReadSeq != 1 {
		t.Errorf("read seq %d, want 1 (capped)", r.rcpt.Result.ReadSeq)
	}
	stop()
	evs := decodePubs(t, broker.published())
	if len(evs) != 4 {
		t.Fatalf("%d events, want 4", len(evs))
	}
	for i, e := range evs {
		want := "message"
		if i >= 2 {
			want = "status"
		}
		if e.Type != want {
			t.Errorf("event %d is %q, want %q", i, e.Type, want)
		}
	}
	if evs[0].Origin != 10 || evs[2].Origin != 0 {
		t.Errorf("origins %d, %d; want the sending connection 10, then 0", evs[0].Origin, evs[2].Origin)
	}
	if evs[3].ReadSeq != 1 || evs[3].DeliveredSeq != 1 || evs[3].Topic != UserTopic(2) {
		t.Errorf("status event %+v", evs[3])
	}
}

// TestStoppedCommitterRefusesAtOnce is the fault "after the committer
// stops, submit still accepts about half of the jobs offered, which are
// never written, and Send waits for its deadline": a stopped committer
// refuses every job at once and stores none.
func TestStoppedCommitterRefusesAtOnce(t *testing.T) {
	store := newFakeMessages()
	c := newTestCommitter(store, &fakeBroker{})
	stop := startCommitter(t, c)
	stop()

	accepted := 0
	for i := range 100 {
		j := appJob(int64(i%3+1), 1, fmt.Sprintf("late%d", i), 1, 2)
		// No deadline: a submit that does not refuse at once and is not
		// accepted would hang here, not wait for a timeout.
		err := c.submit(context.Background(), j)
		switch {
		case err == nil:
			accepted++
		case !errors.Is(err, errStopped):
			t.Fatalf("submit %d: %v, want errStopped", i, err)
		}
	}
	if accepted > 0 {
		t.Errorf("a stopped committer accepted %d of 100 jobs, want 0", accepted)
	}
	if n := len(store.batchSizes()); n != 0 {
		t.Errorf("%d commits after stop, want 0", n)
	}
}

// TestSubmitRacingStopDropsNothing is the same fault under a race: jobs
// submitted while the committer stops are each either refused with
// errStopped or committed and answered; none is accepted and forgotten.
func TestSubmitRacingStopDropsNothing(t *testing.T) {
	for round := range 10 {
		store := newFakeMessages()
		c := newTestCommitter(store, &fakeBroker{})
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() {
			defer close(done)
			c.run(ctx)
		}()

		const senders = 8
		var (
			mu       sync.Mutex
			accepted []*job
			refused  int
			wg       sync.WaitGroup
		)
		start := make(chan struct{})
		for s := range senders {
			wg.Go(func() {
				<-start
				// Keep submitting until well after the first refusal, so
				// submits overlap every stage of the stop (but not for
				// ever, should refusals never come).
				after := 0
				for i := 0; after < 50 && i < 5000; i++ {
					j := appJob(int64(s+1), int64(s+1), fmt.Sprintf("r%d-s%d-%d", round, s, i), int64(s+1), 99)
					err := c.submit(context.Background(), j)
					mu.Lock()
					switch {
					case err == nil:
						accepted = append(accepted, j)
					case errors.Is(err, errStopped):
						refused++
						after++
					default:
						t.Errorf("submit: %v", err)
						after = 50
					}
					mu.Unlock()
				}
			})
		}
		close(start)
		cancel()
		wg.Wait()
		recv(t, "run to return", done)

		lost := 0
		for _, j := range accepted {
			select {
			case err := <-j.done:
				if err != nil {
					t.Errorf("accepted job %s: %v", j.app.Msg.ClientID, err)
				}
				if _, ok := store.stored(j.app.Msg.ClientID); !ok {
					t.Errorf("accepted job %s answered but not stored", j.app.Msg.ClientID)
				}
			default:
				lost++
			}
		}
		if lost > 0 {
			t.Fatalf("round %d: %d of %d accepted jobs were never committed or answered (%d refused)", round, lost, len(accepted), refused)
		}
	}
}

// TestPublishStallDoesNotDelayAcks is the fault "publishing runs on the
// commit lane under the commit's deadline, so a broker stall delays every
// acknowledgement of that lane": while Publish hangs, the batch it carries
// is acknowledged and the next batch is committed and acknowledged; once
// the broker recovers the events arrive in commit order.
func TestPublishStallDoesNotDelayAcks(t *testing.T) {
	store := newFakeMessages()
	broker := &fakeBroker{block: make(chan struct{}), ignoreCtx: true, started: make(chan struct{}, 1)}
	c := newTestCommitter(store, broker)
	startCommitter(t, c)
	release := sync.OnceFunc(func() { close(broker.block) })
	t.Cleanup(release) // runs before the committer's stop

	a := appJob(1, 1, "a", 1, 2)
	submitOK(t, c, a)
	recv(t, "the first Publish", broker.started)
	if err := recv(t, "the ack of a message whose events are stuck in Publish", a.done); err != nil {
		t.Fatal(err)
	}
	b := appJob(1, 1, "b", 1, 2)
	submitOK(t, c, b)
	if err := recv(t, "the ack of the next commit while Publish is stuck", b.done); err != nil {
		t.Fatal(err)
	}
	if m, ok := store.stored("b"); !ok || m.Seq != 2 {
		t.Fatalf("second message stored %v with seq %d, want seq 2", ok, m.Seq)
	}
	if n := len(broker.published()); n != 0 {
		t.Fatalf("%d publications while the broker is stalled", n)
	}

	release()
	waitFor(t, "both messages' events", func() bool { return len(broker.published()) == 4 })
	var seqs []int64
	for _, e := range decodePubs(t, broker.published()) {
		seqs = append(seqs, e.Message.Seq)
	}
	if fmt.Sprint(seqs) != "[1 1 2 2]" {
		t.Errorf("events carry seqs %v, want [1 1 2 2]", seqs)
	}
}

// TestPublishQueueFullDropsEvents checks the choice made for a broker that
// stalls for longer than the publish queue lasts: commits and acks go on,
// the events that find the queue full are dropped and counted, and those
// queued before are published in order once the broker recovers.
func TestPublishQueueFullDropsEvents(t *testing.T) {
	store := newFakeMessages()
	broker := &fakeBroker{block: make(chan struct{}), started: make(chan struct{}, 1)}
	c := newTestCommitter(store, broker)
	stop := startCommitter(t, c)
	release := sync.OnceFunc(func() { close(broker.block) })
	t.Cleanup(release)

	send := func(i int) {
		t.Helper()
		j := appJob(1, 1, fmt.Sprintf("m%d", i), 1, 2)
		submitOK(t, c, j)
		if err := recv(t, "an ack", j.done); err != nil {
			t.Fatal(err)
		}
	}
	send(0)
	recv(t, "the first Publish", broker.started) // the publisher holds batch 0
	const extra = 3
	for i := range pubQueueLen + extra {
		send(i + 1) // the first pubQueueLen fill the queue
	}
	// The lane hands a batch's events to its publisher right after the
	// ack, so the last drops are counted a moment after the last ack.
	want := int64(2 * extra)
	waitFor(t, fmt.Sprintf("%d dropped publications", want), func() bool { return c.dropped.Load() >= want })
	if got := c.dropped.Load(); got != want {
		t.Errorf("dropped %d publications, want %d", got, want)
	}
	release()
	stop()
	evs := decodePubs(t, broker.published())
	if len(evs) != 2*(1+pubQueueLen) {
		t.Fatalf("%d publications, want %d", len(evs), 2*(1+pubQueueLen))
	}
	for i, e := range evs {
		if want := int64(i/2 + 1); e.Message.Seq != want {
			t.Fatalf("publication %d carries seq %d, want %d", i, e.Message.Seq, want)
		}
	}
}

// TestShutdownGivesUpOnStalledBroker checks that shutdown does not wait
// for a stalled broker for ever: it gives up on the events of the last
// commits after shutdownPublishTimeout, counting them dropped.
func TestShutdownGivesUpOnStalledBroker(t *testing.T) {
	store := newFakeMessages()
	broker := &fakeBroker{block: make(chan struct{}), started: make(chan struct{}, 1)}
	c := newTestCommitter(store, broker)
	c.shutdownWait = time.Millisecond
	stop := startCommitter(t, c)
	defer close(broker.block)

	for i := range 3 {
		j := appJob(1, 1, fmt.Sprintf("m%d", i), 1, 2)
		submitOK(t, c, j)
		if err := recv(t, "an ack", j.done); err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			recv(t, "the first Publish", broker.started)
		}
	}
	stop() // returns once the stuck Publish's context is cancelled
	if got := c.dropped.Load(); got != 6 {
		t.Errorf("dropped %d publications, want all 6", got)
	}
	if n := len(broker.published()); n != 0 {
		t.Errorf("%d publications reached the stalled broker", n)
	}
}

// TestCommitterWritesWhileFinishing checks the pipeline: the writer commits
// the next batch while the finisher is still busy with the last one (here
// held inside the committed hook), so acknowledging, building events and
// handing on pushes never delay the next transaction.
func TestCommitterWritesWhileFinishing(t *testing.T) {
	store := newFakeMessages()
	store.entered = make(chan int, 4)
	c := newTestCommitter(store, &fakeBroker{})
	inHook, release := make(chan struct{}), make(chan struct{})
	var once, releaseOnce sync.Once
	c.committed = func([]*job) {
		once.Do(func() {
			close(inHook)
			<-release
		})
	}
	stop := startCommitter(t, c)
	// Runs before startCommitter's cleanup, so a failing test still stops.
	t.Cleanup(func() { releaseOnce.Do(func() { close(release) }) })

	first, second := appJob(1, 1, "a", 1, 2), appJob(1, 1, "b", 1, 2)
	submitOK(t, c, first)
	recv(t, "the first commit", store.entered)
	recv(t, "the finisher in the committed hook", inHook)
	submitOK(t, c, second)
	recv(t, "the second commit while the first batch is being finished", store.entered)
	releaseOnce.Do(func() { close(release) })
	for i, j := range []*job{first, second} {
		if err := recv(t, "an ack", j.done); err != nil {
			t.Fatalf("job %d: %v", i, err)
		}
		if j.app.Msg.Seq != int64(i+1) {
			t.Errorf("job %d got seq %d, want %d", i, j.app.Msg.Seq, i+1)
		}
	}
	stop()
}

// TestCommitterGathersUnderLoad checks group commit's bounded wait: a
// writer that finds jobs already waiting after a commit (a busy lane) and
// fewer than gatherMin of them waits for more, up to gatherWait; a writer
// that was idle commits its first job at once. gatherWait is set far
// beyond the test's deadline, so either rule broken hangs the test.
func TestCommitterGathersUnderLoad(t *testing.T) {
	store := newFakeMessages()
	store.entered = make(chan int, 4)
	store.gate = make(chan struct{}, 4)
	c := newTestCommitter(store, &fakeBroker{})
	c.gatherMin, c.gatherWait = 3, time.Hour
	stop := startCommitter(t, c)

	// Idle: the first job commits alone, without waiting for two more.
	jobs := []*job{appJob(1, 1, "c0", 1, 2)}
	submitOK(t, c, jobs[0])
	if n := recv(t, "the idle lane's commit", store.entered); n != 1 {
		t.Fatalf("first batch holds %d jobs, want 1", n)
	}
	// Busy: a job queued during that commit waits for gatherMin.
	jobs = append(jobs, appJob(1, 1, "c1", 1, 2))
	submitOK(t, c, jobs[1])
	store.gate <- struct{}{} // the first commit ends
	waitFor(t, "the writer to take the waiting job", func() bool { return len(c.lanes[0].jobs) == 0 })
	for i := 2; i < 4; i++ {
		jobs = append(jobs, appJob(1, 1, fmt.Sprintf("c%d", i), 1, 2))
		submitOK(t, c, jobs[i])
	}
	if n := recv(t, "the gathered commit", store.entered); n != 3 {
		t.Fatalf("second batch holds %d jobs, want gatherMin (3)", n)
	}
	store.gate <- struct{}{}
	for i, j := range jobs {
		if err := recv(t, "an ack", j.done); err != nil {
			t.Fatalf("job %d: %v", i, err)
		}
	}
	stop()
	if got := store.batchSizes(); !slices.Equal(got, []int{1, 3}) {
		t.Errorf("batches %v, want [1 3]", got)
	}
}
