package chattest

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/korobka/korobka/chat"
)

// The store's part of the privacy rules: address books that cannot grow
// without bound, and presence shared only with consent.

// bookPhones returns n distinct numbers starting at +7998<from>.
func bookPhones(from, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("+7998%07d", from+i)
	}
	return out
}

func testCountNewContacts(t *testing.T, s chat.Store) {
	ctx := ctxT(t)
	owner := newUser(t, s, "+79990000500")
	fresh, size, err := s.CountNewContacts(ctx, owner.ID, bookPhones(0, 3))
	noErr(t, "CountNewContacts of an empty book", err)
	if fresh != 3 || size != 0 {
		t.Errorf("CountNewContacts of an empty book: got (%d, %d), want (3, 0)", fresh, size)
	}
	_, err = s.SyncContacts(ctx, owner.ID, bookPhones(0, 3))
	noErr(t, "SyncContacts", err)
	// Two known, two new, one repeated, one empty.
	phones := append(bookPhones(1, 4), bookPhones(4, 1)[0], "")
	fresh, size, err = s.CountNewContacts(ctx, owner.ID, phones)
	noErr(t, "CountNewContacts", err)
	if fresh != 2 || size != 3 {
		t.Errorf("CountNewContacts(%q): got (%d, %d), want (2 new, 3 in the book)", phones, fresh, size)
	}
	// Nothing was written.
	if knows, err := s.KnowsPhone(ctx, owner.ID, bookPhones(4, 1)[0]); err != nil || knows {
		t.Errorf("KnowsPhone after CountNewContacts: got (%v, %v), want (false, nil)", knows, err)
	}
	// Someone else's book is not counted.
	other := newUser(t, s, "+79990000501")
	fresh, size, err = s.CountNewContacts(ctx, other.ID, bookPhones(0, 3))
	noErr(t, "CountNewContacts of another book", err)
	if fresh != 3 || size != 0 {
		t.Errorf("CountNewContacts of another book: got (%d, %d), want (3, 0)", fresh, size)
	}
}

// testAddressBookFull fills a book to chat.MaxAddressBook: a sync that
// would pass it stores nothing, one of known numbers still works.
func testAddressBookFull(t *testing.T, s chat.Store) {
	ctx := ctxT(t)
	owner := newUser(t, s, "+79990000510")
	for from := 0; from < chat.MaxAddressBook; from += chat.MaxSyncPhones {
		_, err := s.SyncContacts(ctx, owner.ID, bookPhones(from, chat.MaxSyncPhones))
		noErr(t, "SyncContacts to fill the book", err)
	}
	friend := newUser(t, s, bookPhones(7, 1)[0])
	over := append(bookPhones(0, 10), bookPhones(chat.MaxAddressBook, 1)...)
	_, err := s.SyncContacts(ctx, owner.ID, over)
	wantErrIs(t, "SyncContacts past MaxAddressBook", err, chat.ErrAddressBookFull)
	if knows, err := s.KnowsPhone(ctx, owner.ID, over[len(over)-1]); err != nil || knows {
		t.Errorf("KnowsPhone of a refused number: got (%v, %v), want (false, nil)", knows, err)
	}
	_, size, err := s.CountNewContacts(ctx, owner.ID, nil)
	noErr(t, "CountNewContacts", err)
	if size != chat.MaxAddressBook {
		t.Errorf("book size after a refused sync: got %d, want %d", size, chat.MaxAddressBook)
	}
	got, err := s.SyncContacts(ctx, owner.ID, bookPhones(0, 10))
	noErr(t, "SyncContacts of known numbers into a full book", err)
	if want := idsOf(friend); !slices.Equal(sortedIDs(got), want) {
		t.Errorf("SyncContacts of known numbers: got %v, want %v", sortedIDs(got), want)
	}
}

// testAddressBookFullConcurrent: syncs racing for the last places of a
// book cannot overfill it together.
func testAddressBookFullConcurrent(t *testing.T, s chat.Store) {
	ctx := ctxT(t)
	owner := newUser(t, s, "+79990000520")
	const free, racers, each = 10, 4, 6
	for from := 0; from < chat.MaxAddressBook-free; from += chat.MaxSyncPhones {
		_, err := s.SyncContacts(ctx, owner.ID, bookPhones(from, min(chat.MaxSyncPhones, chat.MaxAddressBook-free-from)))
		noErr(t, "SyncContacts to fill the book", err)
	}
	errs := make([]error, racers)
	var wg sync.WaitGroup
	for i := range racers {
		wg.Go(func() {
			_, errs[i] = s.SyncContacts(ctx, owner.ID, bookPhones(chat.MaxAddressBook+i*each, each))
		})
	}
	wg.Wait()
	stored := 0
	for _, err := range errs {
		switch {
		case err == nil:
			stored++
		case errors.Is(err, chat.ErrAddressBookFull):
		default:
			t.Fatalf("a racing SyncContacts: %v", err)
		}
	}
	if stored != free/each {
		t.Errorf("racing syncs of %d numbers into %d free places: %d stored, want %d", each, free, stored, free/each)
	}
	_, size, err := s.CountNewContacts(ctx, owner.ID, nil)
	noErr(t, "CountNewContacts", err)
	if size > chat.MaxAddressBook {
		t.Errorf("book size after racing syncs: got %d, want at most %d", size, chat.MaxAddressBook)
	}
}

func testPresenceSetting(t *testing.T, s chat.Store) {
	ctx := ctxT(t)
	u := newUser(t, s, "+79990000530")
	if u.Presence != chat.PresenceEverybody {
		t.Errorf("a new user's presence setting: got %q, want %q", u.Presence, chat.PresenceEverybody)
	}
	for _, p := range []chat.PresenceSetting{chat.PresenceNobody, chat.PresenceContacts, chat.PresenceEverybody} {
		got, err := s.UpdateProfile(ctx, u.ID, chat.ProfileUpdate{Presence: &p})
		noErr(t, "UpdateProfile", err)
		if got.Presence != p {
			t.Errorf("UpdateProfile to %q: got %q", p, got.Presence)
		}
		read, err := s.User(ctx, u.ID)
		noErr(t, "User", err)
		if read.Presence != p {
			t.Errorf("User after setting %q: got %q", p, read.Presence)
		}
	}
	// Changing names leaves the setting alone.
	nobody := chat.PresenceNobody
	_, err := s.UpdateProfile(ctx, u.ID, chat.ProfileUpdate{Presence: &nobody})
	noErr(t, "UpdateProfile", err)
	name := "Ann"
	got, err := s.UpdateProfile(ctx, u.ID, chat.ProfileUpdate{FirstName: &name})
	noErr(t, "UpdateProfile", err)
	if got.Presence != chat.PresenceNobody || got.FirstName != "Ann" {
		t.Errorf("UpdateProfile of a name: got %q %q, want Ann with the setting kept", got.FirstName, got.Presence)
	}
}

// presenceCase is one relationship between two users.
type presenceCase struct {
	uHasW, wHasU bool // each other's number in the address book
	dialog       bool // a direct dialog between them
	uWrote       bool // u sent a message in it
	wWrote       bool // w sent a message in it
}

// shares is the rule of chat.DialogStore.Watchers, written out for the
// test: whether x, with setting p, shares presence with y.
func shares(p chat.PresenceSetting, inBook, talked bool) bool {
	switch p {
	case chat.PresenceEverybody:
		return inBook || talked
	case chat.PresenceContacts:
		return inBook
	}
	return false
}

// testPresenceConsent checks Watchers and Watches against the rule for
// every setting of two users and every relationship between them: the
// address books either way, a direct dialog with messages none, one or
// both ways.
func testPresenceConsent(t *testing.T, s MessageStoreUnderTest) {
	ctx := ctxT(t)
	settings := []chat.PresenceSetting{chat.PresenceEverybody, chat.PresenceContacts, chat.PresenceNobody}
	var cases []presenceCase
	for bits := range 32 {
		c := presenceCase{bits&1 != 0, bits&2 != 0, bits&4 != 0, bits&8 != 0, bits&16 != 0}
		if c.dialog || !c.uWrote && !c.wWrote {
			cases = append(cases, c)
		}
	}
	n := 0
	var all []int64
	for _, c := range cases {
		for _, pu := range settings {
			for _, pw := range settings {
				n++
				u := newUser(t, s, fmt.Sprintf("+7999666%04d", 2*n))
				w := newUser(t, s, fmt.Sprintf("+7999666%04d", 2*n+1))
				all = append(all, u.ID, w.ID)
				for _, x := range []struct {
					user chat.User
					p    chat.PresenceSetting
				}{{u, pu}, {w, pw}} {
					_, err := s.UpdateProfile(ctx, x.user.ID, chat.ProfileUpdate{Presence: &x.p})
					noErr(t, "UpdateProfile", err)
				}
				if c.uHasW {
					_, err := s.SyncContacts(ctx, u.ID, []string{w.Phone})
					noErr(t, "SyncContacts", err)
				}
				if c.wHasU {
					_, err := s.SyncContacts(ctx, w.ID, []string{u.Phone})
					noErr(t, "SyncContacts", err)
				}
				if c.dialog {
					d := direct(t, s, u.ID, w.ID, "", t0)
					if c.uWrote {
						send(t, s, d.ID, u.ID, 1, t0)
					}
					if c.wWrote {
						send(t, s, d.ID, w.ID, 1, t0)
					}
				}
				talked := c.uWrote && c.wWrote
				want := shares(pu, c.uHasW, talked) && shares(pw, c.wHasU, talked)
				what := fmt.Sprintf("%+v, settings %s and %s", c, pu, pw)
				for _, pair := range [][2]chat.User{{u, w}, {w, u}} {
					subject, viewer := pair[0], pair[1]
					watchers, err := s.Watchers(ctx, subject.ID)
					noErr(t, "Watchers", err)
					if got := slices.Contains(watchers, viewer.ID); got != want {
						t.Errorf("%s: Watchers of %d contain %d: got %v, want %v", what, subject.ID, viewer.ID, got, want)
					}
					if len(watchers) > 1 || len(watchers) == 1 && watchers[0] != viewer.ID {
						t.Errorf("%s: Watchers of %d: got %v, want only %d or none", what, subject.ID, watchers, viewer.ID)
					}
					got, err := s.Watches(ctx, viewer.ID, subject.ID)
					noErr(t, "Watches", err)
					if got != want {
						t.Errorf("%s: Watches(%d, %d): got %v, want %v", what, viewer.ID, subject.ID, got, want)
					}
				}
			}
		}
	}
	// Every case at once: more users than one WatchersOf query covers.
	if len(all) <= chat.MaxWatchersOf {
		t.Fatalf("%d users, want more than %d", len(all), chat.MaxWatchersOf)
	}
	wantWatchersOf(t, s, all)
}

// testWatchersMany: several watchers by both ways at once, each once, in
// order; dialogs of others and unknown users contribute nothing.
func testWatchersMany(t *testing.T, s MessageStoreUnderTest) {
	ctx := ctxT(t)
	u := users(t, s, 7)
	me := u[0]
	talk := func(a, b chat.User, subject string) {
		d := direct(t, s, a.ID, b.ID, subject, t0)
		send(t, s, d.ID, a.ID, 1, t0)
		send(t, s, d.ID, b.ID, 1, t0)
	}
	talk(me, u[1], "")
	talk(u[2], me, "")
	talk(u[2], me, "listing:1")                                         // the same partner twice
	talk(u[4], u[5], "")                                                // not mine
	send(t, s, direct(t, s, me.ID, u[6].ID, "", t0).ID, u[6].ID, 3, t0) // one way only
	for _, owner := range []chat.User{u[3], u[1], me} {
		_, err := s.SyncContacts(ctx, owner.ID, []string{me.Phone})
		noErr(t, "SyncContacts", err)
	}
	_, err := s.SyncContacts(ctx, me.ID, []string{u[3].Phone, u[1].Phone, u[5].Phone})
	noErr(t, "SyncContacts", err)
	got, err := s.Watchers(ctx, me.ID)
	noErr(t, "Watchers", err)
	if want := idsOf(u[1], u[2], u[3]); !slices.Equal(got, want) {
		t.Errorf("Watchers: got %v, want %v", got, want)
	}
	wantWatchersOf(t, s, append(idsOf(u...), 987654321, me.ID))
	got, err = s.Watchers(ctx, 987654321)
	noErr(t, "Watchers of an unknown user", err)
	if len(got) != 0 {
		t.Errorf("Watchers of an unknown user: got %v, want none", got)
	}
	if w, err := s.Watches(ctx, me.ID, 987654321); err != nil || w {
		t.Errorf("Watches of an unknown user: got (%v, %v), want (false, nil)", w, err)
	}
}

// wantWatchersOf checks that WatchersOf of ids (in one query, and in
// several) equals Watchers of each.
func wantWatchersOf(t *testing.T, s MessageStoreUnderTest, ids []int64) {
	t.Helper()
	ctx := ctxT(t)
	got, err := s.WatchersOf(ctx, ids)
	noErr(t, "WatchersOf", err)
	for _, id := range ids {
		want, err := s.Watchers(ctx, id)
		noErr(t, "Watchers", err)
		if w, ok := got[id]; !slices.Equal(w, want) || ok && len(w) == 0 {
			t.Errorf("WatchersOf: %d has %v (present %v), Watchers says %v", id, w, ok, want)
		}
	}
	for id := range got {
		if !slices.Contains(ids, id) {
			t.Errorf("WatchersOf: %d was not asked for", id)
		}
	}
}
