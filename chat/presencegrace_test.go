package chat_test

import (
	"context"
	"testing"
	"time"

	"github.com/korobka/korobka/chat"
)

// gracePair is Ann watching Bob (partners who have both written) on a
// service with the reconnect grace given, and Bob online.
func gracePair(t *testing.T, grace time.Duration) (f *fixture, stop func(), ann, bob *user) {
	t.Helper()
	f, stop = newTestServiceWith(t, func(c *chat.Config) { c.PresenceGrace = grace })
	ann, bob = f.newUser(t, "Ann"), f.newUser(t, "Bob")
	d := f.direct(t, ann, bob)
	f.send(t, ann, d, "hi", "hi")
	f.send(t, bob, d, "hello", "hello")
	f.svc.Connected(context.Background(), bob.id)
	if evs := ann.events.of(t, "presence"); len(evs) != 1 || evs[0].Online == nil || !*evs[0].Online {
		t.Fatalf("presence events after bob came online: %+v", evs)
	}
	return f, stop, ann, bob
}

// TestPresenceGraceReconnect (issue 15): a user who reconnects within the
// grace stayed online: the watcher hears nothing, not even after the stop,
// and no last seen is written.
func TestPresenceGraceReconnect(t *testing.T) {
	f, stop, ann, bob := gracePair(t, time.Hour) // never fires within the test
	ctx := context.Background()
	for range 3 {
		f.svc.Disconnected(ctx, bob.id)
		f.svc.Connected(ctx, bob.id)
	}
	prof, err := f.svc.User(ctx, ann.p, bob.id)
	if err != nil || prof.Online == nil || !*prof.Online || prof.LastSeen != nil {
		t.Errorf("bob as ann sees him after reconnects: %v %+v, want online", err, prof)
	}
	stop()
	if evs := ann.events.of(t, "presence"); len(evs) != 1 {
		t.Errorf("presence events after reconnects within the grace: %+v, want only the first online", evs)
	}
	if u, err := f.store.User(ctx, bob.id); err != nil || !u.LastSeenAt.IsZero() {
		t.Errorf("bob's stored last seen after reconnects: %v %v, want none", err, u.LastSeenAt)
	}
}

// TestPresenceGraceOffline (issue 15): a close without a reconnect is
// announced once, after the grace, with the time of the close as last seen.
func TestPresenceGraceOffline(t *testing.T) {
	f, stop, ann, bob := gracePair(t, 20*time.Millisecond)
	ctx := context.Background()
	before := f.clock.Now().Truncate(time.Second)
	f.svc.Disconnected(ctx, bob.id)
	closed := f.clock.Now()
	// Whatever the grace's timer reads later is a day on.
	f.clock.Advance(24 * time.Hour)
	evs := ann.events.wait(t, "presence", 2)
	if len(evs) != 2 || evs[1].Online == nil || *evs[1].Online || evs[1].LastSeen == nil {
		t.Fatalf("presence events after the grace: %+v, want online then offline", evs)
	}
	if at := *evs[1].LastSeen; at.Before(before) || at.After(closed) {
		t.Errorf("announced last seen %v, want the close, within [%v, %v]", at, before, closed)
	}
	prof, err := f.svc.User(ctx, ann.p, bob.id)
	if err != nil || prof.Online == nil || *prof.Online || prof.LastSeen == nil || !prof.LastSeen.Equal(*evs[1].LastSeen) {
		t.Errorf("bob as ann sees him after the grace: %v %+v, want offline, last seen %v", err, prof, evs[1].LastSeen)
	}
	stop()
	if n := len(ann.events.of(t, "presence")); n != 2 {
		t.Errorf("%d presence events after the stop, want 2: offline is announced once", n)
	}
	if u, err := f.store.User(ctx, bob.id); err != nil || !u.LastSeenAt.Equal(*evs[1].LastSeen) {
		t.Errorf("bob's stored last seen: %v %v, want %v", err, u.LastSeenAt, evs[1].LastSeen)
	}
}

// TestPresenceGraceShutdown (issue 15): the stop runs the offline steps
// still in their grace at once, so nobody stays online, and a close after
// the stop goes offline at once.
func TestPresenceGraceShutdown(t *testing.T) {
	f, stop, ann, bob := gracePair(t, time.Hour)
	ctx := context.Background()
	carl := f.newUser(t, "Carl")
	d := f.direct(t, ann, carl)
	f.send(t, ann, d, "hi", "hi2")
	f.send(t, carl, d, "hello", "hello2")
	f.svc.Connected(ctx, carl.id)
	f.svc.Disconnected(ctx, bob.id)
	closed := f.clock.Now()
	if n := len(ann.events.of(t, "presence")); n != 2 {
		t.Fatalf("%d presence events within the grace, want the 2 online", n)
	}
	stop()
	evs := ann.events.of(t, "presence")
	if len(evs) != 3 || evs[2].UserID != chat.FormatID(bob.id) || evs[2].Online == nil || *evs[2].Online || evs[2].LastSeen == nil || evs[2].LastSeen.After(closed) {
		t.Fatalf("presence events after the stop: %+v, want bob offline at his close", evs)
	}
	if u, err := f.store.User(ctx, bob.id); err != nil || !u.LastSeenAt.Equal(*evs[2].LastSeen) {
		t.Errorf("bob's stored last seen after the stop: %v %v, want %v", err, u.LastSeenAt, evs[2].LastSeen)
	}
	f.svc.Disconnected(ctx, carl.id)
	evs = ann.events.of(t, "presence")
	if len(evs) != 4 || evs[3].UserID != chat.FormatID(carl.id) || evs[3].Online == nil || *evs[3].Online {
		t.Errorf("presence events after a close past the stop: %+v, want carl offline at once", evs)
	}
}
