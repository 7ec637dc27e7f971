package chat_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/korobka/korobka/chat"
)

// Tests of issue 10 (delivery correctness and bounded work), one per kind.

// countingStore counts the store calls the tests below care about.
type countingStore struct {
	chat.Store
	reads   atomic.Int64 // User, Members, Upload
	touches atomic.Int64 // TouchLastSeen transactions
}

func (s *countingStore) User(ctx context.Context, id int64) (chat.User, error) {
	s.reads.Add(1)
	return s.Store.User(ctx, id)
}

func (s *countingStore) Members(ctx context.Context, dialogID int64) ([]chat.Member, error) {
	s.reads.Add(1)
	return s.Store.Members(ctx, dialogID)
}

func (s *countingStore) Upload(ctx context.Context, id int64) (chat.Upload, error) {
	s.reads.Add(1)
	return s.Store.Upload(ctx, id)
}

func (s *countingStore) TouchLastSeen(ctx context.Context, seen map[int64]time.Time) error {
	s.touches.Add(1)
	return s.Store.TouchLastSeen(ctx, seen)
}

// switchLimiter refuses everything while deny is set.
type switchLimiter struct {
	chat.Limiter
	deny atomic.Bool
}

func (l *switchLimiter) Allow(ctx context.Context, key string, lim chat.Limit) (bool, time.Duration, error) {
	if l.deny.Load() {
		return false, time.Second, nil
	}
	return l.Limiter.Allow(ctx, key, lim)
}

// failingBroker fails every Publish while fail is set.
type failingBroker struct {
	chat.Broker
	fail atomic.Bool
}

func (b *failingBroker) Publish(ctx context.Context, pubs ...chat.Publication) error {
	if b.fail.Load() {
		return errors.New("redis: connection refused")
	}
	return b.Broker.Publish(ctx, pubs...)
}

// TestSendClientIDScopedToDialog is issue 10 item 1: idempotency is scoped
// to (dialog, sender, client_id). The same id in another dialog is another
// message; the same payload again is a retry (not created); a different
// payload under the same key is client_id_conflict and stores nothing.
func TestSendClientIDScopedToDialog(t *testing.T) {
	f := newTestService(t)
	ctx := context.Background()
	ann, bob, cid := f.newUser(t, "Ann"), f.newUser(t, "Bob"), f.newUser(t, "Cid")
	d1, d2 := f.direct(t, ann, bob), f.direct(t, ann, cid)
	send := func(d int64, clientID, text string, att json.RawMessage) (chat.MessageView, bool, error) {
		return f.svc.Send(ctx, ann.p, 0, chat.SendRequest{DialogID: d, ClientID: clientID, Text: text, Attachments: att})
	}

	m1, created, err := send(d1, "k1", "to Bob", nil)
	if err != nil || !created || m1.Seq != 1 {
		t.Fatalf("k1 in dialog 1: %v created %v %+v", err, created, m1)
	}
	m2, created, err := send(d2, "k1", "to Cid", nil)
	if err != nil || !created || m2.DialogID != chat.FormatID(d2) || m2.Text != "to Cid" {
		t.Fatalf("k1 in dialog 2: got %v created %v %+v, want a new message in dialog 2", err, created, m2)
	}
	if h, err := f.svc.History(ctx, cid.p, d2, 0, 10); err != nil || len(h) != 1 || h[0].Text != "to Cid" {
		t.Errorf("dialog 2 history: %v %+v, want the message to Cid", err, h)
	}
	again, created, err := send(d1, "k1", "  to Bob  ", nil)
	if err != nil || created || again.ID != m1.ID {
		t.Errorf("retry of k1 in dialog 1: got %v created %v %+v, want the stored message, not created", err, created, again)
	}
	_, _, err = send(d1, "k1", "something else", nil)
	wantErr(t, "k1 in dialog 1 with other text", err, chat.ErrClientIDConflict)
	if got := chat.ErrorOf(err); got.Kind != chat.KindConflict {
		t.Errorf("conflict kind: got %v, want KindConflict (409)", got.Kind)
	}

	up, err := f.svc.Upload(ctx, ann.p, strings.NewReader("pdf"), "a.pdf")
	if err != nil {
		t.Fatal(err)
	}
	ref := json.RawMessage(`[{"upload_id":"` + up.ID + `"}]`)
	if _, created, err := send(d1, "k2", "look", ref); err != nil || !created {
		t.Fatalf("with an attachment: %v %v", err, created)
	}
	if _, created, err := send(d1, "k2", "look", ref); err != nil || created {
		t.Errorf("retry with the attachment: %v created %v, want the stored message", err, created)
	}
	_, _, err = send(d1, "k2", "look", nil)
	wantErr(t, "k2 without its attachment", err, chat.ErrClientIDConflict)

	// Nothing but the two created messages was stored or published.
	if h, _ := f.svc.History(ctx, ann.p, d1, 0, 10); len(h) != 2 {
		t.Errorf("dialog 1 holds %d messages, want 2", len(h))
	}
	bob.events.wait(t, "message", 2)
	if n := len(bob.events.of(t, "message")); n != 2 {
		t.Errorf("bob got %d message events, want 2", n)
	}
	// After a delete the content, digest included, is gone: the key then
	// answers the deleted message.
	if _, err := f.svc.DeleteMessage(ctx, ann.p, d1, 1); err != nil {
		t.Fatal(err)
	}
	if v, created, err := send(d1, "k1", "to Bob", nil); err != nil || created || !v.Deleted {
		t.Errorf("retry after a delete: %v created %v %+v, want the deleted message", err, created, v)
	}
}

// TestUnreadExcludesDeleted is issue 10 item 2: the partner sends one
// message and deletes it; the badge goes back to 0 in the dialog, the
// chat list and the total.
func TestUnreadExcludesDeleted(t *testing.T) {
	f := newTestService(t)
	ctx := context.Background()
	ann, bob := f.newUser(t, "Ann"), f.newUser(t, "Bob")
	d := f.direct(t, ann, bob)
	f.send(t, bob, d, "b1", "oops")
	unread := func(what string, want int64) {
		t.Helper()
		dv, err := f.svc.Dialog(ctx, ann.p, d)
		if err != nil || dv.Unread != want {
			t.Errorf("%s: dialog unread %d (%v), want %d", what, dv.Unread, err, want)
		}
		page, err := f.svc.Dialogs(ctx, ann.p, "", 0)
		if err != nil || len(page.Dialogs) != 1 || page.Dialogs[0].Unread != want {
			t.Errorf("%s: chat list %+v (%v), want unread %d", what, page.Dialogs, err, want)
		}
		total, err := f.svc.TotalUnread(ctx, ann.id)
		if err != nil || total != want {
			t.Errorf("%s: total unread %d (%v), want %d", what, total, err, want)
		}
	}
	unread("after one message", 1)
	if _, err := f.svc.DeleteMessage(ctx, bob.p, d, 1); err != nil {
		t.Fatal(err)
	}
	unread("after the partner deleted it", 0)
	f.send(t, bob, d, "b2", "again")
	f.send(t, bob, d, "b3", "and again")
	unread("after two more", 2)
	if _, err := f.svc.Read(ctx, ann.p, d, 2); err != nil {
		t.Fatal(err)
	}
	unread("after reading the first of them", 1)
}

// TestDialogViewsAgree is issue 10 item 4: POST /v1/dialogs for an
// existing dialog answered last_message null while GET showed it. Every
// way to a dialog view gives the same view.
func TestDialogViewsAgree(t *testing.T) {
	f := newTestService(t)
	ctx := context.Background()
	ann, bob := f.newUser(t, "Ann"), f.newUser(t, "Bob")
	d := f.direct(t, ann, bob)
	f.send(t, bob, d, "b1", "hello")
	f.send(t, bob, d, "b2", "are you there?")

	opened, created, err := f.svc.OpenDirect(ctx, ann.p, bob.id, "")
	if err != nil || created {
		t.Fatalf("open existing: %v created %v", err, created)
	}
	one, err := f.svc.Dialog(ctx, ann.p, d)
	if err != nil {
		t.Fatal(err)
	}
	page, err := f.svc.Dialogs(ctx, ann.p, "", 0)
	if err != nil || len(page.Dialogs) != 1 {
		t.Fatalf("list: %v %+v", err, page)
	}
	js := func(v any) string {
		b, _ := json.Marshal(v)
		return string(b)
	}
	if opened.LastMessage == nil || opened.LastMessage.Text != "are you there?" || opened.Unread != 2 {
		t.Errorf("OpenDirect of an existing dialog: %s, want the newest message and 2 unread", js(opened))
	}
	if js(opened) != js(one) || js(one) != js(page.Dialogs[0]) {
		t.Errorf("views differ:\nOpenDirect %s\nDialog     %s\nDialogs    %s", js(opened), js(one), js(page.Dialogs[0]))
	}
	// A new dialog's event is the same view as a GET, for each member.
	cid := f.newUser(t, "Cid")
	fresh, created, err := f.svc.OpenDirect(ctx, cid.p, ann.id, "")
	if err != nil || !created {
		t.Fatal(err, created)
	}
	for _, u := range []*user{ann, cid} {
		evs := u.events.wait(t, "dialog", 1)
		got, err := f.svc.Dialog(ctx, u.p, parseID(t, fresh.ID))
		if err != nil {
			t.Fatal(err)
		}
		e := evs[len(evs)-1].Dialog
		if e.ID != got.ID || e.Title != got.Title || e.Unread != got.Unread || string(e.LastMessage) != "null" {
			t.Errorf("user %d: dialog event %+v, GET %s", u.id, e, js(got))
		}
	}
}

// TestLastSeenBatched is issue 10 item 15: N last disconnects cost O(1)
// transactions, last seen reads right before they are written, and a stop
// writes them.
func TestLastSeenBatched(t *testing.T) {
	var cs *countingStore
	f, stop := newTestServiceWith(t, func(c *chat.Config) {
		cs = &countingStore{Store: c.Store}
		c.Store = cs
		c.LastSeenInterval = time.Hour // only the stop writes
	})
	ctx := context.Background()
	watcher := f.newUser(t, "Ann")
	const n = 50
	var users []*user
	for i := range n {
		u := f.newUser(t, fmt.Sprint("U", i))
		d := f.direct(t, u, watcher) // each opens their own: the per-user limit
		// Presence is shared between partners who have both written.
		f.send(t, u, d, "hi", fmt.Sprint("u", i))
		f.send(t, watcher, d, "hello", fmt.Sprint("w", i))
		users = append(users, u)
	}
	for _, u := range users {
		f.svc.Connected(ctx, u.id)
	}
	f.clock.Advance(time.Hour)
	for _, u := range users {
		f.svc.Disconnected(ctx, u.id)
	}
	if got := cs.touches.Load(); got != 0 {
		t.Errorf("%d disconnects wrote %d transactions before the interval, want 0", n, got)
	}
	evs := watcher.events.wait(t, "presence", 2*n)
	last := evs[len(evs)-1]
	prof, err := f.svc.User(ctx, watcher.p, users[n-1].id)
	if err != nil || prof.Online == nil || *prof.Online || prof.LastSeen == nil || !prof.LastSeen.Equal(*last.LastSeen) {
		t.Errorf("last seen before it is written: %v %+v, want %v", err, prof, last.LastSeen)
	}
	stop()
	if got := cs.touches.Load(); got != 1 {
		t.Errorf("%d disconnects cost %d transactions, want 1", n, got)
	}
	for _, u := range users {
		stored, err := f.store.User(ctx, u.id)
		if err != nil || stored.LastSeenAt.IsZero() {
			t.Fatalf("user %d after the stop: %v last seen %v", u.id, err, stored.LastSeenAt)
		}
	}
	stored, _ := f.store.User(ctx, users[n-1].id)
	if !stored.LastSeenAt.Equal(*last.LastSeen) {
		t.Errorf("stored last seen %v, want %v", stored.LastSeenAt, last.LastSeen)
	}
}

// TestLastSeenInterval: with the interval running, a storm is one write.
func TestLastSeenInterval(t *testing.T) {
	var cs *countingStore
	f, _ := newTestServiceWith(t, func(c *chat.Config) {
		cs = &countingStore{Store: c.Store}
		c.Store = cs
		c.LastSeenInterval = 50 * time.Millisecond
	})
	ctx := context.Background()
	var ids []int64
	for i := range 20 {
		ids = append(ids, f.newUser(t, fmt.Sprint("U", i)).id)
	}
	for _, id := range ids {
		f.svc.Disconnected(ctx, id)
	}
	waitFor(t, "last seen written", func() bool {
		u, err := f.store.User(ctx, ids[len(ids)-1])
		return err == nil && !u.LastSeenAt.IsZero()
	})
	if got := cs.touches.Load(); got > 2 {
		t.Errorf("20 disconnects within the interval cost %d transactions, want 1 (2 if the interval ended mid-storm)", got)
	}
}

// TestLimitsBeforeReads is issue 10 item 17: a refused request does no
// reads. The REST send limit used to come after the membership check and
// up to ten upload lookups.
func TestLimitsBeforeReads(t *testing.T) {
	var cs *countingStore
	var lim *switchLimiter
	f, _ := newTestServiceWith(t, func(c *chat.Config) {
		cs = &countingStore{Store: c.Store}
		c.Store = cs
		lim = &switchLimiter{Limiter: c.Limiter}
		c.Limiter = lim
	})
	ctx := context.Background()
	ann, bob := f.newUser(t, "Ann"), f.newUser(t, "Bob")
	d := f.direct(t, ann, bob)
	f.send(t, ann, d, "m1", "hi")
	var refs []string
	for i := range chat.MaxAttachments {
		up, err := f.svc.Upload(ctx, ann.p, strings.NewReader("x"), fmt.Sprint(i, ".txt"))
		if err != nil {
			t.Fatal(err)
		}
		refs = append(refs, `{"upload_id":"`+up.ID+`"}`)
	}
	att := json.RawMessage("[" + strings.Join(refs, ",") + "]")

	lim.deny.Store(true)
	for _, tc := range []struct {
		name string
		call func() error
	}{
		{"REST send with 10 attachments", func() error {
			_, _, err := f.svc.Send(ctx, ann.p, 0, chat.SendRequest{DialogID: d, ClientID: "m2", Text: "x", Attachments: att})
			return err
		}},
		{"open a dialog", func() error { _, _, err := f.svc.OpenDirect(ctx, ann.p, bob.id, "x"); return err }},
		{"edit", func() error { _, err := f.svc.EditMessage(ctx, ann.p, d+1000, 1, "x"); return err }},
		{"delete", func() error { _, err := f.svc.DeleteMessage(ctx, ann.p, d+1000, 1); return err }},
		{"add a contact", func() error { _, err := f.svc.AddContact(ctx, ann.p, "+79990009999"); return err }},
	} {
		before := cs.reads.Load()
		err := tc.call()
		wantCode(t, tc.name, err, "rate_limited")
		if n := cs.reads.Load() - before; n != 0 {
			t.Errorf("%s: a refused request made %d reads, want 0", tc.name, n)
		}
	}
}

// TestTypingBrokerFailure is issue 10 item 17: typing is best effort; a
// broker failure is logged, never answered as internal.
func TestTypingBrokerFailure(t *testing.T) {
	var br *failingBroker
	f, _ := newTestServiceWith(t, func(c *chat.Config) {
		br = &failingBroker{Broker: c.Broker}
		c.Broker = br
	})
	ann, bob := f.newUser(t, "Ann"), f.newUser(t, "Bob")
	d := f.direct(t, ann, bob)
	br.fail.Store(true)
	if err := f.svc.Typing(context.Background(), ann.p, d); err != nil {
		t.Errorf("typing with the broker down: got %v (%s), want nil", err, chat.ErrorOf(err).Code)
	}
}
