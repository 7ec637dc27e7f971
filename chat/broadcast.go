package chat

import (
	"context"
	"errors"
	"slices"
	"sync"
	"time"
)

// Broadcasts: a system message from the business account to every user or
// a segment of them, sent in bounded batches through a Queue (memory, or
// Redis Streams shared by every node). Each batch is one job: "batch n of
// broadcast b". The worker that runs it reads the next BroadcastBatch users
// after the broadcast's cursor, sends each the message in their direct
// dialog with the business account under the client id "broadcast-<b>",
// then advances the cursor only if the broadcast is still at batch n, and
// queues batch n+1. A retried or reclaimed job therefore never sends twice:
// the advance is conditional, and a message already stored under that
// client id is found, not stored again (the dialog's idempotency). Each
// stored message goes through the push pipeline like any other.

// BroadcastBatch is how many users one job reaches.
const BroadcastBatch = 100

// broadcastConcurrency is how many sends of one batch run at once.
const broadcastConcurrency = 8

// JobBroadcast is a batch of a broadcast: DialogID carries the broadcast's
// id and Seq the batch number.
const JobBroadcast JobKind = "broadcast"

// Broadcast statuses.
const (
	BroadcastSending = "sending"
	BroadcastDone    = "done"
)

// Segment selects a broadcast's recipients; the zero Segment is every
// user. Blocked users and the business account never receive one. The
// conditions combine: a role, a registration window and a content tag
// all hold for each recipient.
type Segment struct {
	Role           Role       `json:"role,omitempty"`
	RegisteredFrom *time.Time `json:"registered_from,omitempty"`
	RegisteredTo   *time.Time `json:"registered_to,omitempty"`
	// Tag selects the users who interacted with content tagged Tag: who
	// submitted a form whose collection carries it (Collection.Tags), or
	// is in a dialog about a document that carries it (a subject such as
	// "news:<id>", SubjectCollections, whose document's data "tags" or
	// collection's tags hold it): the discussion of a news post, a
	// question about a catalogue item.
	Tag string `json:"tag,omitempty"`
	// Forms and Subjects are what Tag matched when the broadcast started
	// (the server fills them; what a request sends is ignored): the form
	// collections and the dialog subjects whose users it reaches. Content
	// tagged later does not widen a running broadcast.
	Forms    []string `json:"forms,omitempty"`
	Subjects []string `json:"subjects,omitempty"`
}

// Interaction limits a user list to the users who submitted one of the
// Forms or are members of a dialog about one of the Subjects.
type Interaction struct {
	Forms    []string
	Subjects []string
}

// filter is the segment as a user filter.
func (g Segment) filter() UserFilter {
	no := false
	f := UserFilter{Role: g.Role, Blocked: &no}
	if g.Tag != "" {
		f.Interacted = &Interaction{Forms: g.Forms, Subjects: g.Subjects}
	}
	if g.RegisteredFrom != nil {
		f.RegisteredFrom = *g.RegisteredFrom
	}
	if g.RegisteredTo != nil {
		f.RegisteredTo = *g.RegisteredTo
	}
	return f
}

// Broadcast is one broadcast and its progress.
type Broadcast struct {
	ID         int64      `json:"id,string"`
	CreatedBy  int64      `json:"created_by,string"`
	CreatedAt  time.Time  `json:"created_at"`
	Text       string     `json:"text"`
	Segment    Segment    `json:"segment"`
	Status     string     `json:"status"`
	Sent       int64      `json:"sent"`    // users the finished batches reached
	Batches    int64      `json:"batches"` // batches finished
	FinishedAt *time.Time `json:"finished_at,omitempty"`
	// Cursor is the last user a finished batch reached.
	Cursor UserCursor `json:"-"`
}

// BroadcastStore keeps broadcasts and their progress.
type BroadcastStore interface {
	// CreateBroadcast stores a new broadcast (status sending, batch 0) and
	// returns it with its id.
	CreateBroadcast(ctx context.Context, b Broadcast) (Broadcast, error)
	// Broadcast returns one broadcast (ErrNotFound for none).
	Broadcast(ctx context.Context, id int64) (Broadcast, error)
	// Broadcasts returns up to limit broadcasts with an id below before
	// (0: from the newest), newest first.
	Broadcasts(ctx context.Context, before int64, limit int) ([]Broadcast, error)
	// AdvanceBroadcast records that batch (the broadcast's Batches
	// before it) reached sent users up to cursor, finishing the broadcast
	// at now when done, only if the broadcast is still at that batch;
	// ok says whether it was.
	AdvanceBroadcast(ctx context.Context, id, batch, sent int64, cursor UserCursor, done bool, now time.Time) (ok bool, err error)
}

// ErrNoBroadcastQueue answers a broadcast on a server configured without
// a broadcast queue.
var ErrNoBroadcastQueue = &Error{Kind: KindUnavailable, Code: "unavailable", Message: "Broadcasts are not configured on this server."}

// broadcastSender is the business account (business.go); a Service that
// was not given one at start (SetupBusiness) makes it with the default
// name.
func (s *Service) broadcastSender(ctx context.Context) (int64, error) {
	if id, err := s.businessID(); err == nil {
		return id, nil
	}
	return s.SetupBusiness(ctx, "")
}

// StartBroadcast stores a broadcast and queues its first batch (admins).
// The text follows the message text policy.
func (s *Service) StartBroadcast(ctx context.Context, p Principal, text string, seg Segment) (Broadcast, error) {
	if err := requireRole(p, RoleAdmin); err != nil {
		return Broadcast{}, err
	}
	if s.broadcasts == nil {
		return Broadcast{}, ErrNoBroadcastQueue
	}
	text, err := cleanText(text)
	if err != nil {
		return Broadcast{}, err
	}
	if seg.Role != "" && !ValidRole(seg.Role) {
		return Broadcast{}, ErrInvalidRole
	}
	if seg.RegisteredFrom != nil && seg.RegisteredTo != nil && !seg.RegisteredFrom.Before(*seg.RegisteredTo) {
		return Broadcast{}, Errorf(KindInvalid, "invalid_segment", "registered_from must be before registered_to.")
	}
	seg.Forms, seg.Subjects = nil, nil
	if seg.Tag != "" {
		if !ValidTag(seg.Tag) {
			return Broadcast{}, ErrInvalidTags
		}
		if seg.Forms, seg.Subjects, err = s.tagged(ctx, seg.Tag); err != nil {
			return Broadcast{}, err
		}
		if len(seg.Forms) == 0 && len(seg.Subjects) == 0 {
			return Broadcast{}, ErrUnknownTag
		}
	}
	if _, err := s.broadcastSender(ctx); err != nil {
		return Broadcast{}, err
	}
	b, err := s.store.CreateBroadcast(ctx, Broadcast{CreatedBy: p.UserID, CreatedAt: s.now().UTC().Truncate(time.Microsecond),
		Text: text, Segment: seg, Status: BroadcastSending})
	if err != nil {
		return Broadcast{}, err
	}
	if err := s.audit(ctx, p, "broadcast.start", "broadcast", FormatID(b.ID),
		map[string]any{"segment": seg, "chars": len([]rune(text))}); err != nil {
		return Broadcast{}, err
	}
	if err := s.queueBatch(ctx, b.ID, 0); err != nil {
		return Broadcast{}, err
	}
	return b, nil
}

// ErrUnknownTag answers a broadcast to a tag that no form and no document
// a dialog can be about carries: it would reach nobody.
var ErrUnknownTag = &Error{Kind: KindInvalid, Code: "unknown_tag", Message: "No form and no news or catalogue document carries this tag."}

// tagged resolves a content tag: the form collections that carry it, and
// the subjects ("news:<id>", SubjectCollections) of the documents that
// carry it, themselves or through their collection. Its work is bounded:
// MaxCollections definitions and MaxDocsPerCollection documents of each
// subject collection, so at most len(SubjectCollections) *
// MaxDocsPerCollection subjects.
func (s *Service) tagged(ctx context.Context, tag string) (forms, subjects []string, err error) {
	cols, err := s.store.Collections(ctx)
	if err != nil {
		return nil, nil, err
	}
	byName := make(map[string]Collection, len(cols))
	for _, c := range cols {
		byName[c.Name] = c
		if c.Form && slices.Contains(c.Tags, tag) {
			forms = append(forms, c.Name)
		}
	}
	prefixes := make([]string, 0, len(SubjectCollections))
	for prefix := range SubjectCollections {
		prefixes = append(prefixes, prefix)
	}
	slices.Sort(prefixes)
	for _, prefix := range prefixes {
		col := SubjectCollections[prefix]
		c, ok := byName[col]
		if !ok {
			continue
		}
		whole := slices.Contains(c.Tags, tag)
		docs, err := s.store.Content(ctx, col, false)
		if err != nil {
			return nil, nil, err
		}
		for _, d := range docs {
			if whole || slices.Contains(DocumentTags(d.Data), tag) {
				subjects = append(subjects, prefix+":"+d.ID)
			}
		}
	}
	return forms, subjects, nil
}

// GetBroadcast answers a broadcast's progress (admins).
func (s *Service) GetBroadcast(ctx context.Context, p Principal, id int64) (Broadcast, error) {
	if err := requireRole(p, RoleAdmin); err != nil {
		return Broadcast{}, err
	}
	return s.store.Broadcast(ctx, id)
}

// ListBroadcasts pages the broadcasts, newest first (admins).
func (s *Service) ListBroadcasts(ctx context.Context, p Principal, before int64, limit int) ([]Broadcast, error) {
	if err := requireRole(p, RoleAdmin); err != nil {
		return nil, err
	}
	if limit <= 0 || limit > MaxPage {
		limit = DefaultPage
	}
	return s.store.Broadcasts(ctx, before, limit)
}

func (s *Service) queueBatch(ctx context.Context, id, batch int64) error {
	_, err := s.broadcasts.Enqueue(ctx, Job{Key: JobKey(JobBroadcast, id, batch, 0), Kind: JobBroadcast,
		DialogID: id, Seq: batch, EnqueuedAt: s.now().UTC()})
	return err
}

// runBroadcasts claims and runs batches until ctx ends.
func (s *Service) runBroadcasts(ctx context.Context) {
	if s.broadcasts == nil {
		return
	}
	consumer := s.stats.node + "-broadcast"
	for ctx.Err() == nil {
		ds, err := s.broadcasts.Claim(ctx, consumer, 1)
		if err != nil {
			if ctx.Err() == nil {
				s.log.WarnContext(ctx, "broadcast queue", "err", err)
				select {
				case <-ctx.Done():
				case <-time.After(time.Second):
				}
			}
			continue
		}
		for _, d := range ds {
			if err := s.runBatch(ctx, d.Job); err != nil {
				s.log.WarnContext(ctx, "broadcast batch failed; retried", "broadcast", d.Job.DialogID, "batch", d.Job.Seq, "err", err)
				next := d.Job
				next.Attempt++
				next.LastError = err.Error()
				if _, err := s.broadcasts.Retry(context.WithoutCancel(ctx), d, next, false); err != nil {
					s.log.WarnContext(ctx, "broadcast retry not queued", "err", err)
				}
				continue
			}
			if err := s.broadcasts.Ack(context.WithoutCancel(ctx), d); err != nil {
				s.log.WarnContext(ctx, "broadcast ack", "err", err)
			}
		}
	}
}

// runBatch runs batch j.Seq of broadcast j.DialogID. Run again (a retry,
// a reclaim after a crash) it sends nothing twice and queues the next
// batch again, which the queue's de-duplication keeps single.
func (s *Service) runBatch(ctx context.Context, j Job) error {
	if j.Kind != JobBroadcast {
		return errors.New("not a broadcast job")
	}
	b, err := s.store.Broadcast(ctx, j.DialogID)
	if errors.Is(err, ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	switch {
	case b.Batches > j.Seq:
		// Done before; make sure the next one is queued.
		if b.Status != BroadcastDone && b.Batches == j.Seq+1 {
			return s.queueBatch(ctx, b.ID, b.Batches)
		}
		return nil
	case b.Batches < j.Seq || b.Status == BroadcastDone:
		return nil
	}
	from, err := s.broadcastSender(ctx)
	if err != nil {
		return err
	}
	f := b.Segment.filter()
	f.After = b.Cursor
	users, err := s.store.ListUsers(ctx, f, BroadcastBatch)
	if err != nil {
		return err
	}
	var (
		mu    sync.Mutex
		sent  int64
		first error
		wg    sync.WaitGroup
		slots = make(chan struct{}, broadcastConcurrency)
	)
	for _, u := range users {
		if u.ID == from {
			continue
		}
		slots <- struct{}{}
		wg.Go(func() {
			defer func() { <-slots }()
			_, err := s.systemSend(ctx, from, u.ID, "broadcast-"+FormatID(b.ID), b.Text)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err != nil && first == nil:
				first = err
			case err == nil:
				sent++
			}
		})
	}
	wg.Wait()
	if first != nil {
		// What was sent stays sent; the retry finds it and goes on.
		return first
	}
	cursor := b.Cursor
	if len(users) > 0 {
		last := users[len(users)-1]
		cursor = UserCursor{CreatedAt: last.CreatedAt, ID: last.ID}
	}
	done := len(users) < BroadcastBatch
	ok, err := s.store.AdvanceBroadcast(ctx, b.ID, j.Seq, sent, cursor, done, s.now())
	if err != nil || !ok || done {
		return err
	}
	return s.queueBatch(ctx, b.ID, j.Seq+1)
}

// systemSend stores a message from the business account to a user in
// their direct dialog, once per client id; created is false when it was
// stored before.
func (s *Service) systemSend(ctx context.Context, from, to int64, clientID, text string) (bool, error) {
	d, _, err := s.store.DirectDialog(ctx, from, to, "", s.now())
	if err != nil {
		return false, err
	}
	members, err := s.members.Check(ctx, Principal{UserID: from}, d.ID)
	if err != nil {
		return false, err
	}
	app := &Append{Msg: Message{
		DialogID:  d.ID,
		SenderID:  from,
		ClientID:  clientID,
		Text:      text,
		Digest:    PayloadDigest(text, nil),
		CreatedAt: s.now().UTC().Truncate(time.Microsecond),
	}}
	if err := s.commitAndWait(ctx, &job{app: app, members: members}); err != nil {
		return false, err
	}
	return !app.Dup, nil
}
