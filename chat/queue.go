package chat

import (
	"context"
	"math/rand/v2"
	"strconv"
	"time"
)

// JobKind names what a push job is for. Kinds are open: a producer adds
// one by enqueuing jobs of a new kind and teaching the worker's decide
// step (push.go) what to send for it; a worker that meets a kind it does
// not know dead-letters the job rather than dropping it.
type JobKind string

// Push job kinds.
const (
	// JobMessage alerts a member about a new message in a dialog.
	JobMessage JobKind = "message"
	// JobRead tells a member's devices, silently, that they read a dialog
	// somewhere else, so the app drops its notifications and the badge.
	JobRead JobKind = "read"
	// JobNotice is a ready-written alert (Title, Body, optional DialogID):
	// group events that concern the member, and later admin broadcasts and
	// operator replies.
	JobNotice JobKind = "notice"
)

// Job is one push for one user, as the queue carries it. Its JSON form is
// what the Redis queue stores.
type Job struct {
	// Key de-duplicates: a queue drops a job whose key it has seen within
	// its de-duplication window, and the key is the notification's
	// collapse id, so a job sent twice (its worker died after sending)
	// still shows once on the phone. See JobKey.
	Key      string  `json:"k"`
	Kind     JobKind `json:"t"`
	UserID   int64   `json:"u"`
	DialogID int64   `json:"d,omitempty"`
	Seq      int64   `json:"s,omitempty"`
	// Title and Body are a notice's text.
	Title string `json:"ti,omitempty"`
	Body  string `json:"b,omitempty"`
	// Devices restricts a retry to the devices whose send failed; nil
	// means every device the user has when the job runs.
	Devices []int64 `json:"dv,omitempty"`
	// Attempt counts the sends tried before this one (0 the first time).
	Attempt int `json:"a,omitempty"`
	// EnqueuedAt is when the job was first queued; NotBefore when it may
	// run (zero: at once). Retries keep EnqueuedAt.
	EnqueuedAt time.Time `json:"e"`
	NotBefore  time.Time `json:"n,omitzero"`
	// LastError says why the previous attempt failed (for dead letters).
	LastError string `json:"le,omitempty"`
}

// Due is when the job may run: NotBefore, or EnqueuedAt when that is later.
func (j Job) Due() time.Time {
	if j.NotBefore.After(j.EnqueuedAt) {
		return j.NotBefore
	}
	return j.EnqueuedAt
}

// JobKey builds a job's de-duplication key from its kind, dialog, seq and
// user: "message:17:42:5" is the alert for user 5 about message 42 of
// dialog 17, the same however often it is enqueued.
func JobKey(kind JobKind, dialogID, seq, userID int64) string {
	b := make([]byte, 0, 64)
	b = append(b, kind...)
	b = append(b, ':')
	b = strconv.AppendInt(b, dialogID, 10)
	b = append(b, ':')
	b = strconv.AppendInt(b, seq, 10)
	b = append(b, ':')
	b = strconv.AppendInt(b, userID, 10)
	return string(b)
}

// Delivery is a job handed to one consumer, until it acks or retries it.
type Delivery struct {
	Job Job
	// ID is the queue's handle on this delivery (a stream entry id).
	ID string
	// Consumer holds the job until it acks or retries it.
	Consumer string
	// Reclaimed says another consumer claimed the job before and neither
	// acked nor retried it within the claim timeout: it probably died.
	Reclaimed bool
}

// Queue is the push delivery queue: at least once, shared by every node,
// with delayed jobs, retries and dead letters. The memory Queue serves one
// node; the Redis Queue (streams and a consumer group) many. Both pass
// chattest.TestQueue.
type Queue interface {
	// Enqueue adds jobs in one round trip without waiting for any
	// consumer. A job whose Key the queue saw within its de-duplication
	// window (queued, or acked since) is dropped; added counts the rest.
	// A job with NotBefore in the future is claimable from then on. An
	// empty Key is an error.
	Enqueue(ctx context.Context, jobs ...Job) (added int, err error)
	// Claim hands consumer up to max due jobs, waiting up to the queue's
	// block time when none is due (then it answers none and no error).
	// Jobs another consumer claimed and did not finish within the claim
	// timeout are handed out again, marked Reclaimed: a consumer that dies
	// loses nothing. A job is held by one consumer at a time.
	Claim(ctx context.Context, consumer string, max int) ([]Delivery, error)
	// Ack finishes deliveries whose jobs are done; their keys stay in the
	// de-duplication window.
	Ack(ctx context.Context, ds ...Delivery) error
	// Retry finishes d and queues next in its place (the caller sets
	// next.Attempt, narrows next.Devices), due after the policy's backoff
	// for next.Attempt or at next.NotBefore, whichever is later. When
	// next.Attempt reaches the policy's MaxAttempts, or permanent is set,
	// next goes to the dead letters instead, and dead is true.
	Retry(ctx context.Context, d Delivery, next Job, permanent bool) (dead bool, err error)
	// DeadLetters returns up to max of the newest dead jobs, newest first.
	DeadLetters(ctx context.Context, max int) ([]Job, error)
}

// RetryPolicy is how a queue spaces the attempts of a job: exponential
// backoff from Base, capped at Max, with jitter, and MaxAttempts sends in
// all before the job is dead. The defaults ride out an APNs or FCM outage
// of about 25 minutes: 1+2+4+...+256 s, then 5 minutes apart.
type RetryPolicy struct {
	Base        time.Duration
	Max         time.Duration
	MaxAttempts int
}

// Retry policy defaults.
const (
	DefaultRetryBase        = time.Second
	DefaultRetryMax         = 5 * time.Minute
	DefaultRetryMaxAttempts = 12
)

// WithDefaults fills the zero fields of p.
func (p RetryPolicy) WithDefaults() RetryPolicy {
	if p.Base <= 0 {
		p.Base = DefaultRetryBase
	}
	if p.Max <= 0 {
		p.Max = DefaultRetryMax
	}
	if p.Max < p.Base {
		p.Max = p.Base
	}
	if p.MaxAttempts <= 0 {
		p.MaxAttempts = DefaultRetryMaxAttempts
	}
	return p
}

// Ceiling is the longest delay before retry attempt n (1 for the first
// retry): Base·2^(n-1), capped at Max.
func (p RetryPolicy) Ceiling(attempt int) time.Duration {
	d := p.Base
	for i := 1; i < attempt && d < p.Max; i++ {
		d *= 2
	}
	return min(d, p.Max)
}

// Delay is the wait before retry attempt n: a random point in the upper
// half of Ceiling(n) ("equal jitter"), so retries of many jobs that failed
// together spread out, yet none comes back sooner than half its step.
func (p RetryPolicy) Delay(attempt int) time.Duration {
	c := p.Ceiling(attempt)
	half := c / 2
	if half <= 0 {
		return c
	}
	return half + time.Duration(rand.Int64N(int64(c-half)+1))
}
