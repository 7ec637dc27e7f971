package chattest

import (
	"errors"
	"testing"
	"time"

	"github.com/korobka/korobka/chat"
)

// TestGroupStore checks that a chat.Store keeps groups as the Service
// relies on: a group created with its members and system messages in one
// transaction, edits that add, remove and promote with system messages
// taking the next seqs and change numbers and never counting as unread, a
// refused edit that writes nothing, the media generation moving with
// removals, readers by watermark and join, and group counts.
func TestGroupStore(t *testing.T, open func(t *testing.T) chat.Store) {
	t.Helper()
	for _, tc := range []struct {
		name string
		fn   func(t *testing.T, s chat.Store)
	}{
		{"CreateAndEdit", testGroupCreateEdit},
		{"RefusedEditWritesNothing", testGroupRefused},
		{"ReadersAndCounts", testGroupReaders},
		{"FormerMembers", testGroupFormer},
		{"ReceiptSenders", testReceiptSenders},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.fn(t, open(t))
		})
	}
}

func groupOf(t *testing.T, s chat.Store, owner chat.User, others []chat.User, now time.Time) chat.GroupEdit {
	t.Helper()
	e, err := s.CreateGroup(ctxT(t), owner.ID, now, func(e *chat.GroupEdit) error {
		e.Dialog.Title, e.Dialog.HistoryVisible = "G", true
		e.Add = []int64{owner.ID}
		for _, u := range others {
			e.Add = append(e.Add, u.ID)
		}
		e.Roles = map[int64]chat.GroupRole{owner.ID: chat.GroupOwner}
		e.Events = []chat.SystemEvent{{Type: chat.SystemCreated, Actor: chat.FormatID(owner.ID), Title: "G"},
			{Type: chat.SystemMemberAdded, Actor: chat.FormatID(owner.ID)}}
		return nil
	})
	noErr(t, "CreateGroup", err)
	return e
}

func testGroupCreateEdit(t *testing.T, s chat.Store) {
	us := users(t, s, 4)
	e := groupOf(t, s, us[0], us[1:3], t0)
	d := e.Dialog
	if d.Kind != chat.DialogGroup || d.Title != "G" || d.LastSeq != 2 || d.LastChange != 2 || len(e.Members) != 3 || len(e.Messages) != 2 {
		t.Fatalf("created: %+v, %d members, %d messages; want group G at seq 2 with 3 members", d, len(e.Members), len(e.Messages))
	}
	for _, m := range e.Members {
		if m.ReadSeq != 2 || m.Uncounted != 0 || m.Unread(d) != 0 {
			t.Errorf("member %d: read %d uncounted %d; want nothing unread", m.UserID, m.ReadSeq, m.Uncounted)
		}
		if want := chat.GroupMember; m.UserID == us[0].ID && m.Role != chat.GroupOwner || m.UserID != us[0].ID && m.Role != want {
			t.Errorf("member %d role %q", m.UserID, m.Role)
		}
	}
	msgs, err := s.Messages(ctxT(t), d.ID, 0, 10)
	noErr(t, "Messages", err)
	if len(msgs) != 2 || msgs[0].System == nil || msgs[0].System.Type != chat.SystemCreated || msgs[1].Change != 2 {
		t.Fatalf("stored system messages: %+v", msgs)
	}
	// An edit: one more member, one removed, a promotion, one event.
	e, err = s.EditGroup(ctxT(t), d.ID, us[0].ID, t0.Add(time.Second), func(e *chat.GroupEdit) error {
		e.Add, e.Remove = []int64{us[3].ID}, []int64{us[2].ID}
		e.Roles = map[int64]chat.GroupRole{us[1].ID: chat.GroupAdmin}
		e.Dialog.HistoryVisible = false
		e.Events = []chat.SystemEvent{{Type: chat.SystemMemberAdded, Actor: chat.FormatID(us[0].ID)}}
		return nil
	})
	noErr(t, "EditGroup", err)
	if e.Dialog.LastSeq != 3 || e.Dialog.MediaGen != 1 || len(e.Members) != 3 {
		t.Fatalf("after the edit: %+v with %d members; want seq 3, media generation 1, 3 members", e.Dialog, len(e.Members))
	}
	ms, err := s.Members(ctxT(t), d.ID)
	noErr(t, "Members", err)
	byID := map[int64]chat.Member{}
	for _, m := range ms {
		byID[m.UserID] = m
	}
	if _, in := byID[us[2].ID]; in {
		t.Errorf("removed member still in")
	}
	if m := byID[us[3].ID]; m.VisibleFrom != 3 || m.JoinedSeq != 2 || m.ReadSeq != 3 || m.Unread(e.Dialog) != 0 {
		t.Errorf("added member: %+v; want visible from 3, joined at 2, nothing unread", m)
	}
	if m := byID[us[1].ID]; m.Role != chat.GroupAdmin || m.Unread(e.Dialog) != 0 {
		t.Errorf("promoted member: %+v; want admin with the system message not unread", m)
	}
	got, err := s.Dialog(ctxT(t), d.ID)
	noErr(t, "Dialog", err)
	if got.HistoryVisible || got.MediaGen != 1 || got.LastChange != 3 {
		t.Errorf("dialog row: %+v", got)
	}
	// A direct dialog is not a group.
	dd := direct(t, s, us[0].ID, us[1].ID, "", t0)
	_, err = s.EditGroup(ctxT(t), dd.ID, us[0].ID, t0, func(*chat.GroupEdit) error { return nil })
	wantErrIs(t, "EditGroup of a direct dialog", err, chat.ErrNotGroup)
}

func testGroupRefused(t *testing.T, s chat.Store) {
	us := users(t, s, 3)
	e := groupOf(t, s, us[0], us[1:2], t0)
	refusal := errors.New("no")
	_, err := s.EditGroup(ctxT(t), e.Dialog.ID, us[0].ID, t0, func(e *chat.GroupEdit) error {
		e.Add = []int64{us[2].ID}
		e.Events = []chat.SystemEvent{{Type: chat.SystemMemberAdded}}
		return refusal
	})
	if !errors.Is(err, refusal) {
		t.Fatalf("got %v, want the decision's error", err)
	}
	ms, err := s.Members(ctxT(t), e.Dialog.ID)
	noErr(t, "Members", err)
	d, err := s.Dialog(ctxT(t), e.Dialog.ID)
	noErr(t, "Dialog", err)
	if len(ms) != 2 || d.LastSeq != 2 {
		t.Errorf("after a refused edit: %d members, seq %d; want 2 and 2", len(ms), d.LastSeq)
	}
}

func testGroupReaders(t *testing.T, s chat.Store) {
	us := users(t, s, 4)
	e := groupOf(t, s, us[0], us[1:3], t0)
	id := e.Dialog.ID
	b := chat.Batch{Appends: []chat.Append{appendOf(id, us[0].ID, "m1", "hi", t0)}}
	noErr(t, "Commit", s.Commit(ctxT(t), &b))
	seq := b.Appends[0].Msg.Seq
	b = chat.Batch{Receipts: []chat.Receipt{{DialogID: id, UserID: us[1].ID, Delivered: seq, Read: seq}}}
	noErr(t, "Commit", s.Commit(ctxT(t), &b))
	// Joining later says nothing about the message.
	_, err := s.EditGroup(ctxT(t), id, us[0].ID, t0, func(e *chat.GroupEdit) error {
		e.Add = []int64{us[3].ID}
		return nil
	})
	noErr(t, "EditGroup", err)
	rs, err := s.Readers(ctxT(t), id, seq, us[0].ID, 0, 10)
	noErr(t, "Readers", err)
	if len(rs) != 1 || rs[0].UserID != us[1].ID {
		t.Errorf("readers: %+v, want only the member who read", rs)
	}
	counts, err := s.GroupCounts(ctxT(t), []int64{us[0].ID, us[3].ID})
	noErr(t, "GroupCounts", err)
	if counts[us[0].ID] != 1 || counts[us[3].ID] != 1 {
		t.Errorf("group counts: %v", counts)
	}
	page, err := s.MembersPage(ctxT(t), id, 0, 2)
	noErr(t, "MembersPage", err)
	if len(page) != 2 || page[0].UserID >= page[1].UserID {
		t.Errorf("members page: %+v", page)
	}
	found, err := s.MessagesBySeq(ctxT(t), id, []int64{1, seq, 999})
	noErr(t, "MessagesBySeq", err)
	if len(found) != 2 {
		t.Errorf("messages by seq: %d, want 2", len(found))
	}
}

// testGroupFormer: a removal records the former membership (end at the
// edit's last seq, visible_from kept, reason by who acted), listed by
// when it ended with the message at its end; adding them again ends it.
func testGroupFormer(t *testing.T, s chat.Store) {
	us := users(t, s, 3)
	e := groupOf(t, s, us[0], us[1:3], t0)
	id := e.Dialog.ID
	_, err := s.FormerMember(ctxT(t), id, us[1].ID)
	wantErrIs(t, "FormerMember of a member", err, chat.ErrNotFound)
	at := t0.Add(time.Minute)
	e, err = s.EditGroup(ctxT(t), id, us[0].ID, at, func(e *chat.GroupEdit) error {
		e.Remove = []int64{us[1].ID}
		e.Events = []chat.SystemEvent{{Type: chat.SystemMemberRemoved, Actor: chat.FormatID(us[0].ID)}}
		return nil
	})
	noErr(t, "EditGroup", err)
	_, err = s.EditGroup(ctxT(t), id, us[2].ID, at.Add(time.Minute), func(e *chat.GroupEdit) error {
		e.Remove = []int64{us[2].ID}
		e.Events = []chat.SystemEvent{{Type: chat.SystemMemberLeft, Actor: chat.FormatID(us[2].ID)}}
		return nil
	})
	noErr(t, "EditGroup", err)
	f, err := s.FormerMember(ctxT(t), id, us[1].ID)
	noErr(t, "FormerMember", err)
	if f.EndSeq != 3 || f.Reason != chat.EndRemoved || !f.EndedAt.Equal(at) {
		t.Errorf("removed: %+v; want end 3, removed, at %v", f, at)
	}
	if f, _ := s.FormerMember(ctxT(t), id, us[2].ID); f.EndSeq != 4 || f.Reason != chat.EndLeft {
		t.Errorf("left: %+v; want end 4, left", f)
	}
	list, err := s.FormerDialogs(ctxT(t), us[1].ID, chat.DialogCursor{}, 10)
	noErr(t, "FormerDialogs", err)
	if len(list) != 1 || list[0].Dialog.ID != id || list[0].Former == nil || list[0].LastMessage == nil || list[0].LastMessage.Seq != 3 {
		t.Fatalf("former dialogs: %+v; want the group ending at its seq 3", list)
	}
	if l, _ := s.FormerDialogs(ctxT(t), us[1].ID, chat.DialogCursor{UpdatedAt: at, ID: id}, 10); len(l) != 0 {
		t.Errorf("after the cursor: %+v", l)
	}
	got, err := s.FormerEntries(ctxT(t), us[1].ID, []int64{id, id + 1000}, false)
	noErr(t, "FormerEntries", err)
	if len(got) != 1 || got[0].Former.EndSeq != 3 || got[0].LastMessage != nil {
		t.Errorf("former entries: %+v", got)
	}
	_, err = s.EditGroup(ctxT(t), id, us[0].ID, at, func(e *chat.GroupEdit) error {
		e.Add = []int64{us[1].ID}
		return nil
	})
	noErr(t, "EditGroup", err)
	_, err = s.FormerMember(ctxT(t), id, us[1].ID)
	wantErrIs(t, "FormerMember of a member added again", err, chat.ErrNotFound)
}

// testReceiptSenders: a receipt that asks for them reports the senders of
// the messages its move passed (after the old read watermark, or the old
// delivered one when only delivery moved), sorted.
func testReceiptSenders(t *testing.T, s chat.Store) {
	us := users(t, s, 3)
	e := groupOf(t, s, us[0], us[1:3], t0)
	id := e.Dialog.ID
	b := chat.Batch{Appends: []chat.Append{appendOf(id, us[1].ID, "m1", "one", t0), appendOf(id, us[0].ID, "m2", "two", t0)}}
	noErr(t, "Commit", s.Commit(ctxT(t), &b))
	m2 := b.Appends[1].Msg.Seq
	b = chat.Batch{Receipts: []chat.Receipt{{DialogID: id, UserID: us[2].ID, Delivered: m2, Read: m2, WantSenders: true}}}
	noErr(t, "Commit", s.Commit(ctxT(t), &b))
	r := b.Receipts[0]
	want := []int64{min(us[0].ID, us[1].ID), max(us[0].ID, us[1].ID)}
	if !r.Changed || r.AllSenders || len(r.Senders) != 2 || r.Senders[0] != want[0] || r.Senders[1] != want[1] {
		t.Errorf("read past both: %+v, want senders %v", r, want)
	}
	b = chat.Batch{Appends: []chat.Append{appendOf(id, us[1].ID, "m3", "three", t0)}}
	noErr(t, "Commit", s.Commit(ctxT(t), &b))
	m3 := b.Appends[0].Msg.Seq
	b = chat.Batch{Receipts: []chat.Receipt{{DialogID: id, UserID: us[2].ID, Delivered: m3, WantSenders: true}}}
	noErr(t, "Commit", s.Commit(ctxT(t), &b))
	if r := b.Receipts[0]; !r.Changed || len(r.Senders) != 1 || r.Senders[0] != us[1].ID {
		t.Errorf("delivered past the third: %+v, want sender %d", r, us[1].ID)
	}
	// Without asking, none are read.
	b = chat.Batch{Receipts: []chat.Receipt{{DialogID: id, UserID: us[2].ID, Delivered: m3, Read: m3}}}
	noErr(t, "Commit", s.Commit(ctxT(t), &b))
	if r := b.Receipts[0]; !r.Changed || r.Senders != nil {
		t.Errorf("a receipt not asking: %+v", r)
	}
}
