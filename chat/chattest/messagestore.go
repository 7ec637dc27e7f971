package chattest

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
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
// 1, 2, 3 per dialog even under concurrent commits, (dialog, sender,
// client_id) de-duplication against the database and within a batch with
// the payload digest kept, watermarks that only rise, stay capped and keep
// read <= delivered, a change order per dialog that finds every new, edited
// and deleted message once, unread counts that leave deleted messages out
// and stay exact under concurrent sends, reads and deletes, and the edit,
// delete, user and presence lookups.
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
		{"Commit/ClientIDScopedToDialog", testCommitClientIDScope},
		{"Commit/SenderWatermarks", testCommitSenderWatermarks},
		{"Commit/Receipts", testCommitReceipts},
		{"Commit/ReceiptsInBatch", testCommitReceiptsInBatch},
		{"Commit/Empty", testCommitEmpty},
		{"Messages/Paging", testMessagesPaging},
		{"Messages/EditDelete", testEditDelete},
		{"Uploads/Claim", testUploadClaim},
		{"Uploads/DeleteMessageReleases", testDeleteMessageReleasesUploads},
		{"Uploads/Expire", testUploadExpire},
		{"Changes/EditsAndDeletes", testChangesEditsAndDeletes},
		{"Changes/EveryCursor", testChangesEveryCursor},
		{"Resume/MatchesSingleReads", testResumeMatchesSingles},
		{"Unread/DeletedMessages", testUnreadDeletedMessages},
		{"Unread/PartialReads", testUnreadPartialReads},
		{"UserDialogs", testUserDialogs},
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
	t.Run("Unread/Concurrent", func(t *testing.T) {
		t.Parallel()
		if open2 == nil {
			testUnreadConcurrent(t, []MessageStoreUnderTest{open(t)})
			return
		}
		a, b := open2(t)
		testUnreadConcurrent(t, []MessageStoreUnderTest{a, b})
	})
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
	return chat.Append{Msg: chat.Message{DialogID: dialog, SenderID: sender, ClientID: clientID, Text: text, CreatedAt: at,
		Digest: chat.PayloadDigest(text, nil)}}
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
// client_ids that the other goroutines send too, from the same sender:
// batches into one dialog race on the same (dialog, sender, client_id),
// and the same ids in the other dialog are other messages.
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
	key := func(m chat.Message) string { return fmt.Sprint(m.DialogID, "/", m.ClientID) }
	for _, r := range results {
		noErr(t, "concurrent Commit", r.err)
		for _, m := range r.msgs {
			if old, ok := byClient[key(m)]; ok && (old.DialogID != m.DialogID || old.Seq != m.Seq) {
				t.Errorf("client_id %s: got (%d, %d) and (%d, %d), want one message",
					m.ClientID, old.DialogID, old.Seq, m.DialogID, m.Seq)
			}
			byClient[key(m)] = m
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
			if want, ok := byClient[key(m)]; !ok || want.DialogID != d || want.Seq != m.Seq {
				t.Errorf("stored %s at (%d, %d): got %+v acknowledged, want the same place", m.ClientID, d, m.Seq, want)
			}
		}
		total += len(stored)
	}
	// Both dialogs get a batch of every index, so each gets the contested
	// ids once.
	if want := len(stores)*workers*batches*perB + 2*batches*shared; total != want || len(byClient) != want {
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

// testCommitClientIDScope: idempotency is scoped to (dialog, sender,
// client_id). A client that numbers its ids per chat sends "k1" in two
// dialogs and gets two messages; the payload digest comes back with a
// repeat, so the caller can tell a retry from a different message.
func testCommitClientIDScope(t *testing.T, s MessageStoreUnderTest) {
	ctx := ctxT(t)
	u := users(t, s, 3)
	a := u[0].ID
	d1 := direct(t, s, a, u[1].ID, "", t0)
	d2 := direct(t, s, a, u[2].ID, "", t0)
	first := &chat.Batch{Appends: []chat.Append{appendOf(d1.ID, a, "k1", "to one", t0)}}
	commit(t, s, first)
	b := &chat.Batch{Appends: []chat.Append{
		appendOf(d2.ID, a, "k1", "to two", t0.Add(time.Second)),
		appendOf(d1.ID, a, "k1", "to one, other text", t0.Add(time.Second)),
		appendOf(d2.ID, a, "k2", "two again", t0.Add(time.Second)),
		appendOf(d2.ID, a, "k2", "two again, repeated in the batch", t0.Add(time.Second)),
	}}
	commit(t, s, b)
	if ap := b.Appends[0]; ap.Dup || ap.Msg.DialogID != d2.ID || ap.Msg.Seq != 1 || ap.Msg.Text != "to two" {
		t.Errorf("k1 in another dialog: got %+v dup %v, want a new message, seq 1 of dialog %d", ap.Msg, ap.Dup, d2.ID)
	}
	if ap := b.Appends[1]; !ap.Dup || ap.Msg.Text != "to one" || !bytes.Equal(ap.Msg.Digest, chat.PayloadDigest("to one", nil)) {
		t.Errorf("k1 again in its dialog: got %+v dup %v, want the stored message with its digest", ap.Msg, ap.Dup)
	} else if ap.Msg.SamePayload(chat.PayloadDigest("to one, other text", nil)) || !ap.Msg.SamePayload(chat.PayloadDigest("to one", nil)) {
		t.Errorf("SamePayload: a different text matched or the same did not")
	}
	if ap := b.Appends[3]; !ap.Dup || ap.Msg.Seq != 2 || ap.Msg.Text != "two again" ||
		!bytes.Equal(ap.Msg.Digest, chat.PayloadDigest("two again", nil)) {
		t.Errorf("repeat within the batch: got %+v dup %v, want seq 2 as first sent", ap.Msg, ap.Dup)
	}
	for _, d := range []int64{d1.ID, d2.ID} {
		stored, err := s.Messages(ctx, d, 0, 10)
		noErr(t, "Messages", err)
		if want := map[int64]int{d1.ID: 1, d2.ID: 2}[d]; len(stored) != want {
			t.Errorf("dialog %d: got %d messages, want %d", d, len(stored), want)
		}
	}
}

// testChangesEditsAndDeletes: every new message, edit and delete takes the
// dialog's next change number; Changes from a cursor finds each changed
// message once, as it is now, in change order; a deleted message keeps
// nothing of its content.
func testChangesEditsAndDeletes(t *testing.T, s MessageStoreUnderTest) {
	ctx := ctxT(t)
	u := users(t, s, 2)
	a, b := u[0].ID, u[1].ID
	d := direct(t, s, a, b, "", t0)
	bt := &chat.Batch{Appends: []chat.Append{
		appendOf(d.ID, a, "m1", "one", t0), appendOf(d.ID, a, "m2", "two", t0), appendOf(d.ID, b, "m3", "three", t0)}}
	bt.Appends[1].Msg.Attachments = json.RawMessage(`[{"id":"77","kind":"image"}]`)
	commit(t, s, bt)
	for i, ap := range bt.Appends {
		if ap.Msg.Change != int64(i+1) {
			t.Errorf("append %d: got change %d, want %d", i, ap.Msg.Change, i+1)
		}
	}
	held := int64(1) // a device holds the first change, then goes away
	_, err := s.EditMessage(ctx, d.ID, 1, a, "one, edited", t0.Add(time.Minute))
	noErr(t, "EditMessage", err)
	del, err := s.DeleteMessage(ctx, d.ID, 2, a, t0.Add(2*time.Minute))
	noErr(t, "DeleteMessage", err)
	// The answer carries the attachments it removed (their files are the
	// caller's to delete); the stored row keeps none (checked below).
	if del.Change != 5 || del.Text != "" || string(del.Attachments) != `[{"id":"77","kind":"image"}]` || del.Digest != nil {
		t.Errorf("deleted: got %+v, want change 5, no text or digest, and the removed attachments", del)
	}
	again, err := s.DeleteMessage(ctx, d.ID, 2, a, t0.Add(3*time.Minute))
	noErr(t, "DeleteMessage twice", err)
	if again.Change != 5 {
		t.Errorf("deleting twice: got change %d, want it to stay 5", again.Change)
	}
	_, err = s.EditMessage(ctx, d.ID, 3, a, "not mine", t0)
	wantErrIs(t, "EditMessage of another's message", err, chat.ErrNotFound)
	edited, err := s.EditMessage(ctx, d.ID, 1, a, "one, edited twice", t0.Add(4*time.Minute))
	noErr(t, "EditMessage again", err)
	if edited.Change != 6 {
		t.Errorf("second edit: got change %d, want 6", edited.Change)
	}
	dl, err := s.Dialog(ctx, d.ID)
	noErr(t, "Dialog", err)
	if dl.LastChange != 6 || dl.LastSeq != 3 {
		t.Errorf("dialog: got last change %d seq %d, want 6 and 3", dl.LastChange, dl.LastSeq)
	}

	got, err := s.Changes(ctx, d.ID, held, 100)
	noErr(t, "Changes", err)
	type row struct {
		seq, change int64
		text        string
		deleted     bool
	}
	var rows []row
	for _, m := range got {
		rows = append(rows, row{m.Seq, m.Change, m.Text, !m.DeletedAt.IsZero()})
		if !m.DeletedAt.IsZero() && (m.Attachments != nil || m.Digest != nil || m.Text != "") {
			t.Errorf("deleted message %d keeps content: %+v", m.Seq, m)
		}
	}
	want := []row{{3, 3, "three", false}, {2, 5, "", true}, {1, 6, "one, edited twice", false}}
	if !reflect.DeepEqual(rows, want) {
		t.Errorf("Changes since %d: got %+v, want %+v", held, rows, want)
	}
	page, err := s.Changes(ctx, d.ID, held, 2)
	noErr(t, "Changes page", err)
	if len(page) != 2 || page[1].Change != 5 {
		t.Fatalf("Changes page of 2: got %d ending at change %d, want 2 ending at 5", len(page), page[len(page)-1].Change)
	}
	rest, err := s.Changes(ctx, d.ID, page[1].Change, 2)
	noErr(t, "Changes next page", err)
	if len(rest) != 1 || rest[0].Seq != 1 {
		t.Errorf("Changes after the page: got %v, want seq 1 alone", seqsOf(rest))
	}
	none, err := s.Changes(ctx, d.ID, 6, 10)
	noErr(t, "Changes when current", err)
	if len(none) != 0 {
		t.Errorf("Changes since the last change: got %d, want none", len(none))
	}
	all, err := s.Changes(ctx, d.ID, 0, 10)
	noErr(t, "Changes from 0", err)
	if len(all) != 3 {
		t.Errorf("Changes from 0: got %d, want every message once (3)", len(all))
	}
	// The change numbers go on after edits: a new message takes the next.
	more := send(t, s, d.ID, b, 1, t0.Add(5*time.Minute))
	if more[0].Change != 7 || more[0].Seq != 4 {
		t.Errorf("a message after edits: got seq %d change %d, want 4 and 7", more[0].Seq, more[0].Change)
	}
}

// testChangesEveryCursor runs a random mix of sends, edits and deletes and
// checks Changes from every cursor, and paged (pages of 1 to 3) from two
// of them, against the messages filtered and sorted by their latest
// change.
func testChangesEveryCursor(t *testing.T, s MessageStoreUnderTest) {
	ctx := ctxT(t)
	u := users(t, s, 2)
	a, b := u[0].ID, u[1].ID
	d := direct(t, s, a, b, "", t0)
	rng := rand.New(rand.NewPCG(7, 11))
	sent := 0
	for range 60 {
		switch op := rng.IntN(10); {
		case op < 5 || sent == 0:
			n := 1 + rng.IntN(3)
			bt := &chat.Batch{}
			for range n {
				sent++
				bt.Appends = append(bt.Appends, appendOf(d.ID, a, fmt.Sprint("r", sent), "x", t0))
			}
			commit(t, s, bt)
		case op < 8:
			_, err := s.EditMessage(ctx, d.ID, int64(1+rng.IntN(sent)), a, fmt.Sprint("edit ", op), t0)
			if !errors.Is(err, chat.ErrNotFound) {
				noErr(t, "EditMessage", err)
			}
		default:
			_, err := s.DeleteMessage(ctx, d.ID, int64(1+rng.IntN(sent)), a, t0)
			noErr(t, "DeleteMessage", err)
		}
	}
	all, err := s.MessagesAfter(ctx, d.ID, 0, 1000)
	noErr(t, "MessagesAfter", err)
	dl, err := s.Dialog(ctx, d.ID)
	noErr(t, "Dialog", err)
	slices.SortFunc(all, func(x, y chat.Message) int { return cmp.Compare(x.Change, y.Change) })
	if last := all[len(all)-1].Change; last > dl.LastChange {
		t.Fatalf("a message's change %d is past the dialog's last change %d", last, dl.LastChange)
	}
	key := func(ms []chat.Message) string {
		var b strings.Builder
		for _, m := range ms {
			fmt.Fprintf(&b, "%d@%d ", m.Seq, m.Change)
		}
		return b.String()
	}
	for x := int64(0); x <= dl.LastChange; x++ {
		var want []chat.Message
		for _, m := range all {
			if m.Change > x {
				want = append(want, m)
			}
		}
		got, err := s.Changes(ctx, d.ID, x, 1000)
		noErr(t, "Changes", err)
		if key(got) != key(want) {
			t.Fatalf("Changes since %d:\n got %s\nwant %s", x, key(got), key(want))
		}
		if x != 0 && x != dl.LastChange/2 {
			continue // paging from two cursors keeps the test quick
		}
		for page := 1; page < 4; page++ {
			var paged []chat.Message
			for c := x; ; {
				p, err := s.Changes(ctx, d.ID, c, page)
				noErr(t, "Changes page", err)
				paged = append(paged, p...)
				if len(p) < page {
					break
				}
				c = p[len(p)-1].Change
			}
			if key(paged) != key(want) {
				t.Fatalf("Changes since %d in pages of %d:\n got %s\nwant %s", x, page, key(paged), key(want))
			}
		}
	}
}

// testResumeMatchesSingles runs random mixes of sends, edits and deletes
// in four dialogs and checks that Resume, over random windows of all of
// them at once (by seq or by change, random cursors and limits), answers
// each window exactly as MessagesAfter or Changes answers it alone.
func testResumeMatchesSingles(t *testing.T, s MessageStoreUnderTest) {
	ctx := ctxT(t)
	u := users(t, s, 5)
	rng := rand.New(rand.NewPCG(3, 5))
	var dialogs []chat.Dialog
	sent := map[int64]int{}
	for i := range 4 {
		d := direct(t, s, u[0].ID, u[i+1].ID, "", t0)
		dialogs = append(dialogs, d)
		for range 40 {
			switch op := rng.IntN(10); {
			case op < 6 || sent[d.ID] == 0:
				bt := &chat.Batch{}
				for range 1 + rng.IntN(3) {
					sent[d.ID]++
					bt.Appends = append(bt.Appends, appendOf(d.ID, u[0].ID, fmt.Sprint("r", sent[d.ID]), "x", t0))
				}
				commit(t, s, bt)
			case op < 8:
				_, err := s.EditMessage(ctx, d.ID, int64(1+rng.IntN(sent[d.ID])), u[0].ID, fmt.Sprint("edit ", op), t0)
				if !errors.Is(err, chat.ErrNotFound) {
					noErr(t, "EditMessage", err)
				}
			default:
				_, err := s.DeleteMessage(ctx, d.ID, int64(1+rng.IntN(sent[d.ID])), u[0].ID, t0)
				noErr(t, "DeleteMessage", err)
			}
		}
	}
	key := func(ms []chat.Message) string {
		var b strings.Builder
		for _, m := range ms {
			fmt.Fprintf(&b, "%d:%d@%d/%s/%t ", m.DialogID, m.Seq, m.Change, m.Text, m.DeletedAt.IsZero())
		}
		return b.String()
	}
	for round := range 50 {
		var windows []chat.ResumeWindow
		for _, d := range dialogs {
			if rng.IntN(5) == 0 {
				continue
			}
			dl, err := s.Dialog(ctx, d.ID)
			noErr(t, "Dialog", err)
			w := chat.ResumeWindow{DialogID: d.ID, ByChange: rng.IntN(2) == 0, Limit: rng.IntN(25)}
			if w.ByChange {
				w.At = rng.Int64N(dl.LastChange + 2)
			} else {
				w.At = rng.Int64N(dl.LastSeq + 2)
			}
			windows = append(windows, w)
		}
		got, err := s.Resume(ctx, windows)
		noErr(t, "Resume", err)
		if len(got) != len(windows) {
			t.Fatalf("round %d: %d answers for %d windows", round, len(got), len(windows))
		}
		for i, w := range windows {
			var want []chat.Message
			if w.ByChange {
				want, err = s.Changes(ctx, w.DialogID, w.At, w.Limit)
			} else {
				want, err = s.MessagesAfter(ctx, w.DialogID, w.At, w.Limit)
			}
			noErr(t, "single read", err)
			if key(got[i]) != key(want) {
				t.Fatalf("round %d, window %+v:\n got %s\nwant %s", round, w, key(got[i]), key(want))
			}
		}
	}
}

// unreadOf is a user's unread count in a dialog as the dialog list shows
// it.
func unreadOf(t *testing.T, s chat.DialogStore, user, dialog int64) int64 {
	t.Helper()
	es, err := s.UserDialogs(ctxT(t), user, []int64{dialog})
	noErr(t, "UserDialogs", err)
	if len(es) != 1 {
		t.Fatalf("UserDialogs(%d, %d): got %d entries, want 1", user, dialog, len(es))
	}
	return es[0].Self.Unread(es[0].Dialog)
}

// testUnreadDeletedMessages: the partner sends and deletes; the badge
// counts visible messages from others after the read watermark only, in
// the dialog list, one dialog and the total.
func testUnreadDeletedMessages(t *testing.T, s MessageStoreUnderTest) {
	ctx := ctxT(t)
	u := users(t, s, 3)
	a, b := u[0].ID, u[1].ID
	d := direct(t, s, a, b, "", t0)
	other := direct(t, s, a, u[2].ID, "", t0)
	send(t, s, d.ID, b, 1, t0)
	if n := unreadOf(t, s, a, d.ID); n != 1 {
		t.Fatalf("after one message: got unread %d, want 1", n)
	}
	_, err := s.DeleteMessage(ctx, d.ID, 1, b, t0.Add(time.Second))
	noErr(t, "DeleteMessage", err)
	if n := unreadOf(t, s, a, d.ID); n != 0 {
		t.Errorf("after the partner deleted it: got unread %d, want 0", n)
	}
	list, err := s.Dialogs(ctx, a, chat.DialogCursor{}, 10)
	noErr(t, "Dialogs", err)
	for _, e := range list {
		if e.Dialog.ID == d.ID && e.Self.Unread(e.Dialog) != 0 {
			t.Errorf("dialog list: got unread %d, want 0", e.Self.Unread(e.Dialog))
		}
	}
	send(t, s, d.ID, b, 3, t0.Add(2*time.Second)) // seqs 2..4
	send(t, s, other.ID, u[2].ID, 2, t0)          // 2 in another dialog
	_, err = s.DeleteMessage(ctx, d.ID, 3, b, t0.Add(3*time.Second))
	noErr(t, "DeleteMessage", err)
	if n := unreadOf(t, s, a, d.ID); n != 2 {
		t.Errorf("3 sent, 1 deleted: got unread %d, want 2", n)
	}
	totals, err := s.UnreadTotals(ctx, []int64{a})
	noErr(t, "UnreadTotals", err)
	total := totals[a]
	if total != 4 {
		t.Errorf("TotalUnread: got %d, want 2 + 2", total)
	}
	// The sender's own messages never count for them.
	if n := unreadOf(t, s, b, d.ID); n != 0 {
		t.Errorf("the sender's unread: got %d, want 0", n)
	}
	// Reading to the end clears it; a delete after the read changes
	// nothing.
	commit(t, s, &chat.Batch{Receipts: []chat.Receipt{{DialogID: d.ID, UserID: a, Read: 4}}})
	if n := unreadOf(t, s, a, d.ID); n != 0 {
		t.Errorf("after reading everything: got unread %d, want 0", n)
	}
	_, err = s.DeleteMessage(ctx, d.ID, 4, b, t0.Add(4*time.Second))
	noErr(t, "DeleteMessage of a read message", err)
	if n := unreadOf(t, s, a, d.ID); n != 0 {
		t.Errorf("deleting a read message: got unread %d, want 0", n)
	}
	send(t, s, d.ID, b, 1, t0.Add(5*time.Second))
	if n := unreadOf(t, s, a, d.ID); n != 1 {
		t.Errorf("one new message after all that: got unread %d, want 1", n)
	}
	totals, err = s.UnreadTotals(ctx, []int64{a})
	noErr(t, "UnreadTotals", err)
	total = totals[a]
	if total != 3 {
		t.Errorf("TotalUnread: got %d, want 1 + 2", total)
	}
	if totals, err := s.UnreadTotals(ctx, []int64{987654321}); err != nil || totals[987654321] != 0 {
		total := totals[987654321]
		t.Errorf("TotalUnread of nobody: got %d, %v; want 0", total, err)
	}
}

// testUnreadPartialReads: reads that stop between deleted messages, from
// either side of the cheaper count, and a reply (which reads everything
// before it) keep the count exact.
func testUnreadPartialReads(t *testing.T, s MessageStoreUnderTest) {
	ctx := ctxT(t)
	u := users(t, s, 2)
	a, b := u[0].ID, u[1].ID
	d := direct(t, s, a, b, "", t0)
	send(t, s, d.ID, b, 20, t0)
	deleted := map[int64]bool{2: true, 3: true, 9: true, 15: true, 16: true, 19: true}
	for seq := range deleted {
		_, err := s.DeleteMessage(ctx, d.ID, seq, b, t0.Add(time.Second))
		noErr(t, "DeleteMessage", err)
	}
	want := func(read int64) int64 {
		n := int64(0)
		for seq := read + 1; seq <= 20; seq++ {
			if !deleted[seq] {
				n++
			}
		}
		return n
	}
	for _, read := range []int64{1, 2, 4, 14, 15, 17, 18} {
		commit(t, s, &chat.Batch{Receipts: []chat.Receipt{{DialogID: d.ID, UserID: a, Read: read}}})
		if n := unreadOf(t, s, a, d.ID); n != want(read) {
			t.Errorf("read to %d: got unread %d, want %d", read, n, want(read))
		}
	}
	// A reply reads everything before it, in the same batch as new
	// messages from the partner.
	bt := &chat.Batch{Appends: []chat.Append{
		appendOf(d.ID, a, "r1", "reply", t0.Add(time.Minute)),
		appendOf(d.ID, b, "n1", "after the reply", t0.Add(time.Minute)),
	}}
	commit(t, s, bt)
	if n := unreadOf(t, s, a, d.ID); n != 1 {
		t.Errorf("after a reply and one more: got unread %d, want 1", n)
	}
	// The partner's message after the reply implies they read it.
	if n := unreadOf(t, s, b, d.ID); n != 0 {
		t.Errorf("the partner after the reply and their own message: got unread %d, want 0", n)
	}
}

// testUnreadConcurrent sends, deletes and reads in one dialog from several
// goroutines (through two handles where the store has them) and checks
// that every member's stored count equals a count of the messages.
func testUnreadConcurrent(t *testing.T, stores []MessageStoreUnderTest) {
	s := stores[0]
	u := users(t, s, 2)
	a, b := u[0].ID, u[1].ID
	d := direct(t, s, a, b, "", t0)
	send(t, s, d.ID, a, 30, t0)
	send(t, s, d.ID, b, 30, t0)
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for h, st := range stores {
		for w := range 4 {
			wg.Go(func() {
				ctx := ctxT(t)
				me := []int64{a, b}[(h+w)%2]
				for i := range 15 {
					var err error
					switch i % 3 {
					case 0:
						bt := &chat.Batch{Appends: []chat.Append{appendOf(d.ID, me, fmt.Sprintf("c%d-%d-%d", h, w, i), "x", t0)}}
						err = st.Commit(ctx, bt)
					case 1:
						// Delete one of the 60 first messages if it is ours.
						seq := int64(1 + (h*31+w*17+i*7)%60)
						_, err = st.DeleteMessage(ctx, d.ID, seq, me, t0)
						if errors.Is(err, chat.ErrNotFound) {
							err = nil
						}
					case 2:
						bt := &chat.Batch{Receipts: []chat.Receipt{{DialogID: d.ID, UserID: me, Read: int64(10 + i*5 + w)}}}
						err = st.Commit(ctx, bt)
					}
					if err != nil {
						errs <- err
						return
					}
				}
			})
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		noErr(t, "concurrent send, delete and read", err)
	}
	msgs, err := s.MessagesAfter(ctxT(t), d.ID, 0, 100000)
	noErr(t, "MessagesAfter", err)
	ms, err := s.Members(ctxT(t), d.ID)
	noErr(t, "Members", err)
	dl, err := s.Dialog(ctxT(t), d.ID)
	noErr(t, "Dialog", err)
	for _, m := range ms {
		want := int64(0)
		for _, msg := range msgs {
			if msg.Seq > m.ReadSeq && chat.CountsAsUnread(msg) {
				if msg.SenderID == m.UserID {
					t.Errorf("member %d has their own message %d after their read watermark %d", m.UserID, msg.Seq, m.ReadSeq)
				}
				want++
			}
		}
		if got := m.Unread(dl); got != want {
			t.Errorf("member %d: got unread %d (uncounted %d), want %d counted from the messages", m.UserID, got, m.Uncounted, want)
		}
	}
}

// testUserDialogs: UserDialogs reads what the dialog list reads (newest
// message included) for the dialogs asked that the user is in;
// Memberships the same without messages.
func testUserDialogs(t *testing.T, s MessageStoreUnderTest) {
	ctx := ctxT(t)
	u := users(t, s, 3)
	a := u[0].ID
	d1 := direct(t, s, a, u[1].ID, "", t0)
	d2 := direct(t, s, a, u[2].ID, "", t0)
	notMine := direct(t, s, u[1].ID, u[2].ID, "", t0)
	msgs := send(t, s, d1.ID, u[1].ID, 2, t0.Add(time.Second))
	list, err := s.Dialogs(ctx, a, chat.DialogCursor{}, 10)
	noErr(t, "Dialogs", err)
	got, err := s.UserDialogs(ctx, a, []int64{d2.ID, d1.ID, notMine.ID, 987654321})
	noErr(t, "UserDialogs", err)
	if len(got) != 2 {
		t.Fatalf("UserDialogs: got %v, want %d and %d", dialogIDs(got), d1.ID, d2.ID)
	}
	byID := map[int64]chat.DialogEntry{}
	for _, e := range got {
		byID[e.Dialog.ID] = e
	}
	for _, e := range list {
		g := byID[e.Dialog.ID]
		if g.Dialog != e.Dialog || g.Self != e.Self || (g.LastMessage == nil) != (e.LastMessage == nil) {
			t.Errorf("dialog %d: UserDialogs %+v, Dialogs %+v; want the same entry", e.Dialog.ID, g, e)
		}
	}
	if lm := byID[d1.ID].LastMessage; lm == nil || lm.Seq != 2 || lm.Change != 2 || lm.Text != msgs[1].Text {
		t.Errorf("newest message: got %+v, want seq 2", lm)
	}
	ms, err := s.Memberships(ctx, a, []int64{d1.ID, d2.ID, notMine.ID})
	noErr(t, "Memberships", err)
	if len(ms) != 2 {
		t.Fatalf("Memberships: got %v, want 2", dialogIDs(ms))
	}
	for _, e := range ms {
		if e.LastMessage != nil || e.Self.UserID != a || e.Dialog != byID[e.Dialog.ID].Dialog {
			t.Errorf("Memberships entry %+v, want a's membership and the dialog without its message", e)
		}
	}
	none, err := s.UserDialogs(ctx, a, nil)
	noErr(t, "UserDialogs of none", err)
	if len(none) != 0 {
		t.Errorf("UserDialogs of none: got %d", len(none))
	}
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
	u := users(t, s, 3)
	for _, at := range []time.Time{t0.Add(time.Hour), t0.Add(2 * time.Hour)} {
		noErr(t, "TouchLastSeen", s.TouchLastSeen(ctx, map[int64]time.Time{u[0].ID: at}))
		got, err := s.User(ctx, u[0].ID)
		noErr(t, "User", err)
		checkTime(t, "LastSeenAt", got.LastSeenAt, at)
	}
	// Many users in one call; a time never moves back; unknown users
	// are skipped.
	noErr(t, "TouchLastSeen of many", s.TouchLastSeen(ctx, map[int64]time.Time{
		u[0].ID:   t0.Add(time.Minute),
		u[1].ID:   t0.Add(3 * time.Hour),
		u[2].ID:   t0.Add(4 * time.Hour),
		987654321: t0,
	}))
	for i, want := range []time.Time{t0.Add(2 * time.Hour), t0.Add(3 * time.Hour), t0.Add(4 * time.Hour)} {
		got, err := s.User(ctx, u[i].ID)
		noErr(t, "User", err)
		checkTime(t, fmt.Sprintf("LastSeenAt of user %d", i), got.LastSeenAt, want)
	}
	noErr(t, "TouchLastSeen of none", s.TouchLastSeen(ctx, nil))
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
