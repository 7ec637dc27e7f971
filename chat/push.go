package chat

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
)

// Push notifications. After a commit (commit.go) the committer hands the
// committed messages and reads to pushes.committed, which turns them into
// jobs without any I/O and passes them to the enqueuer goroutine: the send
// path never waits on a push. Workers claim due jobs from the Queue in
// batches, decide per job whether and what to push (decide), send through
// the Pusher of each device's platform, and ack, retry or dead-letter.
//
// Who gets an alert for a new message: every member but the sender whose
// membership is not muted, who has not read it by the time the job runs
// (message jobs wait Delay first, so a message read on another device
// within that time is skipped), and who has no connection in the
// foreground on any node (Foreground). A read moves the member's badge:
// if an alert of that dialog may be on their phone, a silent push tells
// the app to drop it.

// Foreground knows which connections show the app on screen, across
// nodes, per connection. A connection counts as background until it
// reports foreground (the WebSocket `state` frame), and a closed
// connection is forgotten, so a shell that never reports and a connection
// that died never hold back a push. memory.Foreground serves one node,
// redis.Foreground many (entries of a node that dies expire); both pass
// chattest.TestForeground.
type Foreground interface {
	// SetForeground records whether connection connID of userID shows the
	// app (true) or not (false, also when the connection closes).
	SetForeground(ctx context.Context, userID, connID int64, foreground bool) error
	// Foreground reports which of the users have a connection in the
	// foreground anywhere; every user asked is in the answer.
	Foreground(ctx context.Context, userIDs []int64) (map[int64]bool, error)
}

// Notification is one push to one device, as the worker built it for the
// device's platform and language.
type Notification struct {
	Kind JobKind
	// Title and Body are the alert; empty for a silent push.
	Title string
	Body  string
	// Badge is the user's total unread count, for the app icon.
	Badge int64
	// Silent is a data push that shows nothing: the app wakes in the
	// background (APNs content-available, FCM data message).
	Silent bool
	// DialogID and Seq are the deep link: open this dialog at this
	// message (for a read push, Seq is the new read watermark).
	DialogID int64
	Seq      int64
	// ThreadID groups a dialog's alerts ("d17"): the APNs thread-id and
	// the FCM collapse key.
	ThreadID string
	// CollapseID is the job's key: the APNs apns-collapse-id and the FCM
	// Android tag, so a notification sent twice shows once.
	CollapseID string
	// Expiration is when the push service may stop trying to deliver.
	Expiration time.Time
}

// CollapseID fits a job key into the 64 bytes APNs allows for
// apns-collapse-id: short keys as they are, longer ones as the first 64
// hex digits of their SHA-256, so one key always gives one id.
func CollapseID(key string) string {
	if len(key) <= 64 {
		return key
	}
	sum := sha256.Sum256([]byte(key))
	return hex.EncodeToString(sum[:])
}

// Data is the notification's custom payload, the same on every platform:
// "kind", "dialog_id", and "seq" (or "read_seq" for a read push), all
// strings, as FCM data must be.
func (n Notification) Data() map[string]string {
	d := map[string]string{"kind": string(n.Kind)}
	if n.DialogID != 0 {
		d["dialog_id"] = FormatID(n.DialogID)
	}
	if n.Seq != 0 {
		key := "seq"
		if n.Kind == JobRead {
			key = "read_seq"
		}
		d[key] = strconv.FormatInt(n.Seq, 10)
	}
	return d
}

// Pusher sends notifications to devices of one platform: chat/apns and
// chat/fcm, and LogPusher when no credentials are configured. Push returns
// nil once the push service accepted the notification, and otherwise a
// *PushError that says what to do; any other error is taken as temporary.
type Pusher interface {
	Push(ctx context.Context, d Device, n Notification) error
}

// PushError is a failed send, classified by the sender.
type PushError struct {
	// Gone: the token is dead (APNs 410 or BadDeviceToken, FCM
	// UNREGISTERED): the device is removed and not tried again.
	Gone bool
	// Temporary: worth retrying later (429, 5xx, a timeout, the network).
	// A failure that is neither Gone nor Temporary (a payload the service
	// refuses, bad credentials for this app) goes to the dead letters.
	Temporary bool
	// RetryAfter is the service's own hint, when it gave one.
	RetryAfter time.Duration
	// Reason is the service's reason ("BadDeviceToken", "UNREGISTERED",
	// "429"), for logs and dead letters.
	Reason string
	Err    error
}

func (e *PushError) Error() string {
	if e.Err != nil {
		return "push: " + e.Reason + ": " + e.Err.Error()
	}
	return "push: " + e.Reason
}

func (e *PushError) Unwrap() error { return e.Err }

// PushMetrics receives the push pipeline's counts; cmd/korobka turns them
// into Prometheus series. Methods must be safe for concurrent use and not
// block.
type PushMetrics interface {
	// JobsQueued counts jobs added to the queue (after de-duplication).
	JobsQueued(kind JobKind, n int)
	// JobsDropped counts jobs that never reached the queue: its backend
	// stayed down through shutdown, or the enqueue buffer overflowed.
	// Every drop is also logged.
	JobsDropped(n int)
	// JobSent counts jobs finished with at least one notification
	// accepted.
	JobSent(kind JobKind)
	// Sent counts notifications a push service accepted, one per device.
	Sent(platform Platform)
	// JobsSkipped counts jobs finished without a push: reason is
	// foreground, muted, read, deleted, not_member, no_device, superseded,
	// nothing_shown, or gone (every device's token was dead).
	JobsSkipped(reason string)
	// JobRetried counts jobs put back for a later attempt.
	JobRetried()
	// JobDead counts jobs moved to the dead letters.
	JobDead()
	// DevicesRemoved counts devices dropped: gone (the service said the
	// token is dead) or evicted (over the per-user cap).
	DevicesRemoved(reason string, n int)
	// Latency observes, for jobs sent on their first attempt, the time
	// from the job's due time (its enqueue, or the end of its delay) to
	// the first accepted notification. Retried jobs show in JobRetried.
	Latency(d time.Duration)
}

// NopPushMetrics discards.
type NopPushMetrics struct{}

func (NopPushMetrics) JobsQueued(JobKind, int)    {}
func (NopPushMetrics) JobsDropped(int)            {}
func (NopPushMetrics) JobSent(JobKind)            {}
func (NopPushMetrics) Sent(Platform)              {}
func (NopPushMetrics) JobsSkipped(string)         {}
func (NopPushMetrics) JobRetried()                {}
func (NopPushMetrics) JobDead()                   {}
func (NopPushMetrics) DevicesRemoved(string, int) {}
func (NopPushMetrics) Latency(time.Duration)      {}

// PushConfig configures push notifications. Without a Queue nothing is
// queued or sent (devices may still be registered).
type PushConfig struct {
	Queue Queue
	// Pushers sends per platform; a platform without one gets LogPusher.
	Pushers map[Platform]Pusher
	// Foreground says who shows the app; nil: nobody does.
	Foreground Foreground
	Metrics    PushMetrics // nil: discard
	// Consumer names this node in the queue (unique among live nodes);
	// each worker appends "-<n>".
	Consumer string
	// Delay holds message alerts back so a read on another device within
	// it skips them; ReadDelay coalesces a burst of reads into one silent
	// push.
	Delay     time.Duration
	ReadDelay time.Duration
	// HidePreviews sends "New message" instead of the text.
	HidePreviews bool
	MaxDevices   int // per user; DefaultMaxDevices when 0
	// Workers claim loops per node, each taking up to Batch jobs and
	// sending up to Concurrency of them at once; SendTimeout bounds one
	// send and must stay well under the queue's claim timeout.
	Workers     int
	Batch       int
	Concurrency int
	SendTimeout time.Duration
	// Buffer is how many committed batches' jobs wait for the queue
	// (DefaultPushBuffer when 0): it rides out a queue backend that hangs
	// for a while; beyond it jobs are dropped, counted and logged.
	Buffer int
}

// Push defaults.
const (
	DefaultPushDelay       = 3 * time.Second
	DefaultPushReadDelay   = time.Second
	DefaultPushWorkers     = 4
	DefaultPushBatch       = 256
	DefaultPushConcurrency = 64
	DefaultPushSendTimeout = 10 * time.Second
	// DefaultPushBuffer bounds the committed batches waiting for the
	// enqueuer.
	DefaultPushBuffer = 1024
	// pushLookupTimeout bounds the reads a batch's decisions need.
	pushLookupTimeout = 10 * time.Second
	// pushQueueTimeout bounds one queue call of the enqueuer or a worker.
	pushQueueTimeout = 5 * time.Second
	// pushDrainTimeout bounds how long shutdown keeps trying to queue the
	// jobs of the last commits.
	pushDrainTimeout = 5 * time.Second
	// alertTTL and silentTTL bound how long a push service keeps trying.
	alertTTL  = 24 * time.Hour
	silentTTL = time.Hour
	// maxPreview is the longest text preview, in characters.
	maxPreview = 180
)

// MutedForever is the muted_until of a dialog muted until unmuted.
var MutedForever = time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC)

// MemberKey and MessageKey name a membership and a message in batch reads.
type (
	MemberKey  struct{ DialogID, UserID int64 }
	MessageKey struct{ DialogID, Seq int64 }
)

// PushMark moves a member's PushedSeq: up to Seq after an alert for Seq
// was sent, or, with Clear, back to 0 if it is at most Seq (a silent push
// told the devices that everything up to Seq is read).
type PushMark struct {
	DialogID, UserID, Seq int64
	Clear                 bool
}

// PushStore is what pushes read and write, in batches, besides devices.
type PushStore interface {
	// MembersAt returns the memberships among keys that exist, any order,
	// with MutedUntil and PushedSeq.
	MembersAt(ctx context.Context, keys []MemberKey) ([]Member, error)
	// MessagesAt returns the messages among keys that exist, any order.
	MessagesAt(ctx context.Context, keys []MessageKey) ([]Message, error)
	// UnreadTotals returns each user's unread count over all their
	// dialogs: the sum of last_seq - read_seq. Users with none are 0.
	UnreadTotals(ctx context.Context, userIDs []int64) (map[int64]int64, error)
	// MarkPushed applies the marks in one transaction.
	MarkPushed(ctx context.Context, marks []PushMark) error
	// SetMute sets a member's muted_until (zero: not muted); ErrNotFound
	// when userID is not a member of the dialog.
	SetMute(ctx context.Context, dialogID, userID int64, until time.Time) error
}

// pushes owns the push pipeline of one node: the enqueue buffer, the
// enqueuer and the workers.
type pushes struct {
	queue      Queue
	store      Store
	pushers    map[Platform]Pusher
	foreground Foreground
	metrics    PushMetrics
	log        *slog.Logger
	now        func() time.Time

	consumer    string
	delay       time.Duration
	readDelay   time.Duration
	hide        bool
	maxDevices  int
	workers     int
	batch       int
	concurrency int
	sendTimeout time.Duration

	in chan []Job // committed jobs for the enqueuer
	// dropMu guards dropping, the jobs dropped since the buffer last had
	// room, for logging the start and end of an overflow once.
	dropMu   sync.Mutex
	dropping int
}

func newPushes(cfg PushConfig, store Store, log *slog.Logger, now func() time.Time) *pushes {
	p := &pushes{
		queue:       cfg.Queue,
		store:       store,
		pushers:     map[Platform]Pusher{},
		foreground:  cfg.Foreground,
		metrics:     cfg.Metrics,
		log:         log,
		now:         now,
		consumer:    cfg.Consumer,
		delay:       cfg.Delay,
		readDelay:   cfg.ReadDelay,
		hide:        cfg.HidePreviews,
		maxDevices:  cfg.MaxDevices,
		workers:     cfg.Workers,
		batch:       cfg.Batch,
		concurrency: cfg.Concurrency,
		sendTimeout: cfg.SendTimeout,
		in:          make(chan []Job, cmp.Or(max(cfg.Buffer, 0), DefaultPushBuffer)),
	}
	for k, v := range cfg.Pushers {
		p.pushers[k] = v
	}
	logp := LogPusher{Log: log}
	for _, pl := range []Platform{PlatformAPNs, PlatformFCM} {
		if p.pushers[pl] == nil {
			p.pushers[pl] = logp
		}
	}
	if p.metrics == nil {
		p.metrics = NopPushMetrics{}
	}
	if p.consumer == "" {
		p.consumer = "node-" + FormatID(NewID())
	}
	if p.delay < 0 {
		p.delay = 0
	} else if p.delay == 0 {
		p.delay = DefaultPushDelay
	}
	if p.readDelay < 0 {
		p.readDelay = 0
	} else if p.readDelay == 0 {
		p.readDelay = DefaultPushReadDelay
	}
	if p.maxDevices <= 0 {
		p.maxDevices = DefaultMaxDevices
	}
	if p.workers <= 0 {
		p.workers = DefaultPushWorkers
	}
	if p.batch <= 0 {
		p.batch = DefaultPushBatch
	}
	if p.concurrency <= 0 {
		p.concurrency = DefaultPushConcurrency
	}
	if p.sendTimeout <= 0 {
		p.sendTimeout = DefaultPushSendTimeout
	}
	return p
}

// committed turns a committed batch into push jobs and hands them to the
// enqueuer. It runs on the commit lane just before the acknowledgements,
// so it does no I/O and never waits: when the buffer is full (the queue
// backend has been down for a while) the jobs are dropped, counted and
// logged, as the committer does with events.
func (p *pushes) committed(jobs []*job) {
	if p.queue == nil {
		return
	}
	now := p.now().UTC()
	var out []Job
	for _, j := range jobs {
		switch {
		case j.app != nil && !j.app.Dup:
			m := &j.app.Msg
			for _, uid := range j.members {
				if uid == m.SenderID {
					continue
				}
				out = append(out, Job{
					Key: JobKey(JobMessage, m.DialogID, m.Seq, uid), Kind: JobMessage,
					UserID: uid, DialogID: m.DialogID, Seq: m.Seq,
					EnqueuedAt: now, NotBefore: now.Add(p.delay),
				})
			}
		case j.rcpt != nil && j.rcpt.Changed && j.rcpt.Read > 0 && j.rcpt.Result.ReadSeq > 0:
			r := j.rcpt.Result
			out = append(out, Job{
				Key: JobKey(JobRead, r.DialogID, r.ReadSeq, r.UserID), Kind: JobRead,
				UserID: r.UserID, DialogID: r.DialogID, Seq: r.ReadSeq,
				EnqueuedAt: now, NotBefore: now.Add(p.readDelay),
			})
		}
	}
	p.hand(out)
}

// hand passes jobs to the enqueuer without waiting.
func (p *pushes) hand(out []Job) {
	if len(out) == 0 {
		return
	}
	select {
	case p.in <- out:
		p.dropMu.Lock()
		if p.dropping > 0 {
			p.log.Warn("push buffer has room again; push jobs were dropped", "jobs", p.dropping)
			p.dropping = 0
		}
		p.dropMu.Unlock()
	default:
		p.dropMu.Lock()
		if p.dropping == 0 {
			p.log.Error("push buffer full: the push queue is not taking jobs; dropping push jobs until it does")
		}
		p.dropping += len(out)
		p.dropMu.Unlock()
		p.metrics.JobsDropped(len(out))
	}
}

// run runs the enqueuer and the workers until ctx ends; the enqueuer then
// queues what is buffered (for at most pushDrainTimeout) and the workers
// finish their batches.
func (p *pushes) run(ctx context.Context) {
	if p.queue == nil {
		return
	}
	var wg sync.WaitGroup
	wg.Go(func() { p.runEnqueuer(ctx) })
	for i := range p.workers {
		consumer := p.consumer + "-" + strconv.Itoa(i)
		wg.Go(func() { p.runWorker(ctx, consumer) })
	}
	wg.Wait()
}

// runEnqueuer queues buffered jobs, gathering what is waiting into one
// call. A failing queue is retried with backoff and the jobs kept: the
// buffer (Buffer batches) absorbs an outage of the queue backend.
func (p *pushes) runEnqueuer(ctx context.Context) {
	const maxGather = 4096
	wait := 50 * time.Millisecond
	var pending []Job
	for {
		if len(pending) == 0 {
			select {
			case jobs := <-p.in:
				pending = append(pending, jobs...)
			case <-ctx.Done():
				p.drainEnqueuer()
				return
			}
		}
	gather:
		for len(pending) < maxGather {
			select {
			case jobs := <-p.in:
				pending = append(pending, jobs...)
			default:
				break gather
			}
		}
		if err := p.enqueue(context.WithoutCancel(ctx), pending); err != nil {
			p.log.Warn("push queue: enqueue failed, retrying", "jobs", len(pending), "err", err)
			select {
			case <-time.After(wait):
				wait = min(2*wait, 5*time.Second)
			case <-ctx.Done():
				p.drainEnqueuer(pending...)
				return
			}
			continue
		}
		wait = 50 * time.Millisecond
		pending = pending[:0]
	}
}

// drainEnqueuer queues what is left at shutdown, giving up (and counting
// the jobs as dropped) after pushDrainTimeout.
func (p *pushes) drainEnqueuer(pending ...Job) {
	ctx, cancel := context.WithTimeout(context.Background(), pushDrainTimeout)
	defer cancel()
	for {
	gather:
		for {
			select {
			case jobs := <-p.in:
				pending = append(pending, jobs...)
			default:
				break gather
			}
		}
		if len(pending) == 0 {
			return
		}
		if err := p.enqueue(ctx, pending); err != nil {
			if ctx.Err() != nil {
				p.log.Error("push queue: shutdown gave up queuing push jobs", "jobs", len(pending), "err", err)
				p.metrics.JobsDropped(len(pending))
				return
			}
			select {
			case <-time.After(100 * time.Millisecond):
			case <-ctx.Done():
			}
			continue
		}
		pending = pending[:0]
	}
}

func (p *pushes) enqueue(ctx context.Context, jobs []Job) error {
	ctx, cancel := context.WithTimeout(ctx, pushQueueTimeout)
	defer cancel()
	if _, err := p.queue.Enqueue(ctx, jobs...); err != nil {
		return err
	}
	// Counted per kind as offered: duplicates the queue dropped were
	// queued once already.
	counts := map[JobKind]int{}
	for _, j := range jobs {
		counts[j.Kind]++
	}
	for k, n := range counts {
		p.metrics.JobsQueued(k, n)
	}
	return nil
}

// runWorker claims and handles batches until ctx ends. A batch in hand
// is finished even then: its sends are bounded by SendTimeout.
func (p *pushes) runWorker(ctx context.Context, consumer string) {
	wait := 50 * time.Millisecond
	for ctx.Err() == nil {
		ds, err := p.queue.Claim(ctx, consumer, p.batch)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			p.log.Warn("push queue: claim failed", "consumer", consumer, "err", err)
			select {
			case <-time.After(wait):
				wait = min(2*wait, 5*time.Second)
			case <-ctx.Done():
				return
			}
			continue
		}
		wait = 50 * time.Millisecond
		if len(ds) > 0 {
			p.handle(context.WithoutCancel(ctx), ds)
		}
	}
}

// plan is what one job will send.
type plan struct {
	d       Delivery
	devices []Device
	n       Notification // the template; title and body per device language
	msg     *Message     // message jobs: the message
	sender  int64
	// senderName is the sender's display name, "" when they have none.
	senderName string
	// groupTitle is the title of the group a message job's message is
	// in ("" for direct dialogs): the alert's title, with the sender's
	// name before the preview.
	groupTitle string
	results    []sendResult
}

type sendResult struct {
	device Device
	err    error
}

// handle decides, sends and settles one claimed batch.
func (p *pushes) handle(ctx context.Context, ds []Delivery) {
	now := p.now().UTC()
	lctx, cancel := context.WithTimeout(ctx, pushLookupTimeout)
	look, err := p.lookup(lctx, ds, now)
	cancel()
	if err != nil {
		p.log.Warn("push: reading what the batch needs failed; retrying its jobs", "jobs", len(ds), "err", err)
		for _, d := range ds {
			next := d.Job
			next.Attempt++
			next.LastError = "lookup: " + err.Error()
			p.retry(ctx, d, next, false)
		}
		return
	}
	var plans []*plan
	var acks []Delivery
	for _, d := range ds {
		pl, skip, bad := p.decide(d, look, now)
		switch {
		case bad != "":
			next := d.Job
			next.LastError = bad
			p.log.Error("push: job refused", "kind", d.Job.Kind, "user", d.Job.UserID, "reason", bad)
			p.retry(ctx, d, next, true)
		case skip != "":
			p.metrics.JobsSkipped(skip)
			acks = append(acks, d)
		default:
			plans = append(plans, pl)
		}
	}
	if len(plans) > 0 {
		if err := p.fill(ctx, plans, look); err != nil {
			p.log.Warn("push: reading badges and names failed; retrying", "jobs", len(plans), "err", err)
			for _, pl := range plans {
				next := pl.d.Job
				next.Attempt++
				next.LastError = "lookup: " + err.Error()
				p.retry(ctx, pl.d, next, false)
			}
			plans = nil
		}
	}
	p.send(ctx, plans)
	acks = append(acks, p.settle(ctx, plans)...)
	p.ack(ctx, acks)
}

// lookups is what a batch's decisions read, each in one call.
type lookups struct {
	members    map[MemberKey]Member
	messages   map[MessageKey]Message
	devices    map[int64][]Device
	foreground map[int64]bool
	badges     map[int64]int64
	names      map[int64]User
}

// lookup reads what the batch's decisions need. Whether the users are in
// the foreground is read first (memory or Redis, one call), then the
// devices of the others (one query): an alert for a user in the
// foreground, and any job of a user without a device, is skipped
// whatever else holds (decide), so it costs no further read. In a large
// group whose members are connected that is nearly every job of a
// message.
func (p *pushes) lookup(ctx context.Context, ds []Delivery, now time.Time) (*lookups, error) {
	var mkeys []MemberKey
	var msgKeys []MessageKey
	users := make([]int64, 0, len(ds))
	seen := make(map[int64]bool, len(ds))
	for _, d := range ds {
		if !seen[d.Job.UserID] {
			seen[d.Job.UserID] = true
			users = append(users, d.Job.UserID)
		}
	}
	var fg map[int64]bool
	if p.foreground != nil {
		var err error
		if fg, err = p.foreground.Foreground(ctx, users); err != nil {
			return nil, err
		}
	}
	users = slices.DeleteFunc(users, func(id int64) bool { return fg[id] })
	devices := make(map[int64][]Device, len(users))
	if len(users) > 0 {
		devs, err := p.store.Devices(ctx, users, now)
		if err != nil {
			return nil, err
		}
		for _, d := range devs {
			devices[d.UserID] = append(devices[d.UserID], d)
		}
	}
	for _, d := range ds {
		j := d.Job
		if fg[j.UserID] && j.Kind != JobRead || len(devices[j.UserID]) == 0 {
			continue // skipped as foreground or without a device (decide)
		}
		if j.DialogID != 0 {
			mkeys = append(mkeys, MemberKey{j.DialogID, j.UserID})
		}
		if j.Kind == JobMessage {
			msgKeys = append(msgKeys, MessageKey{j.DialogID, j.Seq})
		}
	}
	look := &lookups{
		members:    make(map[MemberKey]Member, len(mkeys)),
		messages:   make(map[MessageKey]Message, len(msgKeys)),
		devices:    devices,
		foreground: fg,
	}
	if len(mkeys) > 0 {
		ms, err := p.store.MembersAt(ctx, mkeys)
		if err != nil {
			return nil, err
		}
		for _, m := range ms {
			look.members[MemberKey{m.DialogID, m.UserID}] = m
		}
	}
	if len(msgKeys) > 0 {
		msgs, err := p.store.MessagesAt(ctx, msgKeys)
		if err != nil {
			return nil, err
		}
		for _, m := range msgs {
			look.messages[MessageKey{m.DialogID, m.Seq}] = m
		}
	}
	return look, nil
}

// decide says what job d sends: a plan, a reason to skip it, or a reason
// to refuse it (bad) that sends it to the dead letters.
func (p *pushes) decide(d Delivery, look *lookups, now time.Time) (pl *plan, skip, bad string) {
	j := d.Job
	mb, member := look.members[MemberKey{j.DialogID, j.UserID}]
	n := Notification{Kind: j.Kind, DialogID: j.DialogID, Seq: j.Seq, CollapseID: j.Key}
	if j.DialogID != 0 {
		n.ThreadID = "d" + FormatID(j.DialogID)
	}
	pl = &plan{d: d}
	// Decided first, as lookup read nothing else for these jobs.
	switch known := j.Kind == JobMessage || j.Kind == JobRead || j.Kind == JobNotice; {
	case known && j.Kind != JobRead && look.foreground[j.UserID]:
		return nil, "foreground", ""
	case known && len(look.devices[j.UserID]) == 0:
		return nil, "no_device", ""
	}
	switch j.Kind {
	case JobMessage:
		m, ok := look.messages[MessageKey{j.DialogID, j.Seq}]
		switch {
		case !member:
			return nil, "not_member", ""
		case !ok || !m.DeletedAt.IsZero():
			return nil, "deleted", ""
		case mb.ReadSeq >= j.Seq:
			return nil, "read", ""
		case muted(mb, now):
			return nil, "muted", ""
		}
		pl.msg, pl.sender = &m, m.SenderID
		n.Expiration = now.Add(alertTTL)
	case JobRead:
		switch {
		case !member:
			return nil, "not_member", ""
		case mb.ReadSeq > j.Seq:
			return nil, "superseded", ""
		case mb.PushedSeq == 0:
			return nil, "nothing_shown", ""
		}
		n.Silent = true
		n.Expiration = now.Add(silentTTL)
	case JobNotice:
		if look.foreground[j.UserID] {
			return nil, "foreground", ""
		}
		if j.DialogID != 0 {
			if !member {
				return nil, "not_member", ""
			}
			if muted(mb, now) {
				return nil, "muted", ""
			}
		}
		n.Title, n.Body = j.Title, j.Body
		n.Expiration = now.Add(alertTTL)
	default:
		return nil, "", fmt.Sprintf("unknown job kind %q", j.Kind)
	}
	for _, dev := range look.devices[j.UserID] {
		if j.Devices == nil || containsID(j.Devices, dev.ID) {
			pl.devices = append(pl.devices, dev)
		}
	}
	if len(pl.devices) == 0 {
		return nil, "no_device", ""
	}
	pl.n = n
	return pl, "", ""
}

func muted(mb Member, now time.Time) bool { return mb.MutedUntil.After(now) }

func containsID(ids []int64, id int64) bool {
	for _, x := range ids {
		if x == id {
			return true
		}
	}
	return false
}

// fill reads the badges of the users who get a push and the senders'
// names.
func (p *pushes) fill(ctx context.Context, plans []*plan, look *lookups) error {
	ctx, cancel := context.WithTimeout(ctx, pushLookupTimeout)
	defer cancel()
	users := make([]int64, 0, len(plans))
	var senders []int64
	titles := map[int64]string{} // group titles by dialog, read once per batch
	for _, pl := range plans {
		users = append(users, pl.d.Job.UserID)
		if pl.sender != 0 {
			senders = append(senders, pl.sender)
		}
		if pl.msg != nil {
			if _, ok := titles[pl.msg.DialogID]; !ok {
				d, err := p.store.Dialog(ctx, pl.msg.DialogID)
				if err != nil {
					return err
				}
				if d.Kind == DialogGroup {
					titles[d.ID] = d.Title
				} else {
					titles[d.ID] = ""
				}
			}
			pl.groupTitle = titles[pl.msg.DialogID]
		}
	}
	var err error
	if look.badges, err = p.badges(ctx, users); err != nil {
		return err
	}
	look.names = map[int64]User{}
	if len(senders) > 0 {
		us, err := p.store.Users(ctx, senders)
		if err != nil {
			return err
		}
		for _, u := range us {
			look.names[u.ID] = u
		}
	}
	for _, pl := range plans {
		pl.n.Badge = look.badges[pl.d.Job.UserID]
		if u, ok := look.names[pl.sender]; ok {
			pl.senderName = strings.TrimSpace(u.FirstName + " " + u.LastName)
		}
	}
	return nil
}

// badges returns each user's total unread count, the number on the app
// icon: the same exact count as every dialog view (Member.Unread summed,
// deleted messages excluded), in one query per chunk of users.
func (p *pushes) badges(ctx context.Context, userIDs []int64) (map[int64]int64, error) {
	return p.store.UnreadTotals(ctx, userIDs)
}

// send runs every plan's sends, at most concurrency at once, and waits.
func (p *pushes) send(ctx context.Context, plans []*plan) {
	sem := make(chan struct{}, p.concurrency)
	var wg sync.WaitGroup
	for _, pl := range plans {
		pl.results = make([]sendResult, len(pl.devices))
		for i, dev := range pl.devices {
			n := p.localize(pl, dev)
			sem <- struct{}{}
			wg.Go(func() {
				defer func() { <-sem }()
				sctx, cancel := context.WithTimeout(ctx, p.sendTimeout)
				err := p.pushers[dev.Platform].Push(sctx, dev, n)
				cancel()
				pl.results[i] = sendResult{device: dev, err: err}
			})
		}
	}
	wg.Wait()
}

// localize writes the plan's alert in the device's language.
func (p *pushes) localize(pl *plan, dev Device) Notification {
	n := pl.n
	if n.Silent || pl.msg == nil {
		return n
	}
	s := stringsFor(dev.Locale)
	if pl.senderName != "" {
		n.Title = pl.senderName
	} else {
		n.Title = s.newMessage
	}
	n.Body = preview(*pl.msg, s, p.hide)
	if pl.groupTitle != "" {
		// A group's alert: its title, then who wrote what.
		if pl.senderName != "" {
			n.Body = pl.senderName + ": " + n.Body
		}
		n.Title = pl.groupTitle
	}
	return n
}

// settle acks, retries or buries each plan's job from its send results,
// removes dead devices and records what alerts were shown. It returns the
// deliveries to ack.
func (p *pushes) settle(ctx context.Context, plans []*plan) []Delivery {
	var acks []Delivery
	var marks []PushMark
	now := p.now().UTC()
	for _, pl := range plans {
		j := pl.d.Job
		var retry, refused []int64
		var reasons []string
		var after time.Duration
		sent := 0
		for _, r := range pl.results {
			if r.err == nil {
				sent++
				p.metrics.Sent(r.device.Platform)
				continue
			}
			var pe *PushError
			if !errors.As(r.err, &pe) {
				pe = &PushError{Temporary: true, Reason: "error", Err: r.err}
			}
			switch {
			case pe.Gone:
				p.removeDevice(ctx, r.device, pe.Reason)
			case pe.Temporary:
				retry = append(retry, r.device.ID)
				reasons = append(reasons, pe.Error())
				after = max(after, pe.RetryAfter)
			default:
				refused = append(refused, r.device.ID)
				reasons = append(reasons, pe.Error())
				p.log.Error("push refused by the push service", "platform", r.device.Platform,
					"token", RedactToken(r.device.Token), "kind", j.Kind, "reason", pe.Reason, "err", pe.Err)
			}
		}
		if sent > 0 && j.Attempt == 0 {
			p.metrics.Latency(now.Sub(j.Due()))
		}
		if sent > 0 {
			switch j.Kind {
			case JobMessage:
				marks = append(marks, PushMark{DialogID: j.DialogID, UserID: j.UserID, Seq: j.Seq})
			case JobRead:
				marks = append(marks, PushMark{DialogID: j.DialogID, UserID: j.UserID, Seq: j.Seq, Clear: true})
			}
		}
		switch {
		case len(retry) > 0:
			next := j
			next.Attempt++
			next.Devices = retry
			next.LastError = strings.Join(reasons, "; ")
			if after > 0 {
				next.NotBefore = now.Add(after)
			}
			p.retry(ctx, pl.d, next, false)
		case len(refused) > 0:
			next := j
			next.Devices = refused
			next.LastError = strings.Join(reasons, "; ")
			p.retry(ctx, pl.d, next, true)
		default:
			if sent > 0 {
				p.metrics.JobSent(j.Kind)
			} else {
				p.metrics.JobsSkipped("gone")
			}
			acks = append(acks, pl.d)
		}
	}
	if len(marks) > 0 {
		mctx, cancel := context.WithTimeout(ctx, pushLookupTimeout)
		if err := p.store.MarkPushed(mctx, marks); err != nil {
			// Only the next read's silent push depends on it.
			p.log.Warn("push: recording shown alerts failed", "marks", len(marks), "err", err)
		}
		cancel()
	}
	return acks
}

func (p *pushes) removeDevice(ctx context.Context, d Device, reason string) {
	ctx, cancel := context.WithTimeout(ctx, pushLookupTimeout)
	defer cancel()
	removed, err := p.store.RemoveDevice(ctx, d)
	if err != nil {
		p.log.Warn("push: removing a dead device failed", "device", d.ID, "err", err)
		return
	}
	if removed {
		p.metrics.DevicesRemoved("gone", 1)
		p.log.Info("push: device removed, its token is dead", "device", d.ID, "user", d.UserID,
			"platform", d.Platform, "token", RedactToken(d.Token), "reason", reason)
	}
}

// retry hands a job back to the queue, counting it as retried or dead.
func (p *pushes) retry(ctx context.Context, d Delivery, next Job, permanent bool) {
	var dead bool
	err := p.persist(ctx, func(ctx context.Context) error {
		var err error
		dead, err = p.queue.Retry(ctx, d, next, permanent)
		return err
	})
	if err != nil {
		// The delivery stays claimed; after the claim timeout another
		// worker takes the job again.
		p.log.Warn("push queue: retry failed; the job will be reclaimed", "kind", d.Job.Kind, "err", err)
		return
	}
	if dead {
		p.metrics.JobDead()
		p.log.Error("push job dead", "kind", next.Kind, "user", next.UserID, "dialog", next.DialogID,
			"attempts", next.Attempt+1, "reason", next.LastError)
		return
	}
	p.metrics.JobRetried()
}

// ack finishes deliveries. A lost ack would make the jobs run again after
// the claim timeout (showing once on the phone, by collapse id, but sent
// twice), so it is tried a few times.
func (p *pushes) ack(ctx context.Context, ds []Delivery) {
	if len(ds) == 0 {
		return
	}
	err := p.persist(ctx, func(ctx context.Context) error { return p.queue.Ack(ctx, ds...) })
	if err != nil {
		p.log.Warn("push queue: ack failed; the jobs will be reclaimed", "jobs", len(ds), "err", err)
	}
}

// persist runs a queue call up to three times, 100 ms and 400 ms apart.
func (p *pushes) persist(ctx context.Context, fn func(context.Context) error) error {
	var err error
	for i, wait := 0, 100*time.Millisecond; i < 3; i, wait = i+1, wait*4 {
		qctx, cancel := context.WithTimeout(ctx, pushQueueTimeout)
		err = fn(qctx)
		cancel()
		if err == nil || i == 2 {
			break
		}
		time.Sleep(wait)
	}
	return err
}

// pushStrings are the words a push uses, per language.
type pushStrings struct{ newMessage, photo, video, file string }

var pushLanguages = map[string]pushStrings{
	"en": {"New message", "Photo", "Video", "File"},
	"ru": {"Новое сообщение", "Фото", "Видео", "Файл"},
}

// stringsFor picks a device locale's language ("ru-RU" → ru), English when
// it has none we know.
func stringsFor(locale string) pushStrings {
	lang, _, _ := strings.Cut(strings.ToLower(locale), "-")
	lang, _, _ = strings.Cut(lang, "_")
	if s, ok := pushLanguages[lang]; ok {
		return s
	}
	return pushLanguages["en"]
}

// preview is an alert's body: the text, cut to maxPreview characters, or
// what is attached when there is no text, or "New message" when previews
// are hidden.
func preview(m Message, s pushStrings, hide bool) string {
	if hide {
		return s.newMessage
	}
	if t := strings.TrimSpace(m.Text); t != "" {
		if utf8.RuneCountInString(t) > maxPreview {
			r := []rune(t)
			t = strings.TrimSpace(string(r[:maxPreview])) + "…"
		}
		return t
	}
	var att []struct {
		Kind string `json:"kind"`
		Mime string `json:"mime"`
	}
	if json.Unmarshal(m.Attachments, &att) == nil && len(att) > 0 {
		switch {
		case att[0].Kind == UploadImage:
			return s.photo
		case strings.HasPrefix(att[0].Mime, "video/"):
			return s.video
		default:
			return s.file
		}
	}
	return s.newMessage
}

// LogPusher writes pushes to the log instead of sending them: the default
// when a platform has no credentials configured. It logs no token and no
// text at INFO, only what was to be sent to whom; the text at DEBUG.
type LogPusher struct{ Log *slog.Logger }

// Push logs n and reports success.
func (l LogPusher) Push(ctx context.Context, d Device, n Notification) error {
	if l.Log == nil {
		return nil
	}
	l.Log.InfoContext(ctx, "push not sent: log-only sender", "platform", d.Platform, "user", d.UserID,
		"device", d.ID, "kind", n.Kind, "dialog", n.DialogID, "seq", n.Seq, "badge", n.Badge, "silent", n.Silent)
	l.Log.DebugContext(ctx, "push text", "device", d.ID, "title", n.Title, "body", n.Body)
	return nil
}

// ---- use cases ----

// MuteState answers a mute change: the caller's mute of one dialog.
type MuteState struct {
	DialogID   string     `json:"dialog_id"`
	Muted      bool       `json:"muted"`
	MutedUntil *time.Time `json:"muted_until"` // null while not muted or muted until unmuted
}

// Mute errors.
var ErrInvalidUntil = &Error{Kind: KindInvalid, Code: "invalid_until", Message: "until is a time in the future, at most a year ahead, and only with \"muted\": true."}

// maxMute is how far ahead a timed mute may end.
const maxMute = 366 * 24 * time.Hour

// limitMutePerUser bounds mute changes: a person taps the switch a few
// times, a script thousands.
var limitMutePerUser = Limit{Rate: 120, Period: time.Hour, Burst: 30}

// MuteDialog mutes one of the caller's dialogs (no pushes for its
// messages) until a time, or until unmuted when until is nil, or unmutes
// it.
func (s *Service) MuteDialog(ctx context.Context, p Principal, dialogID int64, mute bool, until *time.Time) (MuteState, error) {
	if _, err := s.members.Check(ctx, p, dialogID); err != nil {
		return MuteState{}, err
	}
	if err := s.allow(ctx, "mute:user:"+FormatID(p.UserID), limitMutePerUser); err != nil {
		return MuteState{}, err
	}
	now := s.now()
	end := time.Time{}
	switch {
	case !mute && until != nil:
		return MuteState{}, ErrInvalidUntil
	case mute && until == nil:
		end = MutedForever
	case mute:
		if !until.After(now) || until.Sub(now) > maxMute {
			return MuteState{}, ErrInvalidUntil
		}
		end = until.UTC().Truncate(time.Microsecond)
	}
	if err := s.store.SetMute(ctx, dialogID, p.UserID, end); err != nil {
		if errors.Is(err, ErrNotFound) {
			return MuteState{}, errDialogNotFound
		}
		return MuteState{}, err
	}
	return muteState(dialogID, end, now), nil
}

func muteState(dialogID int64, until, now time.Time) MuteState {
	st := MuteState{DialogID: FormatID(dialogID), Muted: until.After(now)}
	if st.Muted && !until.Equal(MutedForever) {
		t := until.UTC()
		st.MutedUntil = &t
	}
	return st
}

// SetAppState records whether the caller's connection connID shows the app
// in the foreground (the WebSocket `state` frame); the gateway reports
// false when the connection closes. A member with a foreground connection
// gets no alerts.
func (s *Service) SetAppState(ctx context.Context, p Principal, connID int64, foreground bool) error {
	if s.push.foreground == nil {
		return nil
	}
	if err := s.push.foreground.SetForeground(ctx, p.UserID, connID, foreground); err != nil {
		return &Error{Kind: KindUnavailable, Code: "unavailable", Message: "Try again later.", Err: err}
	}
	return nil
}

// Notice is a ready-written push for some users: a group event that
// concerns them, and later admin broadcasts and operator replies. Key
// de-duplicates it per user (the same Key for the same user is queued
// once); DialogID, when set, is its deep link and makes the member's mute
// apply.
type Notice struct {
	Key      string
	DialogID int64
	Title    string
	Body     string
}

// Notify queues a notice for each user without waiting for the queue.
func (s *Service) Notify(n Notice, userIDs ...int64) {
	now := s.now().UTC()
	out := make([]Job, 0, len(userIDs))
	for _, uid := range userIDs {
		out = append(out, Job{
			Key: n.Key + ":" + FormatID(uid), Kind: JobNotice, UserID: uid, DialogID: n.DialogID,
			Title: n.Title, Body: n.Body, EnqueuedAt: now,
		})
	}
	if s.push.queue != nil {
		s.push.hand(out)
	}
}
