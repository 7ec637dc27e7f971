package chat_test

import (
	"context"
	"encoding/json"
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/korobka/korobka/chat"
)

// backlog seeds one user with dialogs × perDialog unread messages straight
// through the store (in batches of 500, as group commit writes them) and
// returns the user and a sync request from zero for all of them.
func backlog(t testing.TB, f *fixture, dialogs, perDialog int) (chat.Principal, chat.SyncRequest) {
	t.Helper()
	ctx := context.Background()
	now := time.Now().UTC()
	me, _, err := f.store.UpsertUser(ctx, "+79980000000", now)
	if err != nil {
		t.Fatal(err)
	}
	req := chat.SyncRequest{Seqs: map[int64]int64{}}
	type peer struct{ dialog, user int64 }
	peers := make([]peer, dialogs)
	for i := range peers {
		u, _, err := f.store.UpsertUser(ctx, fmt.Sprintf("+7998%07d", i+1), now)
		if err != nil {
			t.Fatal(err)
		}
		d, _, err := f.store.DirectDialog(ctx, me.ID, u.ID, "", now)
		if err != nil {
			t.Fatal(err)
		}
		peers[i] = peer{d.ID, u.ID}
		req.Seqs[d.ID] = 0
	}
	text := "Привет! A message of about a hundred bytes, as chats have: short, with some Cyrillic."
	b := &chat.Batch{}
	flush := func() {
		if err := f.store.Commit(ctx, b); err != nil {
			t.Fatal(err)
		}
		b = &chat.Batch{}
	}
	for i := range perDialog {
		for j, p := range peers {
			m := chat.Message{DialogID: p.dialog, SenderID: p.user, ClientID: fmt.Sprint("m", i), Text: text, CreatedAt: now}
			if i > 0 && j%3 == 0 {
				m.ReplyTo = int64(i) // a third of the dialogs answer their previous message
			}
			b.Appends = append(b.Appends, chat.Append{Msg: m})
			if len(b.Appends) == 500 {
				flush()
			}
		}
	}
	if len(b.Appends) > 0 {
		flush()
	}
	return chat.Principal{UserID: me.ID}, req
}

// syncBytes runs one sync as the WebSocket gateway does (each message
// marshalled into its frame) and returns the bytes it allocated and the
// messages it sent.
func syncBytes(t testing.TB, f *fixture, p chat.Principal, req chat.SyncRequest) (uint64, int) {
	t.Helper()
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	sent := 0
	res, err := f.svc.Sync(context.Background(), p, req, func(m chat.MessageView) error {
		_, err := json.Marshal(struct {
			Type    string            `json:"type"`
			Message *chat.MessageView `json:"message"`
		}{"message", &m})
		sent++
		return err
	})
	runtime.ReadMemStats(&after)
	if err != nil {
		t.Fatal(err)
	}
	if !res.More {
		t.Fatalf("a sync of the whole backlog answered more false")
	}
	return after.TotalAlloc - before.TotalAlloc, sent
}

// TestSyncBoundedByPage is issue 9 item 3: one sync frame used to load
// every dialog's backlog (500 dialogs × 500 messages) before writing
// anything. Now a sync sends at most MaxSyncMessages, a page at a time, so
// what it allocates does not grow with the backlog.
func TestSyncBoundedByPage(t *testing.T) {
	small := newTestService(t)
	p, req := backlog(t, small, 10, 120) // 1,200: just over one sync
	smallBytes, smallSent := syncBytes(t, small, p, req)

	big := newTestService(t)
	p, req = backlog(t, big, 100, 150) // 15,000
	bigBytes, bigSent := syncBytes(t, big, p, req)

	t.Logf("one sync: %d messages, %d KiB with a backlog of 1,200; %d messages, %d KiB with 15,000",
		smallSent, smallBytes>>10, bigSent, bigBytes>>10)
	if smallSent != chat.MaxSyncMessages || bigSent != chat.MaxSyncMessages {
		t.Errorf("messages sent: got %d and %d, want the cap %d each", smallSent, bigSent, chat.MaxSyncMessages)
	}
	// 100 dialogs cost 100 page queries instead of 10 and their entries;
	// 12.5 times the backlog must not cost anything like 12.5 times the
	// bytes.
	if bigBytes > 2*smallBytes {
		t.Errorf("a sync allocated %d bytes with 15,000 messages waiting and %d with 1,200: it grows with the backlog", bigBytes, smallBytes)
	}
}

// BenchmarkSync is one sync request of a user with 500 dialogs × 500
// unread messages (the case): B/op is the bytes one request
// allocates, which the page and the cap bound, not the backlog. The
// 500x2 case is 500 dialogs with two new messages each, a third of them
// replies (a device back after a short gap), by seq and by change cursor;
// queries/request counts the store reads.
//
//	go test ./chat -run '^$' -bench BenchmarkSync -benchtime 20x -benchmem
func BenchmarkSync(b *testing.B) {
	for _, tc := range []struct {
		name               string
		dialogs, perDialog int
		byChange           bool
	}{{"500x500", 500, 500, false}, {"500x2", 500, 2, false}, {"500x2-since", 500, 2, true}} {
		b.Run(tc.name, func(b *testing.B) {
			f, qs := newCountedService(b)
			p, req := backlog(b, f, tc.dialogs, tc.perDialog)
			if tc.byChange {
				req = chat.SyncRequest{Since: req.Seqs}
			}
			b.ReportAllocs()
			var sent int
			before := qs.n.Load()
			for b.Loop() {
				_, err := f.svc.Sync(context.Background(), p, req, func(m chat.MessageView) error {
					_, err := json.Marshal(&m)
					sent++
					return err
				})
				if err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(sent)/float64(b.N), "msgs/request")
			b.ReportMetric(float64(qs.n.Load()-before)/float64(b.N), "queries/request")
		})
	}
}

// TestSyncQueriesBounded is issue 15 item 2: a sync of many dialogs with a
// little new in each used to cost a query or two per dialog; now its
// reads are batched per page, so 300 dialogs cost what a handful does.
// Every message still comes once, each dialog's in order, dialog after
// dialog, also when a page cuts a dialog.
func TestSyncQueriesBounded(t *testing.T) {
	f, qs := newCountedService(t)
	p, req := backlog(t, f, 300, 3) // 900 messages, a third of them replies
	before := qs.n.Load()
	var got []chat.MessageView
	res, err := f.svc.Sync(context.Background(), p, req, func(m chat.MessageView) error {
		got = append(got, m)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	queries := qs.n.Load() - before
	t.Logf("a sync of 300 dialogs × 3: %d store reads", queries)
	// Memberships, members (once or twice), 9 pages of Resume and of
	// MessagesAt: 20 at most, against 300+ before.
	if queries > 20 {
		t.Errorf("a sync of 300 dialogs made %d store reads, want at most 20", queries)
	}
	if res.More || len(got) != 900 {
		t.Fatalf("sent %d messages, more %v; want 900, false", len(got), res.More)
	}
	lastDialog, lastSeq := int64(0), int64(0)
	replies := 0
	for _, m := range got {
		if d := parseID(t, m.DialogID); d != lastDialog {
			if d < lastDialog || lastDialog != 0 && lastSeq != 3 {
				t.Fatalf("dialog %d after %d (which ended at seq %d)", d, lastDialog, lastSeq)
			}
			lastDialog, lastSeq = d, 0
		}
		if m.Seq != lastSeq+1 {
			t.Fatalf("dialog %s: seq %d after %d", m.DialogID, m.Seq, lastSeq)
		}
		lastSeq = m.Seq
		if m.ReplyTo != nil {
			replies++
		}
	}
	if replies != 200 {
		t.Errorf("%d messages carry the message they answer, want 200", replies)
	}
	for id, seq := range res.Synced {
		if seq != 3 {
			t.Errorf("dialog %s synced to %d, want 3", id, seq)
		}
	}
}
