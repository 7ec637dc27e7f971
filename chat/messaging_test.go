package chat_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/korobka/korobka/chat"
)

func TestSend(t *testing.T) {
	f := newTestService(t)
	ctx := context.Background()
	ann, bob, eve := f.newUser(t, "Ann"), f.newUser(t, "Bob"), f.newUser(t, "Eve")
	d := f.direct(t, ann, bob)

	for i := 1; i <= 3; i++ {
		v, _, err := f.svc.Send(ctx, ann.p, 77, chat.SendRequest{DialogID: d, ClientID: fmt.Sprintf("c%d", i), Text: fmt.Sprintf("  hello %d\n", i)})
		if err != nil {
			t.Fatalf("send %d: %v", i, err)
		}
		if v.Seq != int64(i) || v.ID != chat.MessageID(d, int64(i)) || v.DialogID != chat.FormatID(d) ||
			v.SenderID != chat.FormatID(ann.id) || v.ClientID != fmt.Sprintf("c%d", i) ||
			v.Text != fmt.Sprintf("hello %d", i) || v.Status != chat.StatusSent || string(v.Attachments) != "[]" {
			t.Errorf("send %d answered %+v", i, v)
		}
	}
	// Every member's topic gets each message, in seq order, carrying the
	// sending connection so that the gateway skips it.
	for _, u := range []*user{ann, bob} {
		evs := u.events.wait(t, "message", 3)
		for i, e := range evs {
			if !chat.IsFrame(e.Kind) || e.Origin != 77 || e.Message.Seq != int64(i+1) || e.Message.Text != fmt.Sprintf("hello %d", i+1) || e.Message.Status != "sent" {
				t.Errorf("user %d event %d: %+v %+v", u.id, i, e, e.Message)
			}
		}
	}
	if n := len(eve.events.of(t, "message")); n != 0 {
		t.Errorf("a non-member got %d message events", n)
	}

	// A retry with the same client_id and payload answers the stored
	// message and stores and publishes nothing.
	again, created, err := f.svc.Send(ctx, ann.p, 77, chat.SendRequest{DialogID: d, ClientID: "c2", Text: " hello 2 "})
	if err != nil {
		t.Fatal(err)
	}
	if again.Seq != 2 || again.Text != "hello 2" || created {
		t.Errorf("retry answered seq %d %q created %v, want the stored seq 2, not created", again.Seq, again.Text, created)
	}
	// A REST send (origin 0) is next; its event comes after any the retry
	// could have caused, in the same lane.
	v4, created, err := f.svc.Send(ctx, ann.p, 0, chat.SendRequest{DialogID: d, ClientID: "c4", Text: "four"})
	if err != nil {
		t.Fatal(err)
	}
	if v4.Seq != 4 || !created {
		t.Errorf("send after a retry got seq %d created %v, want 4, created", v4.Seq, created)
	}
	evs := bob.events.wait(t, "message", 4)
	if len(evs) != 4 || evs[3].Message.Seq != 4 || evs[3].Origin != 0 {
		t.Errorf("after a retry and a REST send bob has %d message events, want 4 with seq 4 last from origin 0", len(evs))
	}

	// The retry reports the status the message has reached.
	if _, err := f.svc.Read(ctx, bob.p, d, 2); err != nil {
		t.Fatal(err)
	}
	again, _, err = f.svc.Send(ctx, ann.p, 77, chat.SendRequest{DialogID: d, ClientID: "c2", Text: "hello 2"})
	if err != nil || again.Status != chat.StatusRead {
		t.Errorf("retry after a read: %v, status %q, want read", err, again.Status)
	}

	// Client ids are per sender: bob may use c1 too.
	if v := f.send(t, bob, d, "c1", "bob's own"); v.Seq != 5 {
		t.Errorf("bob's c1 got seq %d, want 5", v.Seq)
	}

	_, _, err = f.svc.Send(ctx, eve.p, 1, chat.SendRequest{DialogID: d, ClientID: "e1", Text: "let me in"})
	wantErr(t, "a non-member's send", err, chat.ErrNotFound)
	_, _, err = f.svc.Send(ctx, ann.p, 1, chat.SendRequest{DialogID: d + 1000, ClientID: "e1", Text: "nobody"})
	wantErr(t, "a send to no dialog", err, chat.ErrNotFound)

	for _, text := range []string{"", "   \n", strings.Repeat("я", chat.MaxTextLen+1), "bad \xff utf-8"} {
		_, _, err := f.svc.Send(ctx, ann.p, 1, chat.SendRequest{DialogID: d, ClientID: "t1", Text: text})
		wantErr(t, fmt.Sprintf("text %.10q", text), err, chat.ErrInvalidText)
	}
	if v := f.send(t, ann, d, "long", strings.Repeat("я", chat.MaxTextLen)); len([]rune(v.Text)) != chat.MaxTextLen {
		t.Errorf("a text of exactly MaxTextLen was cut to %d", len([]rune(v.Text)))
	}
	for _, id := range []string{"", "has space", "semi;colon", strings.Repeat("x", chat.MaxClientIDLen+1)} {
		_, _, err := f.svc.Send(ctx, ann.p, 1, chat.SendRequest{DialogID: d, ClientID: id, Text: "hi"})
		wantErr(t, fmt.Sprintf("client_id %q", id), err, chat.ErrInvalidClientID)
	}
}

// TestSendSeqs checks that concurrent sends into several dialogs give each
// dialog the seqs 1..n with no gap or repeat.
func TestSendSeqs(t *testing.T) {
	f := newTestService(t)
	ann := f.newUser(t, "Ann")
	var dialogs []int64
	for range 3 {
		dialogs = append(dialogs, f.direct(t, ann, f.newUser(t, "Peer")))
	}
	const per = 40
	var (
		mu   sync.Mutex
		seqs = map[int64][]int64{}
		wg   sync.WaitGroup
	)
	for _, d := range dialogs {
		for i := range per {
			wg.Go(func() {
				v, _, err := f.svc.Send(context.Background(), ann.p, 1, chat.SendRequest{DialogID: d, ClientID: fmt.Sprintf("d%d-%d", d, i), Text: "hi"})
				if err != nil {
					t.Errorf("send: %v", err)
					return
				}
				mu.Lock()
				seqs[d] = append(seqs[d], v.Seq)
				mu.Unlock()
			})
		}
	}
	wg.Wait()
	for _, d := range dialogs {
		got := seqs[d]
		slices.Sort(got)
		for i, s := range got {
			if s != int64(i+1) {
				t.Fatalf("dialog %d seqs %v, want 1..%d", d, got, per)
			}
		}
		if len(got) != per {
			t.Errorf("dialog %d: %d seqs, want %d", d, len(got), per)
		}
	}
}

func TestSendAttachments(t *testing.T) {
	f := newTestService(t)
	ctx := context.Background()
	ann, bob := f.newUser(t, "Ann"), f.newUser(t, "Bob")
	d := f.direct(t, ann, bob)

	att, err := f.svc.Upload(ctx, ann.p, strings.NewReader("file body"), "../notes.txt")
	if err != nil {
		t.Fatal(err)
	}
	if att.Name != "notes.txt" || att.Size != 9 || att.Kind != chat.UploadFile {
		t.Errorf("upload answered %+v", att)
	}
	ref := json.RawMessage(`[{"upload_id":"` + att.ID + `"}]`)
	// An attachment needs no caption.
	v, _, err := f.svc.Send(ctx, ann.p, 1, chat.SendRequest{DialogID: d, ClientID: "a1", Attachments: ref})
	if err != nil {
		t.Fatal(err)
	}
	var got []chat.Attachment
	if err := json.Unmarshal(v.Attachments, &got); err != nil || len(got) != 1 || got[0].ID != att.ID || got[0].Name != att.Name ||
		!strings.HasPrefix(got[0].URL, strings.Split(att.URL, "?")[0]+"?dialog=") {
		t.Errorf("message attachments %s (%v), want the upload signed for the dialog", v.Attachments, err)
	}
	// Only one's own uploads can be attached.
	_, _, err = f.svc.Send(ctx, bob.p, 1, chat.SendRequest{DialogID: d, ClientID: "b1", Text: "mine now", Attachments: ref})
	wantErr(t, "someone else's upload", err, chat.ErrInvalidAttachment)
	// An empty list is no attachment: the text is needed.
	_, _, err = f.svc.Send(ctx, ann.p, 1, chat.SendRequest{DialogID: d, ClientID: "a3", Attachments: json.RawMessage(`[ ]`)})
	wantErr(t, "an empty list and no text", err, chat.ErrInvalidText)
	for _, bad := range []string{`{}`, `[{"upload_id":"x"}]`, `[{"upload_id":"123"}]`} {
		_, _, err = f.svc.Send(ctx, ann.p, 1, chat.SendRequest{DialogID: d, ClientID: "a2", Text: "hi", Attachments: json.RawMessage(bad)})
		wantErr(t, "attachments "+bad, err, chat.ErrInvalidAttachment)
	}
}

func TestEditDelete(t *testing.T) {
	f := newTestService(t)
	ctx := context.Background()
	ann, bob, eve := f.newUser(t, "Ann"), f.newUser(t, "Bob"), f.newUser(t, "Eve")
	d := f.direct(t, ann, bob)
	f.send(t, ann, d, "m1", "first")
	f.send(t, bob, d, "m2", "second")
	bob.events.wait(t, "message", 2)

	_, err := f.svc.EditMessage(ctx, bob.p, d, 1, "not yours")
	wantErr(t, "editing another's message", err, chat.ErrNotFound)
	_, err = f.svc.EditMessage(ctx, eve.p, d, 1, "not yours")
	wantErr(t, "a non-member's edit", err, chat.ErrNotFound)
	_, err = f.svc.EditMessage(ctx, ann.p, d, 1, "  ")
	wantErr(t, "editing to blank", err, chat.ErrInvalidText)
	_, err = f.svc.EditMessage(ctx, ann.p, d, 9, "no such")
	wantErr(t, "editing a missing seq", err, chat.ErrNotFound)

	v, err := f.svc.EditMessage(ctx, ann.p, d, 1, " first, edited ")
	if err != nil {
		t.Fatal(err)
	}
	if v.Seq != 1 || v.Text != "first, edited" || v.EditedAt == nil || v.ClientID != "m1" {
		t.Errorf("edit answered %+v", v)
	}
	for _, u := range []*user{ann, bob} {
		evs := u.events.wait(t, "message", 3)
		if e := evs[2].Message; e.Seq != 1 || e.Text != "first, edited" || e.EditedAt == nil {
			t.Errorf("user %d: edit event %+v", u.id, e)
		}
	}

	_, err = f.svc.DeleteMessage(ctx, ann.p, d, 2)
	wantErr(t, "deleting another's message", err, chat.ErrNotFound)
	v, err = f.svc.DeleteMessage(ctx, ann.p, d, 1)
	if err != nil {
		t.Fatal(err)
	}
	if !v.Deleted || v.Text != "" || string(v.Attachments) != "[]" {
		t.Errorf("delete answered %+v", v)
	}
	evs := bob.events.wait(t, "message", 4)
	if e := evs[3].Message; e.Seq != 1 || !e.Deleted || e.Text != "" {
		t.Errorf("delete event %+v", e)
	}
	_, err = f.svc.EditMessage(ctx, ann.p, d, 1, "back from the dead")
	wantErr(t, "editing a deleted message", err, chat.ErrNotFound)

	hist, err := f.svc.History(ctx, bob.p, d, 0, 10)
	if err != nil || len(hist) != 2 || !hist[0].Deleted || hist[1].Text != "second" {
		t.Errorf("history after delete: %v %+v", err, hist)
	}
}

func TestReceipts(t *testing.T) {
	f := newTestService(t)
	ctx := context.Background()
	ann, bob, eve := f.newUser(t, "Ann"), f.newUser(t, "Bob"), f.newUser(t, "Eve")
	d := f.direct(t, ann, bob)
	for i := range 3 {
		f.send(t, ann, d, fmt.Sprintf("m%d", i), "hi")
	}
	dv, err := f.svc.Dialog(ctx, bob.p, d)
	if err != nil || dv.Unread != 3 {
		t.Errorf("bob's dialog: %v, unread %d, want 3", err, dv.Unread)
	}

	// Receipts from the WebSocket are queued, not awaited: watch the
	// status events both members get.
	status := func(u *user, n int) event {
		t.Helper()
		evs := u.events.wait(t, "status", n)
		e := evs[n-1]
		if e.DialogID != chat.FormatID(d) || e.UserID != chat.FormatID(bob.id) || e.Origin != 0 {
			t.Errorf("status event %+v", e)
		}
		return e
	}
	if err := f.svc.MarkDelivered(ctx, bob.p, d, 2); err != nil {
		t.Fatal(err)
	}
	if e := status(ann, 1); e.DeliveredSeq != 2 || e.ReadSeq != 0 {
		t.Errorf("after delivered 2: %d/%d", e.DeliveredSeq, e.ReadSeq)
	}
	if err := f.svc.MarkRead(ctx, bob.p, d, 1); err != nil {
		t.Fatal(err)
	}
	if e := status(ann, 2); e.DeliveredSeq != 2 || e.ReadSeq != 1 {
		t.Errorf("after read 1: %d/%d", e.DeliveredSeq, e.ReadSeq)
	}
	status(bob, 2) // the reader's other devices hear of it too

	hist, err := f.svc.History(ctx, ann.p, d, 0, 0)
	if err != nil || len(hist) != 3 || hist[0].Status != chat.StatusRead || hist[1].Status != chat.StatusDelivered || hist[2].Status != chat.StatusSent {
		t.Errorf("ann's statuses: %v %+v", err, hist)
	}

	// A read past the end is capped at the last seq.
	r, err := f.svc.Read(ctx, bob.p, d, 100)
	if err != nil || r.ReadSeq != 3 || r.DeliveredSeq != 3 || r.DialogID != chat.FormatID(d) {
		t.Errorf("read 100: %v %+v, want 3/3", err, r)
	}
	status(ann, 3)
	// Watermarks never go down, and an unchanged one publishes nothing.
	r, err = f.svc.Read(ctx, bob.p, d, 1)
	if err != nil || r.ReadSeq != 3 || r.DeliveredSeq != 3 {
		t.Errorf("read 1 after 3: %v %+v, want 3/3", err, r)
	}
	if err := f.svc.MarkDelivered(ctx, bob.p, d, 1); err != nil {
		t.Fatal(err)
	}
	// A later change is the next status event: nothing came in between.
	f.send(t, ann, d, "m3", "four")
	if _, err := f.svc.Read(ctx, bob.p, d, 4); err != nil {
		t.Fatal(err)
	}
	if e := status(ann, 4); e.ReadSeq != 4 {
		t.Errorf("status events after no-op receipts: %+v, want read 4 as the 4th", e)
	}
	dv, err = f.svc.Dialog(ctx, bob.p, d)
	if err != nil || dv.Unread != 0 || dv.LastMessage == nil || dv.LastMessage.Seq != 4 {
		t.Errorf("bob's dialog after reading: %v %+v", err, dv)
	}

	wantErr(t, "delivered 0", f.svc.MarkDelivered(ctx, bob.p, d, 0), chat.ErrInvalidSeq)
	wantErr(t, "read -1", f.svc.MarkRead(ctx, bob.p, d, -1), chat.ErrInvalidSeq)
	_, err = f.svc.Read(ctx, bob.p, d, 0)
	wantErr(t, "REST read 0", err, chat.ErrInvalidSeq)
	_, err = f.svc.Read(ctx, eve.p, d, 1)
	wantErr(t, "a non-member's read", err, chat.ErrNotFound)
	wantErr(t, "a non-member's receipt", f.svc.MarkRead(ctx, eve.p, d, 1), chat.ErrNotFound)
}

// syncAll runs a sync and collects what it streams.
func syncAll(f *fixture, p chat.Principal, req chat.SyncRequest) ([]chat.MessageView, chat.SyncResult, error) {
	var got []chat.MessageView
	res, err := f.svc.Sync(context.Background(), p, req, func(m chat.MessageView) error {
		got = append(got, m)
		return nil
	})
	return got, res, err
}

func bySeq(m map[int64]int64) chat.SyncRequest { return chat.SyncRequest{Seqs: m} }

func TestSync(t *testing.T) {
	f := newTestService(t)
	ann, bob, eve := f.newUser(t, "Ann"), f.newUser(t, "Bob"), f.newUser(t, "Eve")
	d1 := f.direct(t, ann, bob)
	d2 := f.direct(t, ann, eve)
	for i := range 3 {
		f.send(t, ann, d1, fmt.Sprintf("a%d", i), fmt.Sprintf("to bob %d", i+1))
	}
	f.send(t, ann, d2, "e0", "to eve")

	msgs, res, err := syncAll(f, bob.p, bySeq(map[int64]int64{d1: 1}))
	if err != nil {
		t.Fatal(err)
	}
	if len(msgs) != 2 || msgs[0].Seq != 2 || msgs[1].Seq != 3 || msgs[1].Text != "to bob 3" ||
		res.Synced[chat.FormatID(d1)] != 3 || res.More || len(res.Since) != 0 {
		t.Errorf("sync from 1: %+v %+v", msgs, res)
	}
	msgs, res, err = syncAll(f, bob.p, bySeq(map[int64]int64{d1: 3}))
	if err != nil || len(msgs) != 0 || res.Synced[chat.FormatID(d1)] != 3 {
		t.Errorf("sync when current: %v %+v %+v", err, msgs, res)
	}
	msgs, res, err = syncAll(f, ann.p, bySeq(map[int64]int64{d1: 0, d2: 0}))
	if err != nil || len(msgs) != 4 || res.Synced[chat.FormatID(d2)] != 1 {
		t.Errorf("sync of two dialogs: %v %+v %+v", err, msgs, res)
	}

	_, _, err = syncAll(f, bob.p, bySeq(map[int64]int64{d1: -1}))
	wantErr(t, "negative seq", err, chat.ErrInvalidSeq)
	_, _, err = syncAll(f, bob.p, chat.SyncRequest{Since: map[int64]int64{d1: -1}})
	wantErr(t, "negative cursor", err, chat.ErrInvalidSince)
	_, _, err = syncAll(f, bob.p, chat.SyncRequest{Seqs: map[int64]int64{d1: 0}, Since: map[int64]int64{d1: 0}})
	wantCode(t, "a dialog in both forms", err, "invalid_frame")
	// A dialog bob is not in fails the request before anything is sent.
	msgs, _, err = syncAll(f, bob.p, bySeq(map[int64]int64{d1: 0, d2: 0}))
	wantErr(t, "a dialog bob is not in", err, chat.ErrNotFound)
	if len(msgs) != 0 {
		t.Errorf("a refused sync sent %d messages", len(msgs))
	}
	many := map[int64]int64{}
	for i := range chat.MaxSyncDialogs + 1 {
		many[int64(i+1)] = 0
	}
	_, _, err = syncAll(f, bob.p, bySeq(many))
	wantErr(t, "too many dialogs", err, chat.ErrTooManyDialogs)
}

// TestSyncEditsAndDeletes is issue 10 item 3: a device holding seq 1 goes
// offline, the partner edits and deletes, and the device resumes with a
// change cursor: it hears of every change once, in its latest state, and
// the deleted message carries nothing of its content.
func TestSyncEditsAndDeletes(t *testing.T) {
	f := newTestService(t)
	ctx := context.Background()
	ann, bob := f.newUser(t, "Ann"), f.newUser(t, "Bob")
	d := f.direct(t, ann, bob)
	first := f.send(t, ann, d, "m1", "first")
	f.send(t, ann, d, "m2", "second")
	held := first.Change // bob's device holds seq 1 and goes away
	if held != 1 {
		t.Fatalf("first message: got change %d, want 1", held)
	}
	if _, err := f.svc.DeleteMessage(ctx, ann.p, d, 1); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.EditMessage(ctx, ann.p, d, 2, "second, edited"); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.EditMessage(ctx, ann.p, d, 2, "second, edited again"); err != nil {
		t.Fatal(err)
	}
	f.send(t, ann, d, "m3", "third")

	msgs, res, err := syncAll(f, bob.p, chat.SyncRequest{Since: map[int64]int64{d: held}})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, m := range msgs {
		got = append(got, fmt.Sprintf("%d@%d:%q deleted=%v", m.Seq, m.Change, m.Text, m.Deleted))
	}
	want := []string{`1@3:"" deleted=true`, `2@5:"second, edited again" deleted=false`, `3@6:"third" deleted=false`}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("sync since %d: got %v, want %v", held, got, want)
	}
	if res.Since[chat.FormatID(d)] != 6 || res.More || len(res.Synced) != 0 {
		t.Errorf("sync result %+v, want since 6", res)
	}
	if string(msgs[0].Attachments) != "[]" {
		t.Errorf("deleted message attachments %s", msgs[0].Attachments)
	}
	// From the answer's cursor there is nothing new; the seq form still
	// means what it always did.
	msgs, res, err = syncAll(f, bob.p, chat.SyncRequest{Since: map[int64]int64{d: res.Since[chat.FormatID(d)]}})
	if err != nil || len(msgs) != 0 || res.Since[chat.FormatID(d)] != 6 {
		t.Errorf("sync from the new cursor: %v %+v %+v", err, msgs, res)
	}
	msgs, _, err = syncAll(f, bob.p, bySeq(map[int64]int64{d: 2}))
	if err != nil || len(msgs) != 1 || msgs[0].Seq != 3 {
		t.Errorf("sync by seq from 2: %v %+v, want seq 3 only", err, msgs)
	}
	// A cursor past the end is answered with the end, so the device does
	// not skip what comes next.
	_, res, err = syncAll(f, bob.p, chat.SyncRequest{Since: map[int64]int64{d: 99}})
	if err != nil || res.Since[chat.FormatID(d)] != 6 {
		t.Errorf("sync from a cursor past the end: %v %+v, want since 6", err, res)
	}
	_, res, err = syncAll(f, bob.p, bySeq(map[int64]int64{d: 99}))
	if err != nil || res.Synced[chat.FormatID(d)] != 3 {
		t.Errorf("sync from a seq past the end: %v %+v, want synced 3", err, res)
	}
	// REST history gives the same with since.
	hist, err := f.svc.Changes(ctx, bob.p, d, held, 0)
	if err != nil || len(hist) != 3 || hist[0].Seq != 1 || !hist[0].Deleted || hist[2].Change != 6 {
		t.Errorf("Changes since %d: %v %+v", held, err, hist)
	}
	// The live events carry the change numbers too.
	evs := bob.events.wait(t, "message", 6)
	var changes []int64
	for _, e := range evs {
		changes = append(changes, e.Message.Change)
	}
	if fmt.Sprint(changes) != "[1 2 3 4 5 6]" {
		t.Errorf("live event changes %v, want 1..6", changes)
	}
}

// TestSyncMore checks that a backlog over one sync's cap sets More and
// that syncing again from the answer gets the rest, in both forms.
func TestSyncMore(t *testing.T) {
	f := newTestService(t)
	ctx := context.Background()
	ann, bob := f.newUser(t, "Ann"), f.newUser(t, "Bob")
	d := f.direct(t, ann, bob)
	const total = chat.MaxSyncMessages + 3
	var wg sync.WaitGroup
	for i := range total {
		wg.Go(func() {
			if _, _, err := f.svc.Send(ctx, ann.p, 1, chat.SendRequest{DialogID: d, ClientID: fmt.Sprintf("m%d", i), Text: "hi"}); err != nil {
				t.Errorf("send: %v", err)
			}
		})
	}
	wg.Wait()

	msgs, res, err := syncAll(f, bob.p, bySeq(map[int64]int64{d: 0}))
	if err != nil {
		t.Fatal(err)
	}
	if len(msgs) != chat.MaxSyncMessages || !res.More || res.Synced[chat.FormatID(d)] != chat.MaxSyncMessages {
		t.Fatalf("first round: %d messages, more %v, synced %v", len(msgs), res.More, res.Synced)
	}
	msgs, res, err = syncAll(f, bob.p, bySeq(map[int64]int64{d: res.Synced[chat.FormatID(d)]}))
	if err != nil || len(msgs) != 3 || res.More || res.Synced[chat.FormatID(d)] != total {
		t.Errorf("second round: %v, %d messages, more %v, synced %v", err, len(msgs), res.More, res.Synced)
	}
	msgs, res, err = syncAll(f, bob.p, chat.SyncRequest{Since: map[int64]int64{d: 0}})
	if err != nil || len(msgs) != chat.MaxSyncMessages || !res.More || res.Since[chat.FormatID(d)] != chat.MaxSyncMessages {
		t.Fatalf("first round by change: %v %d messages, more %v, since %v", err, len(msgs), res.More, res.Since)
	}
	msgs, res, err = syncAll(f, bob.p, chat.SyncRequest{Since: map[int64]int64{d: res.Since[chat.FormatID(d)]}})
	if err != nil || len(msgs) != 3 || res.More || res.Since[chat.FormatID(d)] != total {
		t.Errorf("second round by change: %v, %d messages, more %v, since %v", err, len(msgs), res.More, res.Since)
	}
	// An emit that fails (the connection went away) ends the sync.
	stop := errors.New("gone")
	n := 0
	_, err = f.svc.Sync(ctx, bob.p, bySeq(map[int64]int64{d: 0}), func(chat.MessageView) error {
		n++
		if n == 5 {
			return stop
		}
		return nil
	})
	if !errors.Is(err, stop) || n != 5 {
		t.Errorf("sync with a failing emit: got %v after %d messages, want the emit's error after 5", err, n)
	}
}

func TestHistory(t *testing.T) {
	f := newTestService(t)
	ctx := context.Background()
	ann, bob, eve := f.newUser(t, "Ann"), f.newUser(t, "Bob"), f.newUser(t, "Eve")
	d := f.direct(t, ann, bob)
	if h, err := f.svc.History(ctx, ann.p, d, 0, 10); err != nil || len(h) != 0 {
		t.Errorf("history of an empty dialog: %v %v", err, h)
	}
	for i := range 7 {
		f.send(t, ann, d, fmt.Sprintf("m%d", i), fmt.Sprintf("n%d", i+1))
	}
	seqs := func(vs []chat.MessageView) []int64 {
		var s []int64
		for _, v := range vs {
			s = append(s, v.Seq)
		}
		return s
	}
	var pages [][]int64
	before := int64(0)
	for {
		h, err := f.svc.History(ctx, bob.p, d, before, 3)
		if err != nil {
			t.Fatal(err)
		}
		if len(h) == 0 {
			break
		}
		pages = append(pages, seqs(h))
		before = h[0].Seq
	}
	if fmt.Sprint(pages) != "[[5 6 7] [2 3 4] [1]]" {
		t.Errorf("history pages %v, want [[5 6 7] [2 3 4] [1]]", pages)
	}
	h, err := f.svc.History(ctx, bob.p, d, 0, 0) // default page
	if err != nil || len(h) != 7 || h[6].Text != "n7" {
		t.Errorf("default page: %v %v", err, seqs(h))
	}
	_, err = f.svc.History(ctx, eve.p, d, 0, 10)
	wantErr(t, "a non-member's history", err, chat.ErrNotFound)
}

func TestDialogs(t *testing.T) {
	f := newTestService(t)
	ctx := context.Background()
	ann := f.newUser(t, "Ann")
	peers := []*user{f.newUser(t, "Bob"), f.newUser(t, "Cid"), f.newUser(t, "Dan")}
	var ids []int64
	for _, p := range peers {
		ids = append(ids, f.direct(t, ann, p))
	}
	v0, err := f.svc.DialogsVersion(ctx, ann.p)
	if err != nil {
		t.Fatal(err)
	}
	dv0, err := f.svc.DialogVersion(ctx, ann.p, ids[0])
	if err != nil {
		t.Fatal(err)
	}
	// A message moves the oldest dialog to the top.
	f.send(t, peers[0], ids[0], "m", "hello Ann")
	if v1, err := f.svc.DialogsVersion(ctx, ann.p); err != nil || v1 == v0 {
		t.Errorf("dialogs version after a message: %v, unchanged %v", err, v1 == v0)
	}
	if dv1, err := f.svc.DialogVersion(ctx, ann.p, ids[0]); err != nil || dv1 == dv0 {
		t.Errorf("dialog version after a message: %v, unchanged %v", err, dv1 == dv0)
	}

	var got []chat.DialogView
	cursor, pages := "", 0
	for {
		page, err := f.svc.Dialogs(ctx, ann.p, cursor, 2)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, page.Dialogs...)
		pages++
		if page.NextCursor == "" {
			break
		}
		if pages > 3 {
			t.Fatal("dialog paging does not end")
		}
		cursor = page.NextCursor
	}
	if pages != 2 || len(got) != 3 {
		t.Fatalf("%d pages of %d dialogs, want 2 of 3", pages, len(got))
	}
	want := []int64{ids[0], ids[2], ids[1]} // by last change, newest first
	for i, v := range got {
		if parseID(t, v.ID) != want[i] {
			t.Fatalf("dialog order %v, want %v", got, want)
		}
	}
	first := got[0]
	// Through JSON, as shells see it.
	raw, _ := json.Marshal(first)
	var wire struct {
		Kind        string `json:"kind"`
		Title       string `json:"title"`
		Unread      int64  `json:"unread"`
		LastMessage *struct {
			Text string `json:"text"`
		} `json:"last_message"`
		Members []struct {
			ID    string `json:"id"`
			Phone string `json:"phone"`
		} `json:"members"`
	}
	if err := json.Unmarshal(raw, &wire); err != nil {
		t.Fatal(err)
	}
	if wire.Kind != "direct" || wire.Title != "Bob" || wire.Unread != 1 || wire.LastMessage == nil || wire.LastMessage.Text != "hello Ann" || len(wire.Members) != 2 {
		t.Errorf("top dialog %s", raw)
	}
	for _, m := range wire.Members {
		if m.ID != chat.FormatID(ann.id) && m.Phone != "" {
			t.Errorf("dialog list shows a partner's phone: %s", raw)
		}
	}
	if got[1].LastMessage != nil {
		t.Errorf("a dialog without messages has last message %+v", got[1].LastMessage)
	}

	// Bob sees the same dialog titled by Ann.
	bobs, err := f.svc.Dialogs(ctx, peers[0].p, "", 0)
	if err != nil || len(bobs.Dialogs) != 1 || bobs.Dialogs[0].Title != "Ann" || bobs.Dialogs[0].Unread != 0 || bobs.NextCursor != "" {
		t.Errorf("bob's dialogs: %v %+v", err, bobs)
	}
	one, err := f.svc.Dialog(ctx, ann.p, ids[0])
	if err != nil || one.ID != first.ID || one.Title != "Bob" || one.LastMessage == nil || one.LastMessage.Seq != 1 {
		t.Errorf("one dialog: %v %+v", err, one)
	}

	for _, c := range []string{"garbage!", "bm90IGEgY3Vyc29y", "MTI6LTE"} {
		_, err = f.svc.Dialogs(ctx, ann.p, c, 2)
		wantErr(t, "cursor "+c, err, chat.ErrInvalidCursor)
	}
	_, err = f.svc.Dialog(ctx, peers[1].p, ids[0])
	wantErr(t, "a non-member's dialog", err, chat.ErrNotFound)
	_, err = f.svc.DialogVersion(ctx, peers[1].p, ids[0])
	wantErr(t, "a non-member's dialog version", err, chat.ErrNotFound)
}

func TestOpenDirect(t *testing.T) {
	f := newTestService(t)
	ctx := context.Background()
	ann, bob := f.newUser(t, "Ann"), f.newUser(t, "Bob")

	v, created, err := f.svc.OpenDirect(ctx, ann.p, bob.id, "")
	if err != nil || !created {
		t.Fatalf("first open: %v, created %v", err, created)
	}
	if v.Title != "Bob" || string(v.Kind) != "direct" || v.LastMessage != nil || v.Unread != 0 {
		t.Errorf("first open answered %+v", v)
	}
	again, created, err := f.svc.OpenDirect(ctx, bob.p, ann.id, "")
	if err != nil || created || again.ID != v.ID || again.Title != "Ann" {
		t.Errorf("open from the other side: %v, created %v, %+v; want the same dialog titled Ann", err, created, again)
	}
	about, created, err := f.svc.OpenDirect(ctx, ann.p, bob.id, " listing:42 ")
	if err != nil || !created || about.ID == v.ID || about.Subject != "listing:42" {
		t.Errorf("open about a subject: %v, created %v, %+v; want a new dialog", err, created, about)
	}

	// Each creation tells both members, titled for them.
	for _, c := range []struct {
		u     *user
		title string
	}{{ann, "Bob"}, {bob, "Ann"}} {
		evs := c.u.events.wait(t, "dialog", 2)
		if len(evs) != 2 || evs[0].Dialog.ID != v.ID || evs[0].Dialog.Title != c.title || evs[0].Dialog.Kind != "direct" || evs[1].Dialog.ID != about.ID {
			t.Errorf("user %d dialog events %+v", c.u.id, evs)
		}
	}

	_, _, err = f.svc.OpenDirect(ctx, ann.p, ann.id, "")
	wantErr(t, "a dialog with oneself", err, chat.ErrSelfDialog)
	_, _, err = f.svc.OpenDirect(ctx, ann.p, bob.id+1, "")
	wantErr(t, "a dialog with nobody", err, chat.ErrNotFound)
	_, _, err = f.svc.OpenDirect(ctx, ann.p, bob.id, "bad\x07subject")
	wantErr(t, "a control character in the subject", err, chat.ErrInvalidSubject)
	_, _, err = f.svc.OpenDirect(ctx, ann.p, bob.id, strings.Repeat("s", chat.MaxSubjectLen+1))
	wantErr(t, "a long subject", err, chat.ErrInvalidSubject)
}

func TestTyping(t *testing.T) {
	f := newTestService(t)
	ctx := context.Background()
	ann, bob, eve := f.newUser(t, "Ann"), f.newUser(t, "Bob"), f.newUser(t, "Eve")
	d := f.direct(t, ann, bob)

	if err := f.svc.Typing(ctx, ann.p, d); err != nil {
		t.Fatal(err)
	}
	evs := bob.events.wait(t, "typing", 1)
	if evs[0].DialogID != chat.FormatID(d) || evs[0].UserID != chat.FormatID(ann.id) {
		t.Errorf("typing event %+v", evs[0])
	}
	// Repeats within the interval are dropped; the first after it is not.
	// Publishing a typing event is synchronous on the memory broker.
	if err := f.svc.Typing(ctx, ann.p, d); err != nil {
		t.Fatal(err)
	}
	if n := len(bob.events.of(t, "typing")); n != 1 {
		t.Errorf("%d typing events after a repeat, want 1", n)
	}
	f.clock.Advance(5 * time.Second)
	if err := f.svc.Typing(ctx, ann.p, d); err != nil {
		t.Fatal(err)
	}
	if n := len(bob.events.of(t, "typing")); n != 2 {
		t.Errorf("%d typing events after the interval, want 2", n)
	}
	if n := len(ann.events.of(t, "typing")); n != 0 {
		t.Errorf("the typist got %d typing events of their own", n)
	}
	wantErr(t, "a non-member typing", f.svc.Typing(ctx, eve.p, d), chat.ErrNotFound)
}

func TestPresence(t *testing.T) {
	f := newTestService(t)
	ctx := context.Background()
	ann, bob, eve := f.newUser(t, "Ann"), f.newUser(t, "Bob"), f.newUser(t, "Eve")
	// Partners who have written to each other share presence (the default
	// setting, "everybody").
	d := f.direct(t, ann, bob)
	f.send(t, ann, d, "hi", "hi")
	f.send(t, bob, d, "hello", "hello")

	// Presence events are published before Connected/Disconnected return.
	f.svc.Connected(ctx, bob.id)
	evs := ann.events.of(t, "presence")
	if len(evs) != 1 || evs[0].UserID != chat.FormatID(bob.id) || evs[0].Online == nil || !*evs[0].Online || evs[0].LastSeen != nil {
		t.Fatalf("presence events after connect: %+v", evs)
	}
	if n := len(eve.events.of(t, "presence")); n != 0 {
		t.Errorf("a stranger got %d presence events", n)
	}
	prof, err := f.svc.User(ctx, ann.p, bob.id)
	if err != nil || prof.Online == nil || !*prof.Online || prof.Phone != "" {
		t.Errorf("bob as ann sees him online: %v %+v", err, prof)
	}
	prof, err = f.svc.User(ctx, eve.p, bob.id)
	if err != nil || prof.Online != nil || prof.Phone != "" || prof.FirstName != "Bob" {
		t.Errorf("bob as a stranger sees him: %v %+v", err, prof)
	}

	// A second connection (another node) changes nothing; the last one
	// going away does.
	f.svc.Connected(ctx, bob.id)
	f.svc.Disconnected(ctx, bob.id)
	if n := len(ann.events.of(t, "presence")); n != 1 {
		t.Errorf("%d presence events while bob still has a connection, want 1", n)
	}
	f.svc.Disconnected(ctx, bob.id)
	evs = ann.events.of(t, "presence")
	if len(evs) != 2 || evs[1].Online == nil || *evs[1].Online || evs[1].LastSeen == nil {
		t.Fatalf("presence events after the last disconnect: %+v", evs)
	}
	prof, err = f.svc.User(ctx, ann.p, bob.id)
	if err != nil || prof.Online == nil || *prof.Online || prof.LastSeen == nil || !prof.LastSeen.Equal(*evs[1].LastSeen) {
		t.Errorf("bob as ann sees him offline: %v %+v", err, prof)
	}
	// A disconnect without a connect announces nothing.
	f.svc.Disconnected(ctx, bob.id)
	if n := len(ann.events.of(t, "presence")); n != 2 {
		t.Errorf("%d presence events after a spurious disconnect, want 2", n)
	}
}

// A partner without a name is called by their number, formatted, by
// whoever has it in their address book, and by nothing (the screens say
// "Unknown") by whoever has not.
func TestNamelessPartnerTitle(t *testing.T) {
	f, stop := newTestServiceWith(t, nil)
	defer stop()
	ctx := context.Background()
	anna := f.newUser(t, "Анна")
	nameless := f.newUser(t, "")
	stranger := f.newUser(t, "Борис")
	d1 := f.direct(t, anna, nameless)
	d2 := f.direct(t, stranger, nameless)
	if _, err := f.svc.SyncContacts(ctx, anna.p, []string{nameless.phone}); err != nil {
		t.Fatal(err)
	}
	v, err := f.svc.Dialog(ctx, anna.p, d1)
	if err != nil {
		t.Fatal(err)
	}
	if want := chat.FormatPhone(nameless.phone); v.Title != want || !strings.HasPrefix(want, "+7 999 ") {
		t.Errorf("Анна sees the nameless partner as %q, want %q", v.Title, want)
	}
	v, err = f.svc.Dialog(ctx, stranger.p, d2)
	if err != nil {
		t.Fatal(err)
	}
	if v.Title != "" {
		t.Errorf("Борис, who lacks the number, sees %q, want no title", v.Title)
	}
	page, err := f.svc.Dialogs(ctx, anna.p, "", 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Dialogs) != 1 || page.Dialogs[0].Title != chat.FormatPhone(nameless.phone) {
		t.Errorf("Анна's list %+v, want the formatted number as the title", page.Dialogs)
	}
}
