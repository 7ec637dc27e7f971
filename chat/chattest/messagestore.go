package chattest

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/korobka/korobka/chat"
)

// MessageStoreUnderTest is what TestMessageStore needs of an
// implementation: the dialog and message aggregates in a chat.Store, so
// that the suite can create users and address books in the same database.
type MessageStoreUnderTest interface {
	chat.Store
}

// TestMessageStore checks that a chat.MessageStore keeps the promises of
// the delivery semantics: direct dialogs got or created once per pair and
// subject, dialog lists in a stable order that pages without gaps, seqs
// 1, 2, 3 per dialog even under concurrent commits, (sender, client_id)
// de-duplication against the database and within a batch, watermarks that
// only rise, stay capped and keep read <= delivered, and the edit, delete,
// user and presence lookups.
//
// open returns an empty store for one subtest and closes it in t.Cleanup.
// open2, when not nil, returns two handles on one empty database, as two
// nodes would hold; Commit/Concurrent then commits through both. A store
// with a single writer (SQLite) passes nil and that subtest runs its
// goroutines through one handle.
func TestMessageStore(t *testing.T, open func(t *testing.T) MessageStoreUnderTest,
	open2 func(t *testing.T) (MessageStoreUnderTest, MessageStoreUnderTest)) {
	t.Helper()
	for _, tc := range []struct {
		name string
		fn   func(t *testing.T, s MessageStoreUnderTest)
	}{
		{"Direct/GetOrCreate", testDirectDialog},
		{"Direct/Concurrent", testDirectDialogConcurrent},
		{"Direct/NotFound", testDialogNotFound},
		{"Dialogs/Order", testDialogsOrder},
		{"Dialogs/Paging", testDialogsPaging},
		{"Commit/Seqs", testCommitSeqs},
		{"Commit/DedupeStored", testCommitDedupeStored},
		{"Commit/DedupeInBatch", testCommitDedupeInBatch},
		{"Commit/SenderWatermarks", testCommitSenderWatermarks},
		{"Commit/Receipts", testCommitReceipts},
		{"Commit/ReceiptsInBatch", testCommitReceiptsInBatch},
		{"Commit/Empty", testCommitEmpty},
		{"Messages/Paging", testMessagesPaging},
		{"Messages/EditDelete", testEditDelete},
		{"Uploads/Claim", testUploadClaim},
		{"Uploads/DeleteMessageReleases", testDeleteMessageReleasesUploads},
		{"Uploads/Expire", testUploadExpire},
		{"Users", testUsers},
		{"Presence/Consent", testPresenceConsent},
		{"Presence/Watchers", testWatchersMany},
		{"TouchLastSeen", testTouchLastSeen},
		{"Versions", testVersions},
		{"MembersOf", testMembersOf},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.fn(t, open(t))
		})
	}
	t.Run("Commit/Concurrent", func(t *testing.T) {
		t.Parallel()
		if open2 == nil {
			t.Log("single-writer store: 8 goroutines share one handle")
			s := open(t)
			testCommitConcurrent(t, []MessageStoreUnderTest{s})
			return
		}
		a, b := open2(t)
		testCommitConcurrent(t, []MessageStoreUnderTest{a, b})
	})
}

// ---- helpers ----

// users creates n users with distinct phones.
func users(t *testing.T, s chat.Store, n int) []chat.User {
	t.Helper()
	out := make([]chat.User, n)
	for i := range out {
		out[i] = newUser(t, s, fmt.Sprintf("+7999555%04d", i))
	}
	return out
}

func direct(t *testing.T, s chat.DialogStore, a, b int64, subject string, now time.Time) chat.Dialog {
	t.Helper()
	d, _, err := s.DirectDialog(ctxT(t), a, b, subject, now)
	noErr(t, "DirectDialog", err)
	return d
}

func appendOf(dialog, sender int64, clientID, text string, at time.Time) chat.Append {
	return chat.Append{Msg: chat.Message{DialogID: dialog, SenderID: sender, ClientID: clientID, Text: text, CreatedAt: at}}
}

func commit(t *testing.T, s chat.MessageStore, b *chat.Batch) {
	t.Helper()
	noErr(t, "Commit", s.Commit(ctxT(t), b))
}

// send commits n messages from sender into dialog, one batch, and returns
// them as stored.
func send(t *testing.T, s chat.MessageStore, dialog, sender int64, n int, at time.Time) []chat.Message {
	t.Helper()
	b := &chat.Batch{}
	for i := range n {
		b.Appends = append(b.Appends, appendOf(dialog, sender, fmt.Sprintf("%d-%d-%d", dialog, sender, at.UnixNano()+int64(i)),
			fmt.Sprintf("text %d", i), at))
	}
	commit(t, s, b)
	out := make([]chat.Message, n)
	for i, a := range b.Appends {
		out[i] = a.Msg
	}
	return out
}

func member(t *testing.T, s chat.DialogStore, dialog, user int64) chat.Member {
	t.Helper()
	ms, err := s.Members(ctxT(t), dialog)
	noErr(t, "Members", err)
	for _, m := range ms {
		if m.UserID == user {
			return m
		}
	}
	t.Fatalf("Members of %d: got no user %d", dialog, user)
	return chat.Member{}
}

func checkMarks(t *testing.T, what string, m chat.Member, delivered, read int64) {
	t.Helper()
	if m.DeliveredSeq != delivered || m.ReadSeq != read {
		t.Errorf("%s: got delivered %d read %d, want %d %d", what, m.DeliveredSeq, m.ReadSeq, delivered, read)
	}
}

func seqsOf(msgs []chat.Message) []int64 {
	out := make([]int64, len(msgs))
	for i, m := range msgs {
		out[i] = m.Seq
	}
	return out
}

func seqRange(from, to int64) []int64 {
	out := []int64{}
	for i := from; i <= to; i++ {
		out = append(out, i)
	}
	return out
}

func checkMessage(t *testing.T, what string, got, want chat.Message) {
	t.Helper()
	if got.DialogID != want.DialogID || got.Seq != want.Seq || got.SenderID != want.SenderID ||
		got.ClientID != want.ClientID || got.Text != want.Text {
		t.Errorf("%s: got %+v, want %+v", what, got, want)
	}
	if !sameJSON(got.Attachments, want.Attachments) {
		t.Errorf("%s attachments: got %s, want %s", what, got.Attachments, want.Attachments)
	}
	checkTime(t, what+" CreatedAt", got.CreatedAt, want.CreatedAt)
	checkTime(t, what+" EditedAt", got.EditedAt, want.EditedAt)
	checkTime(t, what+" DeletedAt", got.DeletedAt, want.DeletedAt)
}

// sameJSON compares JSON by value: MySQL normalises JSON whitespace.
func sameJSON(a, b json.RawMessage) bool {
	if len(a) == 0 || len(b) == 0 {
		return len(a) == len(b)
	}
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return false
	}
	return reflect.DeepEqual(x, y)
}

func dialogIDs(entries []chat.DialogEntry) []int64 {
	out := make([]int64, len(entries))
	for i, e := range entries {
		out[i] = e.Dialog.ID
	}
	return out
}

// ---- dialogs ----

func testDirectDialog(t *testing.T, s MessageStoreUnderTest) {
	ctx := ctxT(t)
	u := users(t, s, 2)
	a, b := u[0].ID, u[1].ID
	d, created, err := s.DirectDialog(ctx, a, b, "", t0)
	noErr(t, "DirectDialog", err)
	if !created {
		t.Errorf("first DirectDialog: got created false, want true")
	}
	if d.ID <= 0 || d.Kind != chat.DialogDirect || d.CreatedBy != a || d.LastSeq != 0 || d.Subject != "" {
		t.Errorf("dialog: got %+v, want a new direct dialog created by %d", d, a)
	}
	checkTime(t, "CreatedAt", d.CreatedAt, t0)
	checkTime(t, "LastMessageAt", d.LastMessageAt, time.Time{})

	again, created, err := s.DirectDialog(ctx, b, a, "", t0.Add(time.Hour))
	noErr(t, "DirectDialog reversed", err)
	if created || again.ID != d.ID {
		t.Errorf("DirectDialog(b, a): got id %d created %v, want id %d created false", again.ID, created, d.ID)
	}
	checkTime(t, "CreatedAt after get", again.CreatedAt, t0)

	sub, created, err := s.DirectDialog(ctx, b, a, "listing:42", t0)
	noErr(t, "DirectDialog with subject", err)
	if !created || sub.ID == d.ID || sub.Subject != "listing:42" || sub.CreatedBy != b {
		t.Errorf("DirectDialog with subject: got %+v created %v, want a new dialog about listing:42 by %d", sub, created, b)
	}
	sub2, created, err := s.DirectDialog(ctx, a, b, "listing:42", t0)
	noErr(t, "DirectDialog with subject again", err)
	if created || sub2.ID != sub.ID {
		t.Errorf("DirectDialog with subject again: got id %d created %v, want id %d created false", sub2.ID, created, sub.ID)
	}

	got, err := s.Dialog(ctx, d.ID)
	noErr(t, "Dialog", err)
	if got != d {
		t.Errorf("Dialog: got %+v, want %+v", got, d)
	}
	ms, err := s.Members(ctx, d.ID)
	noErr(t, "Members", err)
	if len(ms) != 2 {
		t.Fatalf("Members: got %d, want 2", len(ms))
	}
	gotIDs := []int64{ms[0].UserID, ms[1].UserID}
	slices.Sort(gotIDs)
	if want := []int64{min(a, b), max(a, b)}; !slices.Equal(gotIDs, want) {
		t.Errorf("member ids: got %v, want %v", gotIDs, want)
	}
	for _, m := range ms {
		if m.DialogID != d.ID || m.DeliveredSeq != 0 || m.ReadSeq != 0 {
			t.Errorf("member: got %+v, want dialog %d with zero watermarks", m, d.ID)
		}
		checkTime(t, "JoinedAt", m.JoinedAt, t0)
	}
}

func testDirectDialogConcurrent(t *testing.T, s MessageStoreUnderTest) {
	u := users(t, s, 2)
	const n = 8
	var wg sync.WaitGroup
	ids := make([]int64, n)
	created := make([]bool, n)
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			a, b := u[0].ID, u[1].ID
			if i%2 == 1 {
				a, b = b, a
			}
			var d chat.Dialog
			d, created[i], errs[i] = s.DirectDialog(ctxT(t), a, b, "", t0)
			ids[i] = d.ID
		})
	}
	wg.Wait()
	nCreated := 0
	for i := range n {
		noErr(t, "concurrent DirectDialog", errs[i])
		if ids[i] != ids[0] {
			t.Errorf("DirectDialog %d: got id %d, want %d", i, ids[i], ids[0])
		}
		if created[i] {
			nCreated++
		}
	}
	if nCreated != 1 {
		t.Errorf("created: got %d, want 1", nCreated)
	}
}

func testDialogNotFound(t *testing.T, s MessageStoreUnderTest) {
	ctx := ctxT(t)
	u := users(t, s, 1)
	_, err := s.Dialog(ctx, 987654321)
	wantErrIs(t, "Dialog of an unknown id", err, chat.ErrNotFound)
	_, err = s.Members(ctx, 987654321)
	wantErrIs(t, "Members of an unknown dialog", err, chat.ErrNotFound)
	_, _, err = s.DirectDialog(ctx, u[0].ID, 987654321, "", t0)
	wantErrIs(t, "DirectDialog with an unknown user", err, chat.ErrNotFound)
	err = s.Commit(ctx, &chat.Batch{Appends: []chat.Append{appendOf(987654321, u[0].ID, "c", "x", t0)}})
	wantErrIs(t, "Commit into an unknown dialog", err, chat.ErrNotFound)
}

func testDialogsOrder(t *testing.T, s MessageStoreUnderTest) {
	ctx := ctxT(t)
	u := users(t, s, 4)
	a := u[0].ID
	d1 := direct(t, s, a, u[1].ID, "", t0)
	d2 := direct(t, s, a, u[2].ID, "", t0.Add(time.Second))
	d3 := direct(t, s, u[3].ID, a, "", t0.Add(2*time.Second))
	direct(t, s, u[1].ID, u[2].ID, "", t0.Add(3*time.Second)) // not a's
	msgs := send(t, s, d1.ID, u[1].ID, 3, t0.Add(10*time.Second))

	got, err := s.Dialogs(ctx, a, chat.DialogCursor{}, 10)
	noErr(t, "Dialogs", err)
	if want := []int64{d1.ID, d3.ID, d2.ID}; !slices.Equal(dialogIDs(got), want) {
		t.Fatalf("Dialogs order: got %v, want %v", dialogIDs(got), want)
	}
	e := got[0]
	if e.Dialog.LastSeq != 3 || e.Self.UserID != a || e.Self.DialogID != d1.ID {
		t.Errorf("entry: got dialog %+v self %+v, want last seq 3 and a's membership", e.Dialog, e.Self)
	}
	checkTime(t, "UpdatedAt", e.Dialog.UpdatedAt(), t0.Add(10*time.Second))
	if unread := e.Dialog.LastSeq - e.Self.ReadSeq; unread != 3 {
		t.Errorf("unread of the receiver: got %d, want 3", unread)
	}
	if e.LastMessage == nil {
		t.Fatalf("LastMessage: got nil, want seq 3")
	}
	checkMessage(t, "LastMessage", *e.LastMessage, msgs[2])
	if got[1].LastMessage != nil {
		t.Errorf("LastMessage of an empty dialog: got %+v, want nil", got[1].LastMessage)
	}
	checkTime(t, "UpdatedAt of an empty dialog", got[1].Dialog.UpdatedAt(), t0.Add(2*time.Second))

	// The sender's own messages count as read.
	got, err = s.Dialogs(ctx, u[1].ID, chat.DialogCursor{}, 10)
	noErr(t, "Dialogs of the sender", err)
	if len(got) != 2 || got[0].Dialog.ID != d1.ID {
		t.Fatalf("sender's Dialogs: got %v, want %d first of 2", dialogIDs(got), d1.ID)
	}
	if unread := got[0].Dialog.LastSeq - got[0].Self.ReadSeq; unread != 0 {
		t.Errorf("unread of the sender: got %d, want 0", unread)
	}
	got, err = s.Dialogs(ctx, a, chat.DialogCursor{}, 0)
	noErr(t, "Dialogs limit 0", err)
	if len(got) != 0 {
		t.Errorf("Dialogs limit 0: got %d, want 0", len(got))
	}
}

func testDialogsPaging(t *testing.T, s MessageStoreUnderTest) {
	ctx := ctxT(t)
	u := users(t, s, 12)
	me := u[0].ID
	for i, p := range u[1:] {
		// Pairs share a time, so the id breaks the tie.
		d := direct(t, s, me, p.ID, "", t0.Add(time.Duration(i/2)*time.Second))
		if i%5 == 0 {
			send(t, s, d.ID, p.ID, 1, t0.Add(time.Minute))
		}
	}
	all, err := s.Dialogs(ctx, me, chat.DialogCursor{}, 100)
	noErr(t, "Dialogs", err)
	if len(all) != 11 {
		t.Fatalf("Dialogs: got %d, want 11", len(all))
	}
	for i := 1; i < len(all); i++ {
		p, q := all[i-1].Dialog, all[i].Dialog
		if p.UpdatedAt().Before(q.UpdatedAt()) || (p.UpdatedAt().Equal(q.UpdatedAt()) && p.ID < q.ID) {
			t.Errorf("Dialogs order at %d: (%v, %d) before (%v, %d)", i, p.UpdatedAt(), p.ID, q.UpdatedAt(), q.ID)
		}
	}
	var paged []chat.DialogEntry
	cur := chat.DialogCursor{}
	for range 10 {
		page, err := s.Dialogs(ctx, me, cur, 3)
		noErr(t, "Dialogs page", err)
		if len(page) == 0 {
			break
		}
		paged = append(paged, page...)
		last := page[len(page)-1].Dialog
		cur = chat.DialogCursor{UpdatedAt: last.UpdatedAt(), ID: last.ID}
	}
	if !slices.Equal(dialogIDs(paged), dialogIDs(all)) {
		t.Errorf("paged Dialogs: got %v, want %v", dialogIDs(paged), dialogIDs(all))
	}
}

// ---- commit ----

func testCommitSeqs(t *testing.T, s MessageStoreUnderTest) {
	ctx := ctxT(t)
	u := users(t, s, 3)
	d1 := direct(t, s, u[0].ID, u[1].ID, "", t0)
	d2 := direct(t, s, u[0].ID, u[2].ID, "", t0)
	att := json.RawMessage(`[{"kind": "image", "key": "a/1"}]`)
	b := &chat.Batch{}
	for i := range 10 {
		d := d1.ID
		if i%3 == 2 {
			d = d2.ID
		}
		a := appendOf(d, u[0].ID, fmt.Sprintf("c%d", i), fmt.Sprintf("text %d ✓", i), t0.Add(time.Duration(i)*time.Millisecond))
		if i == 4 {
			a.Msg.Attachments = att
		}
		b.Appends = append(b.Appends, a)
	}
	commit(t, s, b)
	next := map[int64]int64{d1.ID: 1, d2.ID: 1}
	for i, a := range b.Appends {
		if a.Dup {
			t.Errorf("append %d: got Dup, want a new message", i)
		}
		if a.Msg.Seq != next[a.Msg.DialogID] {
			t.Errorf("append %d seq: got %d, want %d", i, a.Msg.Seq, next[a.Msg.DialogID])
		}
		next[a.Msg.DialogID]++
	}
	more := send(t, s, d1.ID, u[1].ID, 5, t0.Add(time.Hour))
	if want := seqRange(8, 12); !slices.Equal(seqsOf(more), want) {
		t.Errorf("second batch seqs: got %v, want %v", seqsOf(more), want)
	}
	d, err := s.Dialog(ctx, d1.ID)
	noErr(t, "Dialog", err)
	if d.LastSeq != 12 {
		t.Errorf("LastSeq: got %d, want 12", d.LastSeq)
	}
	checkTime(t, "LastMessageAt", d.LastMessageAt, t0.Add(time.Hour))
	stored, err := s.Messages(ctx, d1.ID, 0, 100)
	noErr(t, "Messages", err)
	if want := seqRange(1, 12); !slices.Equal(seqsOf(stored), want) {
		t.Fatalf("stored seqs: got %v, want %v", seqsOf(stored), want)
	}
	byClient := map[string]chat.Message{}
	for _, m := range stored {
		byClient[m.ClientID] = m
	}
	for _, a := range b.Appends {
		if a.Msg.DialogID == d1.ID {
			checkMessage(t, "stored "+a.Msg.ClientID, byClient[a.Msg.ClientID], a.Msg)
		}
	}
	if !sameJSON(byClient["c4"].Attachments, att) {
		t.Errorf("attachments: got %s, want %s", byClient["c4"].Attachments, att)
	}
	if byClient["c0"].Attachments != nil {
		t.Errorf("no attachments: got %s, want nil", byClient["c0"].Attachments)
	}
}

func testCommitDedupeStored(t *testing.T, s MessageStoreUnderTest) {
	ctx := ctxT(t)
	u := users(t, s, 2)
	d := direct(t, s, u[0].ID, u[1].ID, "", t0)
	first := &chat.Batch{Appends: []chat.Append{appendOf(d.ID, u[0].ID, "retry-me", "hello", t0)}}
	commit(t, s, first)
	send(t, s, d.ID, u[1].ID, 2, t0.Add(time.Second))

	// Days later the same send comes again, beside a new one.
	later := t0.Add(72 * time.Hour)
	b := &chat.Batch{Appends: []chat.Append{
		appendOf(d.ID, u[0].ID, "retry-me", "hello, edited by the client", later),
		appendOf(d.ID, u[1].ID, "retry-me", "same client_id, other sender", later),
	}}
	commit(t, s, b)
	if !b.Appends[0].Dup {
		t.Errorf("retried send: got Dup false, want true")
	}
	checkMessage(t, "retried send", b.Appends[0].Msg, first.Appends[0].Msg)
	if b.Appends[1].Dup || b.Appends[1].Msg.Seq != 4 {
		t.Errorf("other sender's client_id: got seq %d dup %v, want seq 4 dup false", b.Appends[1].Msg.Seq, b.Appends[1].Dup)
	}
	got, err := s.Dialog(ctx, d.ID)
	noErr(t, "Dialog", err)
	if got.LastSeq != 4 {
		t.Errorf("LastSeq: got %d, want 4", got.LastSeq)
	}
	checkTime(t, "LastMessageAt", got.LastMessageAt, later)
}

func testCommitDedupeInBatch(t *testing.T, s MessageStoreUnderTest) {
	ctx := ctxT(t)
	u := users(t, s, 2)
	d := direct(t, s, u[0].ID, u[1].ID, "", t0)
	b := &chat.Batch{Appends: []chat.Append{
		appendOf(d.ID, u[0].ID, "x", "first", t0),
		appendOf(d.ID, u[0].ID, "y", "second", t0),
		appendOf(d.ID, u[0].ID, "x", "first again", t0.Add(time.Second)),
		appendOf(d.ID, u[0].ID, "y", "second again", t0.Add(time.Second)),
	}}
	commit(t, s, b)
	for i, want := range []struct {
		seq  int64
		dup  bool
		text string
	}{{1, false, "first"}, {2, false, "second"}, {1, true, "first"}, {2, true, "second"}} {
		a := b.Appends[i]
		if a.Msg.Seq != want.seq || a.Dup != want.dup || a.Msg.Text != want.text {
			t.Errorf("append %d: got seq %d dup %v text %q, want %d %v %q", i, a.Msg.Seq, a.Dup, a.Msg.Text, want.seq, want.dup, want.text)
		}
	}
	checkTime(t, "repeat's CreatedAt", b.Appends[2].Msg.CreatedAt, t0)
	got, err := s.Dialog(ctx, d.ID)
	noErr(t, "Dialog", err)
	if got.LastSeq != 2 {
		t.Errorf("LastSeq: got %d, want 2", got.LastSeq)
	}
}

func testCommitSenderWatermarks(t *testing.T, s MessageStoreUnderTest) {
	u := users(t, s, 2)
	a, b := u[0].ID, u[1].ID
	d := direct(t, s, a, b, "", t0)
	send(t, s, d.ID, a, 3, t0)
	checkMarks(t, "sender after 3", member(t, s, d.ID, a), 3, 3)
	checkMarks(t, "receiver after 3", member(t, s, d.ID, b), 0, 0)
	send(t, s, d.ID, b, 1, t0.Add(time.Second))
	checkMarks(t, "first sender after a reply", member(t, s, d.ID, a), 3, 3)
	checkMarks(t, "replier", member(t, s, d.ID, b), 4, 4)
}

func testCommitReceipts(t *testing.T, s MessageStoreUnderTest) {
	u := users(t, s, 3)
	a, b := u[0].ID, u[1].ID
	d := direct(t, s, a, b, "", t0)
	send(t, s, d.ID, a, 5, t0)
	for _, tc := range []struct {
		name            string
		delivered, read int64
		wantD, wantR    int64
		changed         bool
	}{
		{"deliver 3", 3, 0, 3, 0, true},
		{"deliver 2 does not lower", 2, 0, 3, 0, false},
		{"deliver 3 again", 3, 0, 3, 0, false},
		{"read 2 keeps delivered", 0, 2, 3, 2, true},
		{"read 4 raises delivered", 0, 4, 4, 4, true},
		{"read 1 does not lower", 1, 1, 4, 4, false},
		{"read 10 is capped at last seq", 0, 10, 5, 5, true},
		{"deliver 99 is capped", 99, 0, 5, 5, false},
		{"negative is nothing", -1, -1, 5, 5, false},
	} {
		b := &chat.Batch{Receipts: []chat.Receipt{{DialogID: d.ID, UserID: u[1].ID, Delivered: tc.delivered, Read: tc.read}}}
		commit(t, s, b)
		r := b.Receipts[0]
		checkMarks(t, tc.name+": Result", r.Result, tc.wantD, tc.wantR)
		if r.Result.DialogID != d.ID || r.Result.UserID != u[1].ID {
			t.Errorf("%s: got Result %+v, want dialog %d user %d", tc.name, r.Result, d.ID, u[1].ID)
		}
		if r.Changed != tc.changed {
			t.Errorf("%s: got Changed %v, want %v", tc.name, r.Changed, tc.changed)
		}
		checkMarks(t, tc.name+": stored", member(t, s, d.ID, u[1].ID), tc.wantD, tc.wantR)
	}
	// A receipt from someone who is not a member changes nothing.
	b2 := &chat.Batch{Receipts: []chat.Receipt{{DialogID: d.ID, UserID: u[2].ID, Delivered: 3, Read: 3}}}
	commit(t, s, b2)
	if r := b2.Receipts[0]; r.Changed || r.Result.DeliveredSeq != 0 || r.Result.ReadSeq != 0 {
		t.Errorf("non-member receipt: got %+v, want no change", r)
	}
	if ms, err := s.Members(ctxT(t), d.ID); err != nil || len(ms) != 2 {
		t.Errorf("Members after a non-member receipt: got %d, %v; want 2, nil", len(ms), err)
	}
}

func testCommitReceiptsInBatch(t *testing.T, s MessageStoreUnderTest) {
	u := users(t, s, 3)
	a, b := u[0].ID, u[1].ID
	d := direct(t, s, a, b, "", t0)
	other := direct(t, s, a, u[2].ID, "", t0)
	send(t, s, d.ID, a, 3, t0)
	send(t, s, other.ID, a, 2, t0)
	// The cap is the last seq after the batch's own appends; several
	// receipts for one member coalesce.
	batch := &chat.Batch{
		Appends: []chat.Append{
			appendOf(d.ID, a, "n1", "new", t0.Add(time.Second)),
			appendOf(d.ID, a, "n2", "new", t0.Add(time.Second)),
		},
		Receipts: []chat.Receipt{
			{DialogID: d.ID, UserID: b, Delivered: 5},
			{DialogID: other.ID, UserID: u[2].ID, Read: 1},
			{DialogID: d.ID, UserID: b, Read: 4},
			{DialogID: d.ID, UserID: b, Delivered: 9},
		},
	}
	commit(t, s, batch)
	for _, i := range []int{0, 2, 3} {
		r := batch.Receipts[i]
		checkMarks(t, fmt.Sprintf("receipt %d", i), r.Result, 5, 4)
		if !r.Changed {
			t.Errorf("receipt %d: got Changed false, want true", i)
		}
	}
	checkMarks(t, "stored b", member(t, s, d.ID, b), 5, 4)
	checkMarks(t, "stored a", member(t, s, d.ID, a), 5, 5)
	checkMarks(t, "other dialog's receipt", batch.Receipts[1].Result, 1, 1)
	checkMarks(t, "other dialog's stored", member(t, s, other.ID, u[2].ID), 1, 1)
}

func testCommitEmpty(t *testing.T, s MessageStoreUnderTest) {
	noErr(t, "Commit of an empty batch", s.Commit(ctxT(t), &chat.Batch{}))
}

// testCommitConcurrent commits from 8 goroutines per handle into two
// dialogs at once, each batch into one of them. Every batch also carries
// client_ids that the other goroutines send too, from the same sender, so
// batches into different dialogs (which lock different rows) race on the
// same (sender, client_id).
func testCommitConcurrent(t *testing.T, stores []MessageStoreUnderTest) {
	s := stores[0]
	u := users(t, s, 2)
	a, b := u[0].ID, u[1].ID
	d1 := direct(t, s, a, b, "", t0)
	d2 := direct(t, s, a, b, "other", t0)
	const (
		workers = 8
		batches = 10
		perB    = 20
		shared  = 4 // contested client_ids per batch
	)
	type result struct {
		msgs []chat.Message
		err  error
	}
	results := make([]result, workers*len(stores))
	var wg sync.WaitGroup
	for h, st := range stores {
		for w := range workers {
			g := h*workers + w
			wg.Go(func() {
				res := &results[g]
				for i := range batches {
					bt := &chat.Batch{}
					d := []int64{d1.ID, d2.ID}[(g+i)%2]
					for j := range perB {
						sender := []int64{a, b}[j%2]
						bt.Appends = append(bt.Appends, appendOf(d, sender, fmt.Sprintf("g%d-%d-%d", g, i, j), "x", t0))
						if j == perB/2 {
							for k := range shared {
								bt.Appends = append(bt.Appends, appendOf(d, a, fmt.Sprintf("shared-%d-%d", i, k), "x", t0))
							}
						}
					}
					bt.Receipts = []chat.Receipt{{DialogID: d, UserID: b, Read: int64(i * perB)}}
					if err := st.Commit(ctxT(t), bt); err != nil {
						res.err = err
						return
					}
					for _, ap := range bt.Appends {
						res.msgs = append(res.msgs, ap.Msg)
					}
				}
			})
		}
	}
	wg.Wait()
	byClient := map[string]chat.Message{}
	for _, r := range results {
		noErr(t, "concurrent Commit", r.err)
		for _, m := range r.msgs {
			if old, ok := byClient[m.ClientID]; ok && (old.DialogID != m.DialogID || old.Seq != m.Seq) {
				t.Errorf("client_id %s: got (%d, %d) and (%d, %d), want one message",
					m.ClientID, old.DialogID, old.Seq, m.DialogID, m.Seq)
			}
			byClient[m.ClientID] = m
		}
	}
	total := 0
	for _, d := range []int64{d1.ID, d2.ID} {
		stored, err := stores[len(stores)-1].MessagesAfter(ctxT(t), d, 0, 100000)
		noErr(t, "MessagesAfter", err)
		if want := seqRange(1, int64(len(stored))); !slices.Equal(seqsOf(stored), want) {
			t.Errorf("dialog %d seqs: got %v, want 1..%d with no gap or repeat", d, seqsOf(stored), len(stored))
		}
		dl, err := s.Dialog(ctxT(t), d)
		noErr(t, "Dialog", err)
		if dl.LastSeq != int64(len(stored)) {
			t.Errorf("dialog %d LastSeq: got %d, want %d", d, dl.LastSeq, len(stored))
		}
		for _, m := range stored {
			if want, ok := byClient[m.ClientID]; !ok || want.DialogID != d || want.Seq != m.Seq {
				t.Errorf("stored %s at (%d, %d): got %+v acknowledged, want the same place", m.ClientID, d, m.Seq, want)
			}
		}
		total += len(stored)
	}
	if want := len(stores)*workers*batches*perB + batches*shared; total != want || len(byClient) != want {
		t.Errorf("messages: got %d stored and %d acknowledged client_ids, want %d of each", total, len(byClient), want)
	}
}

// ---- messages ----

func testMessagesPaging(t *testing.T, s MessageStoreUnderTest) {
	ctx := ctxT(t)
	u := users(t, s, 2)
	d := direct(t, s, u[0].ID, u[1].ID, "", t0)
	send(t, s, d.ID, u[0].ID, 25, t0)
	for _, tc := range []struct {
		before int64
		limit  int
		want   []int64
	}{
		{0, 10, seqRange(16, 25)},
		{16, 10, seqRange(6, 15)},
		{6, 10, seqRange(1, 5)},
		{1, 10, []int64{}},
		{-1, 3, seqRange(23, 25)},
		{100, 2, seqRange(24, 25)},
		{10, 0, []int64{}},
	} {
		got, err := s.Messages(ctx, d.ID, tc.before, tc.limit)
		noErr(t, "Messages", err)
		if !slices.Equal(seqsOf(got), tc.want) {
			t.Errorf("Messages(before %d, limit %d): got %v, want %v", tc.before, tc.limit, seqsOf(got), tc.want)
		}
	}
	for _, tc := range []struct {
		after int64
		limit int
		want  []int64
	}{
		{0, 3, seqRange(1, 3)},
		{20, 10, seqRange(21, 25)},
		{25, 10, []int64{}},
		{5, 0, []int64{}},
	} {
		got, err := s.MessagesAfter(ctx, d.ID, tc.after, tc.limit)
		noErr(t, "MessagesAfter", err)
		if !slices.Equal(seqsOf(got), tc.want) {
			t.Errorf("MessagesAfter(after %d, limit %d): got %v, want %v", tc.after, tc.limit, seqsOf(got), tc.want)
		}
	}
	other := direct(t, s, u[0].ID, u[1].ID, "empty", t0)
	got, err := s.Messages(ctx, other.ID, 0, 10)
	noErr(t, "Messages of an empty dialog", err)
	if len(got) != 0 {
		t.Errorf("Messages of an empty dialog: got %d, want 0", len(got))
	}
}

func testEditDelete(t *testing.T, s MessageStoreUnderTest) {
	ctx := ctxT(t)
	u := users(t, s, 2)
	a, b := u[0].ID, u[1].ID
	d := direct(t, s, a, b, "", t0)
	bt := &chat.Batch{Appends: []chat.Append{appendOf(d.ID, a, "m1", "hello", t0), appendOf(d.ID, a, "m2", "photo", t0)}}
	bt.Appends[1].Msg.Attachments = json.RawMessage(`[{"kind":"image"}]`)
	commit(t, s, bt)
	m1, m2 := bt.Appends[0].Msg, bt.Appends[1].Msg

	t1 := t0.Add(time.Minute)
	edited, err := s.EditMessage(ctx, d.ID, m1.Seq, a, "hello there", t1)
	noErr(t, "EditMessage", err)
	want := m1
	want.Text, want.EditedAt = "hello there", t1
	checkMessage(t, "edited", edited, want)
	stored, err := s.Messages(ctx, d.ID, 0, 10)
	noErr(t, "Messages", err)
	checkMessage(t, "stored after edit", stored[0], want)

	_, err = s.EditMessage(ctx, d.ID, m1.Seq, b, "not mine", t1)
	wantErrIs(t, "EditMessage of another's message", err, chat.ErrNotFound)
	_, err = s.EditMessage(ctx, d.ID, 99, a, "missing", t1)
	wantErrIs(t, "EditMessage of a missing message", err, chat.ErrNotFound)
	_, err = s.DeleteMessage(ctx, d.ID, m2.Seq, b, t1)
	wantErrIs(t, "DeleteMessage of another's message", err, chat.ErrNotFound)
	_, err = s.DeleteMessage(ctx, d.ID, 99, a, t1)
	wantErrIs(t, "DeleteMessage of a missing message", err, chat.ErrNotFound)

	t2 := t0.Add(2 * time.Minute)
	deleted, err := s.DeleteMessage(ctx, d.ID, m2.Seq, a, t2)
	noErr(t, "DeleteMessage", err)
	want = m2
	want.Text, want.DeletedAt = "", t2
	// The answer carries the attachments the delete removed, for their
	// files; the row and later answers have none.
	checkMessage(t, "deleted", deleted, want)
	want.Attachments = nil
	again, err := s.DeleteMessage(ctx, d.ID, m2.Seq, a, t2.Add(time.Minute))
	noErr(t, "DeleteMessage twice", err)
	checkMessage(t, "deleted twice", again, want)
	_, err = s.EditMessage(ctx, d.ID, m2.Seq, a, "revived", t2)
	wantErrIs(t, "EditMessage of a deleted message", err, chat.ErrNotFound)

	stored, err = s.Messages(ctx, d.ID, 0, 10)
	noErr(t, "Messages", err)
	if len(stored) != 2 {
		t.Fatalf("Messages after delete: got %d, want 2 (a deleted message keeps its seq)", len(stored))
	}
	checkMessage(t, "stored after delete", stored[1], want)
}

// ---- users and presence ----

func testUsers(t *testing.T, s MessageStoreUnderTest) {
	ctx := ctxT(t)
	u := users(t, s, 3)
	got, err := s.Users(ctx, []int64{u[2].ID, 987654321, u[0].ID, u[2].ID})
	noErr(t, "Users", err)
	if want := idsOf(u[0], u[2]); !slices.Equal(sortedIDs(got), want) {
		t.Errorf("Users: got %v, want %v", sortedIDs(got), want)
	}
	for _, g := range got {
		if g.ID == u[0].ID {
			checkUser(t, g, u[0])
		}
	}
	got, err = s.Users(ctx, nil)
	noErr(t, "Users of none", err)
	if len(got) != 0 {
		t.Errorf("Users of none: got %d, want 0", len(got))
	}
	many := make([]int64, 1200)
	for i := range many {
		many[i] = int64(i + 1)
	}
	many[700] = u[1].ID
	got, err = s.Users(ctx, many)
	noErr(t, "Users of 1200 ids", err)
	if want := idsOf(u[1]); !slices.Equal(sortedIDs(got), want) {
		t.Errorf("Users of 1200 ids: got %v, want %v", sortedIDs(got), want)
	}
}

func testTouchLastSeen(t *testing.T, s MessageStoreUnderTest) {
	ctx := ctxT(t)
	u := users(t, s, 1)
	for _, at := range []time.Time{t0.Add(time.Hour), t0.Add(2 * time.Hour)} {
		noErr(t, "TouchLastSeen", s.TouchLastSeen(ctx, u[0].ID, at))
		got, err := s.User(ctx, u[0].ID)
		noErr(t, "User", err)
		checkTime(t, "LastSeenAt", got.LastSeenAt, at)
	}
}

// testVersions checks that the change tokens move with every change a
// screen shows and stay put otherwise.
func testVersions(t *testing.T, s MessageStoreUnderTest) {
	ctx := ctxT(t)
	us := users(t, s, 3)
	a, b, c := us[0].ID, us[1].ID, us[2].ID
	d := direct(t, s, a, b, "", t0)
	dv := func() string {
		t.Helper()
		v, err := s.DialogVersion(ctx, d.ID)
		noErr(t, "DialogVersion", err)
		return v
	}
	lv := func(user int64) string {
		t.Helper()
		v, err := s.DialogsVersion(ctx, user)
		noErr(t, "DialogsVersion", err)
		return v
	}
	changes := func(what string, before, after string) {
		t.Helper()
		if before == after {
			t.Fatalf("%s: version stayed %s", what, before)
		}
	}
	v0, l0 := dv(), lv(a)
	if again := dv(); again != v0 {
		t.Fatalf("version moved without a change: %s then %s", v0, again)
	}
	msgs := send(t, s, d.ID, a, 2, t0.Add(time.Second))
	v1, l1 := dv(), lv(a)
	changes("a message", v0, v1)
	changes("the list after a message", l0, l1)

	commit(t, s, &chat.Batch{Receipts: []chat.Receipt{{DialogID: d.ID, UserID: b, Delivered: 2, Read: 2}}})
	v2 := dv()
	changes("a read receipt", v1, v2)
	commit(t, s, &chat.Batch{Receipts: []chat.Receipt{{DialogID: d.ID, UserID: b, Delivered: 1, Read: 1}}})
	if v := dv(); v != v2 {
		t.Fatalf("a receipt that moved nothing changed the version: %s then %s", v2, v)
	}

	_, err := s.EditMessage(ctx, d.ID, msgs[0].Seq, a, "edited", t0.Add(2*time.Second))
	noErr(t, "EditMessage", err)
	v3 := dv()
	changes("an edit", v2, v3)
	_, err = s.DeleteMessage(ctx, d.ID, msgs[1].Seq, a, t0.Add(3*time.Second))
	noErr(t, "DeleteMessage", err)
	v4 := dv()
	changes("a delete", v3, v4)

	name := "Вера"
	_, err = s.UpdateProfile(ctx, b, chat.ProfileUpdate{FirstName: &name})
	noErr(t, "UpdateProfile", err)
	v5, l5 := dv(), lv(a)
	changes("a member's new name", v4, v5)
	changes("the list after a member's new name", l1, l5)

	direct(t, s, a, c, "", t0.Add(4*time.Second))
	changes("the list after a new dialog", l5, lv(a))

	_, err = s.DialogVersion(ctx, d.ID+1000)
	wantErrIs(t, "DialogVersion of no dialog", err, chat.ErrNotFound)
}

func testMembersOf(t *testing.T, s MessageStoreUnderTest) {
	us := users(t, s, 3)
	d1 := direct(t, s, us[0].ID, us[1].ID, "", t0)
	d2 := direct(t, s, us[0].ID, us[2].ID, "", t0)
	got, err := s.MembersOf(ctxT(t), []int64{d1.ID, d2.ID, d2.ID + 1000})
	noErr(t, "MembersOf", err)
	want := map[[2]int64]bool{{d1.ID, us[0].ID}: true, {d1.ID, us[1].ID}: true, {d2.ID, us[0].ID}: true, {d2.ID, us[2].ID}: true}
	if len(got) != len(want) {
		t.Fatalf("got %d members, want %d: %+v", len(got), len(want), got)
	}
	for _, m := range got {
		if !want[[2]int64{m.DialogID, m.UserID}] {
			t.Fatalf("unexpected member %+v", m)
		}
	}
	none, err := s.MembersOf(ctxT(t), nil)
	noErr(t, "MembersOf(nil)", err)
	if len(none) != 0 {
		t.Fatalf("MembersOf(nil) = %+v, want none", none)
	}
}

// ---- uploads and their messages ----

func newUpload(t *testing.T, s chat.Store, owner int64, at time.Time) chat.Upload {
	t.Helper()
	u := chat.Upload{ID: chat.NewID(), OwnerID: owner, Kind: chat.UploadFile, Key: "uploads/" + chat.FormatID(chat.NewID()),
		Name: "a.txt", Size: 1, Mime: "text/plain; charset=utf-8", CreatedAt: at}
	noErr(t, "CreateUpload", s.CreateUpload(ctxT(t), u))
	u.State = chat.UploadUnattached
	return u
}

func uploadState(t *testing.T, s chat.Store, id int64) chat.UploadState {
	t.Helper()
	u, err := s.Upload(ctxT(t), id)
	if errors.Is(err, chat.ErrNotFound) {
		return "gone"
	}
	noErr(t, "Upload", err)
	return u.State
}

// attachmentsListing is a message's attachments JSON listing uploads by id,
// as the Service stores them.
func attachmentsListing(ups ...chat.Upload) json.RawMessage {
	list := make([]map[string]any, len(ups))
	for i, u := range ups {
		list[i] = map[string]any{"id": chat.FormatID(u.ID), "kind": u.Kind, "key": u.Key, "name": u.Name, "size": u.Size, "mime": u.Mime}
	}
	b, _ := json.Marshal(list)
	return b
}

// testUploadClaim: an upload is claimed for one message; the same message
// claims it again (a retry), another message does not get it, another
// owner does not see it, and concurrent claims by two messages give it to
// exactly one.
func testUploadClaim(t *testing.T, s MessageStoreUnderTest) {
	ctx := ctxT(t)
	u := users(t, s, 2)
	a, b := u[0].ID, u[1].ID
	d := direct(t, s, a, b, "", t0)
	up := newUpload(t, s, a, t0)

	_, _, err := s.ClaimUpload(ctx, up.ID, b, d.ID, "m1", t0)
	wantErrIs(t, "ClaimUpload by another owner", err, chat.ErrNotFound)
	_, _, err = s.ClaimUpload(ctx, chat.NewID(), a, d.ID, "m1", t0)
	wantErrIs(t, "ClaimUpload of a missing upload", err, chat.ErrNotFound)

	t1 := t0.Add(time.Second)
	got, ok, err := s.ClaimUpload(ctx, up.ID, a, d.ID, "m1", t1)
	noErr(t, "ClaimUpload", err)
	if !ok || got.State != chat.UploadAttaching || got.DialogID != d.ID || got.ClientID != "m1" || !got.AttachedAt.Equal(t1) {
		t.Errorf("claim: got %+v, %v; want attaching for (%d, m1) at %v", got, ok, d.ID, t1)
	}
	stored, err := s.Upload(ctx, up.ID)
	noErr(t, "Upload", err)
	if stored.State != chat.UploadAttaching || stored.DialogID != d.ID || stored.ClientID != "m1" || !stored.AttachedAt.Equal(t1) {
		t.Errorf("stored claim: got %+v", stored)
	}
	if _, ok, err := s.ClaimUpload(ctx, up.ID, a, d.ID, "m1", t1.Add(time.Second)); err != nil || !ok {
		t.Errorf("the same message claiming again: %v, %v; want ok", ok, err)
	}
	if got, ok, err := s.ClaimUpload(ctx, up.ID, a, d.ID, "m2", t1); err != nil || ok || got.ClientID != "m1" {
		t.Errorf("another message claiming: %+v, %v, %v; want refused, still m1's", got, ok, err)
	}

	// Two messages race for a fresh upload: one wins.
	race := newUpload(t, s, a, t0)
	var wg sync.WaitGroup
	wins := make([]bool, 8)
	for i := range wins {
		wg.Go(func() {
			_, ok, err := s.ClaimUpload(ctx, race.ID, a, d.ID, fmt.Sprintf("r%d", i), t1)
			if err != nil {
				t.Errorf("racing claim %d: %v", i, err)
			}
			wins[i] = ok
		})
	}
	wg.Wait()
	if n := len(slices.DeleteFunc(wins, func(w bool) bool { return !w })); n != 1 {
		t.Errorf("%d racing claims won, want 1", n)
	}
}

// testDeleteMessageReleasesUploads: deleting a message moves the uploads it
// claimed, and only those, to deleted in the same call; DeletedUploads and
// PurgeUploads then see and remove exactly those rows.
func testDeleteMessageReleasesUploads(t *testing.T, s MessageStoreUnderTest) {
	ctx := ctxT(t)
	u := users(t, s, 2)
	a, b := u[0].ID, u[1].ID
	d := direct(t, s, a, b, "", t0)
	mine, other, loose := newUpload(t, s, a, t0), newUpload(t, s, a, t0), newUpload(t, s, a, t0)
	for _, c := range []struct {
		up     chat.Upload
		client string
	}{{mine, "m1"}, {other, "m2"}} {
		if _, ok, err := s.ClaimUpload(ctx, c.up.ID, a, d.ID, c.client, t0); err != nil || !ok {
			t.Fatalf("claim: %v %v", ok, err)
		}
	}
	bt := &chat.Batch{Appends: []chat.Append{appendOf(d.ID, a, "m1", "", t0), appendOf(d.ID, a, "m2", "", t0)}}
	bt.Appends[0].Msg.Attachments = attachmentsListing(mine)
	bt.Appends[1].Msg.Attachments = attachmentsListing(other)
	commit(t, s, bt)

	del, err := s.DeleteMessage(ctx, d.ID, bt.Appends[0].Msg.Seq, a, t0.Add(time.Minute))
	noErr(t, "DeleteMessage", err)
	if !sameJSON(del.Attachments, bt.Appends[0].Msg.Attachments) {
		t.Errorf("DeleteMessage answered attachments %s, want %s", del.Attachments, bt.Appends[0].Msg.Attachments)
	}
	for _, c := range []struct {
		up   chat.Upload
		want chat.UploadState
	}{{mine, chat.UploadDeleted}, {other, chat.UploadAttaching}, {loose, chat.UploadUnattached}} {
		if got := uploadState(t, s, c.up.ID); got != c.want {
			t.Errorf("upload %s after the delete: %s, want %s", c.up.Key, got, c.want)
		}
	}
	if _, ok, _ := s.ClaimUpload(ctx, mine.ID, a, d.ID, "m1", t0); ok {
		t.Error("a deleted upload was claimed again")
	}

	got, err := s.DeletedUploads(ctx, []int64{mine.ID, other.ID, loose.ID}, 10)
	noErr(t, "DeletedUploads", err)
	if len(got) != 1 || got[0].ID != mine.ID || got[0].Key != mine.Key {
		t.Errorf("DeletedUploads: got %+v, want only %s", got, mine.Key)
	}
	if got, _ := s.DeletedUploads(ctx, []int64{other.ID}, 10); len(got) != 0 {
		t.Errorf("DeletedUploads among others: got %+v, want none", got)
	}
	if got, _ := s.DeletedUploads(ctx, nil, 10); len(got) != 1 {
		t.Errorf("DeletedUploads of any: got %+v, want 1", got)
	}
	noErr(t, "PurgeUploads", s.PurgeUploads(ctx, []int64{mine.ID, other.ID, loose.ID}))
	for _, c := range []struct {
		up   chat.Upload
		want chat.UploadState
	}{{mine, "gone"}, {other, chat.UploadAttaching}, {loose, chat.UploadUnattached}} {
		if got := uploadState(t, s, c.up.ID); got != c.want {
			t.Errorf("upload %s after the purge: %s, want %s", c.up.Key, got, c.want)
		}
	}
}

// testUploadExpire: past the cutoff, unattached uploads and claims whose
// message never came, was deleted or does not list them are deleted; a
// claim whose message lists it becomes attached; younger ones wait; and
// the count says when to call again.
func testUploadExpire(t *testing.T, s MessageStoreUnderTest) {
	ctx := ctxT(t)
	u := users(t, s, 2)
	a, b := u[0].ID, u[1].ID
	d := direct(t, s, a, b, "", t0)
	cutoff := t0.Add(time.Hour)
	old, young := t0, cutoff.Add(time.Minute)

	looseOld, looseYoung := newUpload(t, s, a, old), newUpload(t, s, a, young)
	listed, lost, unlisted, ofDeleted, claimedYoung := newUpload(t, s, a, old), newUpload(t, s, a, old),
		newUpload(t, s, a, old), newUpload(t, s, a, old), newUpload(t, s, a, old)
	claim := func(up chat.Upload, client string, at time.Time) {
		t.Helper()
		if _, ok, err := s.ClaimUpload(ctx, up.ID, a, d.ID, client, at); err != nil || !ok {
			t.Fatalf("claim %s: %v %v", client, ok, err)
		}
	}
	claim(listed, "listed", old)
	claim(lost, "lost", old)            // its message never came
	claim(unlisted, "retried", old)     // its message lists another upload
	claim(ofDeleted, "deleted", old)    // its message is deleted below
	claim(claimedYoung, "young", young) // claimed after the cutoff
	bt := &chat.Batch{Appends: []chat.Append{
		appendOf(d.ID, a, "listed", "", old), appendOf(d.ID, a, "retried", "", old), appendOf(d.ID, a, "deleted", "", old),
	}}
	bt.Appends[0].Msg.Attachments = attachmentsListing(listed)
	bt.Appends[1].Msg.Attachments = attachmentsListing(looseYoung)
	bt.Appends[2].Msg.Attachments = attachmentsListing(ofDeleted)
	commit(t, s, bt)
	// A claim left on a deleted message, as after a crash: the delete
	// released the upload the message lists, not this later claim.
	if _, err := s.DeleteMessage(ctx, d.ID, bt.Appends[2].Msg.Seq, a, old); err != nil {
		t.Fatal(err)
	}
	fresh := newUpload(t, s, a, old)
	claim(fresh, "deleted", old)

	n, err := s.ExpireUploads(ctx, cutoff, 100)
	noErr(t, "ExpireUploads", err)
	if n >= 100 {
		t.Errorf("ExpireUploads looked at %d, want fewer than its limit", n)
	}
	for _, c := range []struct {
		name string
		up   chat.Upload
		want chat.UploadState
	}{
		{"unattached, old", looseOld, chat.UploadDeleted},
		{"unattached, young", looseYoung, chat.UploadUnattached},
		{"claimed, listed", listed, chat.UploadAttached},
		{"claimed, message never came", lost, chat.UploadDeleted},
		{"claimed, message lists another", unlisted, chat.UploadDeleted},
		{"claimed, message deleted", fresh, chat.UploadDeleted},
		{"claimed after the cutoff", claimedYoung, chat.UploadAttaching},
	} {
		if got := uploadState(t, s, c.up.ID); got != c.want {
			t.Errorf("%s: %s, want %s", c.name, got, c.want)
		}
	}

	// The limit bounds each call; the caller repeats while it is reached.
	for range 3 {
		newUpload(t, s, a, old)
	}
	if n, err := s.ExpireUploads(ctx, cutoff, 2); err != nil || n != 2 {
		t.Errorf("ExpireUploads with limit 2: %d, %v; want 2", n, err)
	}
	if n, err := s.ExpireUploads(ctx, cutoff, 2); err != nil || n != 1 {
		t.Errorf("ExpireUploads again: %d, %v; want the 1 left", n, err)
	}
}
