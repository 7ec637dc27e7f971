package chattest

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/korobka/korobka/chat"
)

// TestDeviceStore checks that a chat.Store keeps push devices and the push
// state of members as the push worker relies on: a token is one device that
// moves to the latest user, a user keeps at most the cap, devices end with
// their session family however it ends (logout, a reused refresh token,
// expiry), a dead token is removed only if it was not registered again,
// and the batch reads and marks of the worker (members, messages, unread
// totals, pushed_seq, mute) read and write what they say.
//
// open returns an empty store for one subtest and closes it in t.Cleanup.
func TestDeviceStore(t *testing.T, open func(t *testing.T) chat.Store) {
	t.Helper()
	for _, tc := range []struct {
		name string
		fn   func(t *testing.T, s chat.Store)
	}{
		{"Device/PutUpdateMove", testPutDevice},
		{"Device/Cap", testDeviceCap},
		{"Device/Delete", testDeleteDevice},
		{"Device/EndsWithItsSession", testDeviceEndsWithSession},
		{"Device/RemoveOnlyIfUnchanged", testRemoveDevice},
		{"Device/UnknownUser", testDeviceUnknownUser},
		{"Push/MembersAndMessagesAt", testPushReads},
		{"Push/UnreadTotals", testUnreadTotals},
		{"Push/MarkPushed", testMarkPushed},
		{"Push/Mute", testSetMute},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.fn(t, open(t))
		})
	}
}

// device is a registration of token by a session at time at.
func device(ss chat.Session, platform chat.Platform, token string, at time.Time) chat.Device {
	return chat.Device{ID: chat.NewID(), UserID: ss.UserID, Family: ss.Family, Platform: platform, Token: token,
		Locale: "ru", CreatedAt: at, UpdatedAt: at}
}

func putDevice(t *testing.T, s chat.Store, d chat.Device, max int) (chat.Device, int) {
	t.Helper()
	got, evicted, err := s.PutDevice(ctxT(t), d, max)
	noErr(t, "PutDevice", err)
	return got, evicted
}

// devicesOf returns the tokens of users' pushable devices at now, sorted.
func devicesOf(t *testing.T, s chat.Store, now time.Time, users ...int64) []string {
	t.Helper()
	ds, err := s.Devices(ctxT(t), users, now)
	noErr(t, "Devices", err)
	out := make([]string, len(ds))
	for i, d := range ds {
		out[i] = fmt.Sprintf("%d:%s", d.UserID, d.Token)
	}
	slices.Sort(out)
	return out
}

func wantTokens(t *testing.T, what string, got []string, want ...string) {
	t.Helper()
	slices.Sort(want)
	if !slices.Equal(got, want) && !(len(got) == 0 && len(want) == 0) {
		t.Fatalf("%s: got %v, want %v", what, got, want)
	}
}

func testPutDevice(t *testing.T, s chat.Store) {
	a, b := newUser(t, s, "+79990000101"), newUser(t, s, "+79990000102")
	sa, sb := newSession(a.ID, "phone"), newSession(b.ID, "phone")
	mustCreateSession(t, s, sa)
	mustCreateSession(t, s, sb)
	// Tokens of any length up to the cap round-trip.
	long := strings.Repeat("x", chat.MaxDeviceTokenLen)
	first, _ := putDevice(t, s, device(sa, chat.PlatformAPNs, "tok-1", t0), 20)
	putDevice(t, s, device(sa, chat.PlatformFCM, long, t0), 20)
	ds, err := s.Devices(ctxT(t), []int64{a.ID}, t0)
	noErr(t, "Devices", err)
	if len(ds) != 2 {
		t.Fatalf("Devices: got %d, want 2", len(ds))
	}
	for _, d := range ds {
		if d.Token == "tok-1" && (d.ID != first.ID || d.Platform != chat.PlatformAPNs || d.Family != sa.Family || d.Locale != "ru" || !d.UpdatedAt.Equal(t0)) {
			t.Fatalf("device read back: got %+v, want %+v", d, first)
		}
		if d.Platform == chat.PlatformFCM && d.Token != long {
			t.Fatalf("long token: got %d characters, want %d", len(d.Token), len(long))
		}
	}
	// The same token again updates the device in place.
	again := device(sa, chat.PlatformAPNs, "tok-1", t0.Add(time.Minute))
	again.Locale, again.TimeZone, again.AppID = "en-US", "Europe/Moscow", "com.example.app"
	got, _ := putDevice(t, s, again, 20)
	if got.ID != first.ID || !got.CreatedAt.Equal(t0) || got.Locale != "en-US" {
		t.Fatalf("re-registering: got %+v, want device %d updated", got, first.ID)
	}
	// Registered by another user, the token moves.
	moved, _ := putDevice(t, s, device(sb, chat.PlatformAPNs, "tok-1", t0.Add(2*time.Minute)), 20)
	if moved.ID != first.ID || moved.UserID != b.ID || moved.Family != sb.Family {
		t.Fatalf("moving a token: got %+v, want device %d with user %d", moved, first.ID, b.ID)
	}
	wantTokens(t, "devices after the move", devicesOf(t, s, t0, a.ID, b.ID),
		fmt.Sprintf("%d:%s", a.ID, long), fmt.Sprintf("%d:tok-1", b.ID))
}

func testDeviceCap(t *testing.T, s chat.Store) {
	u := newUser(t, s, "+79990000111")
	ss := newSession(u.ID, "")
	mustCreateSession(t, s, ss)
	for i := range 3 {
		_, evicted := putDevice(t, s, device(ss, chat.PlatformFCM, fmt.Sprint("t", i), t0.Add(time.Duration(i)*time.Minute)), 3)
		if evicted != 0 {
			t.Fatalf("device %d of 3: evicted %d, want 0", i+1, evicted)
		}
	}
	// Re-registering the oldest makes it the newest.
	putDevice(t, s, device(ss, chat.PlatformFCM, "t0", t0.Add(10*time.Minute)), 3)
	_, evicted := putDevice(t, s, device(ss, chat.PlatformFCM, "t3", t0.Add(11*time.Minute)), 3)
	if evicted != 1 {
		t.Fatalf("a fourth device: evicted %d, want 1", evicted)
	}
	id := u.ID
	wantTokens(t, "devices over the cap", devicesOf(t, s, t0, id),
		fmt.Sprintf("%d:t0", id), fmt.Sprintf("%d:t2", id), fmt.Sprintf("%d:t3", id))
}

func testDeleteDevice(t *testing.T, s chat.Store) {
	a, b := newUser(t, s, "+79990000121"), newUser(t, s, "+79990000122")
	sa := newSession(a.ID, "")
	mustCreateSession(t, s, sa)
	putDevice(t, s, device(sa, chat.PlatformAPNs, "tok-a", t0), 20)
	wantErrIs(t, "DeleteDevice of another user's token", s.DeleteDevice(ctxT(t), b.ID, "tok-a"), chat.ErrNotFound)
	noErr(t, "DeleteDevice", s.DeleteDevice(ctxT(t), a.ID, "tok-a"))
	wantErrIs(t, "DeleteDevice twice", s.DeleteDevice(ctxT(t), a.ID, "tok-a"), chat.ErrNotFound)
	wantTokens(t, "devices after delete", devicesOf(t, s, t0, a.ID))
}

// testDeviceEndsWithSession: every way a session ends stops its devices'
// pushes, and the ways that end it explicitly drop them.
func testDeviceEndsWithSession(t *testing.T, s chat.Store) {
	ctx := ctxT(t)
	u := newUser(t, s, "+79990000131")
	logout, reused, expiring, other := newSession(u.ID, "1"), newSession(u.ID, "2"), newSession(u.ID, "3"), newSession(u.ID, "4")
	expiring.ExpiresAt = t0.Add(time.Hour)
	for i, ss := range []chat.Session{logout, reused, expiring, other} {
		mustCreateSession(t, s, ss)
		putDevice(t, s, device(ss, chat.PlatformFCM, fmt.Sprint("tok-", i+1), t0), 20)
	}
	id := u.ID
	all := []string{fmt.Sprintf("%d:tok-1", id), fmt.Sprintf("%d:tok-2", id), fmt.Sprintf("%d:tok-3", id), fmt.Sprintf("%d:tok-4", id)}
	wantTokens(t, "devices of four live sessions", devicesOf(t, s, t0, id), all...)

	// Logout.
	noErr(t, "RevokeFamily", s.RevokeFamily(ctx, logout.Family, t0))
	// A rotated refresh token presented again revokes the family.
	now := t0.Add(time.Minute)
	_, err := s.RotateSession(ctx, reused.RefreshHash, nextSession(now), now)
	noErr(t, "RotateSession", err)
	_, err = s.RotateSession(ctx, reused.RefreshHash, nextSession(now), now)
	wantErrIs(t, "RotateSession with a reused token", err, chat.ErrTokenReused)
	wantTokens(t, "devices after logout and reuse", devicesOf(t, s, now, id), all[2:]...)
	// An expired session's device gets nothing.
	wantTokens(t, "devices after a session expired", devicesOf(t, s, t0.Add(2*time.Hour), id), all[3])
	// Ended families drop the rows, not only hide them: the token can be
	// registered afresh by the next login.
	ss := newSession(u.ID, "5")
	mustCreateSession(t, s, ss)
	got, _ := putDevice(t, s, device(ss, chat.PlatformFCM, "tok-1", now), 20)
	if !got.CreatedAt.Equal(now) {
		t.Fatalf("a logged-out session's token registered again: got created %v, want a new device at %v", got.CreatedAt, now)
	}
}

func testRemoveDevice(t *testing.T, s chat.Store) {
	u := newUser(t, s, "+79990000141")
	ss := newSession(u.ID, "")
	mustCreateSession(t, s, ss)
	stale, _ := putDevice(t, s, device(ss, chat.PlatformAPNs, "tok", t0), 20)
	// Registered again after the push that found it dead was sent.
	putDevice(t, s, device(ss, chat.PlatformAPNs, "tok", t0.Add(time.Minute)), 20)
	removed, err := s.RemoveDevice(ctxT(t), stale)
	noErr(t, "RemoveDevice", err)
	if removed {
		t.Fatal("RemoveDevice of a token registered again since: got removed, want kept")
	}
	ds, err := s.Devices(ctxT(t), []int64{u.ID}, t0)
	noErr(t, "Devices", err)
	if len(ds) != 1 {
		t.Fatalf("Devices: got %d, want 1", len(ds))
	}
	removed, err = s.RemoveDevice(ctxT(t), ds[0])
	noErr(t, "RemoveDevice", err)
	if !removed {
		t.Fatal("RemoveDevice of an unchanged device: got kept, want removed")
	}
	wantTokens(t, "devices after removal", devicesOf(t, s, t0, u.ID))
}

func testDeviceUnknownUser(t *testing.T, s chat.Store) {
	_, _, err := s.PutDevice(ctxT(t), chat.Device{ID: chat.NewID(), UserID: 404, Family: 1, Platform: chat.PlatformFCM,
		Token: "tok", CreatedAt: t0, UpdatedAt: t0}, 20)
	wantErrIs(t, "PutDevice of an unknown user", err, chat.ErrNotFound)
}

func testPushReads(t *testing.T, s chat.Store) {
	us := users(t, s, 3)
	d1 := direct(t, s, us[0].ID, us[1].ID, "", t0)
	d2 := direct(t, s, us[0].ID, us[2].ID, "", t0)
	m1 := send(t, s, d1.ID, us[0].ID, 2, t0)
	m2 := send(t, s, d2.ID, us[2].ID, 1, t0)
	ms, err := s.MembersAt(ctxT(t), []chat.MemberKey{{DialogID: d1.ID, UserID: us[1].ID}, {DialogID: d2.ID, UserID: us[0].ID},
		{DialogID: d1.ID, UserID: us[2].ID}, {DialogID: d1.ID, UserID: us[1].ID}})
	noErr(t, "MembersAt", err)
	if len(ms) != 2 {
		t.Fatalf("MembersAt: got %d, want the 2 that exist, once each", len(ms))
	}
	msgs, err := s.MessagesAt(ctxT(t), []chat.MessageKey{{DialogID: d1.ID, Seq: 2}, {DialogID: d2.ID, Seq: 1}, {DialogID: d2.ID, Seq: 9}})
	noErr(t, "MessagesAt", err)
	if len(msgs) != 2 {
		t.Fatalf("MessagesAt: got %d, want 2", len(msgs))
	}
	for _, m := range msgs {
		want := m1[1]
		if m.DialogID == d2.ID {
			want = m2[0]
		}
		checkMessage(t, "MessagesAt", m, want)
	}
}

func testUnreadTotals(t *testing.T, s chat.Store) {
	us := users(t, s, 3)
	d1 := direct(t, s, us[0].ID, us[1].ID, "", t0)
	d2 := direct(t, s, us[2].ID, us[1].ID, "", t0)
	send(t, s, d1.ID, us[0].ID, 3, t0)
	send(t, s, d2.ID, us[2].ID, 2, t0)
	commit(t, s, &chat.Batch{Receipts: []chat.Receipt{{DialogID: d1.ID, UserID: us[1].ID, Delivered: 1, Read: 1}}})
	got, err := s.UnreadTotals(ctxT(t), []int64{us[1].ID, us[0].ID, 404})
	noErr(t, "UnreadTotals", err)
	// Boris: 2 unread in d1, 2 in d2; Anna's own messages count as read.
	if got[us[1].ID] != 4 || got[us[0].ID] != 0 || got[404] != 0 || len(got) != 3 {
		t.Fatalf("UnreadTotals: got %v, want 4 for the reader, 0 for the sender and for a user with no dialogs", got)
	}
}

func testMarkPushed(t *testing.T, s chat.Store) {
	us := users(t, s, 2)
	d := direct(t, s, us[0].ID, us[1].ID, "", t0)
	send(t, s, d.ID, us[0].ID, 5, t0)
	k := func(seq int64, clear bool) chat.PushMark {
		return chat.PushMark{DialogID: d.ID, UserID: us[1].ID, Seq: seq, Clear: clear}
	}
	pushed := func() int64 { return member(t, s, d.ID, us[1].ID).PushedSeq }
	noErr(t, "MarkPushed", s.MarkPushed(ctxT(t), []chat.PushMark{k(2, false), k(3, false), k(1, false)}))
	if got := pushed(); got != 3 {
		t.Fatalf("pushed_seq after alerts for 2, 3, 1: got %d, want 3", got)
	}
	// A read of 2 leaves the alert for 3 on the phone: not cleared.
	noErr(t, "MarkPushed", s.MarkPushed(ctxT(t), []chat.PushMark{k(2, true)}))
	if got := pushed(); got != 3 {
		t.Fatalf("pushed_seq after a read of 2: got %d, want 3", got)
	}
	// An alert and the read covering it in one batch end cleared.
	noErr(t, "MarkPushed", s.MarkPushed(ctxT(t), []chat.PushMark{k(5, true), k(4, false)}))
	if got := pushed(); got != 0 {
		t.Fatalf("pushed_seq after alert 4 and read 5: got %d, want 0", got)
	}
	noErr(t, "MarkPushed of nothing", s.MarkPushed(ctxT(t), nil))
}

func testSetMute(t *testing.T, s chat.Store) {
	us := users(t, s, 3)
	d := direct(t, s, us[0].ID, us[1].ID, "", t0)
	before, err := s.DialogVersion(ctxT(t), d.ID)
	noErr(t, "DialogVersion", err)
	until := t0.Add(time.Hour)
	noErr(t, "SetMute", s.SetMute(ctxT(t), d.ID, us[1].ID, until))
	if m := member(t, s, d.ID, us[1].ID); !m.MutedUntil.Equal(until) {
		t.Fatalf("muted_until: got %v, want %v", m.MutedUntil, until)
	}
	if m := member(t, s, d.ID, us[0].ID); !m.MutedUntil.IsZero() {
		t.Fatalf("the other member's muted_until: got %v, want none", m.MutedUntil)
	}
	after, err := s.DialogVersion(ctxT(t), d.ID)
	noErr(t, "DialogVersion", err)
	if after == before {
		t.Fatal("DialogVersion did not move with a mute: the dialog's screens would stay stale")
	}
	noErr(t, "SetMute forever", s.SetMute(ctxT(t), d.ID, us[1].ID, chat.MutedForever))
	if m := member(t, s, d.ID, us[1].ID); !m.MutedUntil.Equal(chat.MutedForever) {
		t.Fatalf("muted forever: got %v", m.MutedUntil)
	}
	noErr(t, "unmute", s.SetMute(ctxT(t), d.ID, us[1].ID, time.Time{}))
	if m := member(t, s, d.ID, us[1].ID); !m.MutedUntil.IsZero() {
		t.Fatalf("unmuted: got muted_until %v", m.MutedUntil)
	}
	wantErrIs(t, "SetMute of a non-member", s.SetMute(ctxT(t), d.ID, us[2].ID, until), chat.ErrNotFound)
}
