package chat_test

import (
	"context"
	"strings"
	"testing"

	"github.com/korobka/korobka/chat"
)

func TestProfile(t *testing.T) {
	f := newTestService(t)
	ctx := context.Background()
	ann := f.newUser(t, "")

	me, err := f.svc.Me(ctx, ann.p)
	if err != nil || me.Phone != ann.phone || me.FirstName != "" || me.ID != chat.FormatID(ann.id) {
		t.Errorf("me: %v %+v", err, me)
	}
	first, last := "  Ann ", " Lee"
	me, err = f.svc.UpdateMe(ctx, ann.p, chat.ProfileUpdate{FirstName: &first, LastName: &last})
	if err != nil || me.FirstName != "Ann" || me.LastName != "Lee" || me.Phone != ann.phone {
		t.Errorf("update: %v %+v", err, me)
	}
	// A last name can be emptied, a first name cannot.
	empty := " "
	me, err = f.svc.UpdateMe(ctx, ann.p, chat.ProfileUpdate{LastName: &empty})
	if err != nil || me.FirstName != "Ann" || me.LastName != "" {
		t.Errorf("emptying the last name: %v %+v", err, me)
	}
	for _, bad := range []string{"", "  ", strings.Repeat("a", chat.MaxNameLen+1), "tab\tname", "bad\xff"} {
		_, err = f.svc.UpdateMe(ctx, ann.p, chat.ProfileUpdate{FirstName: &bad})
		wantErr(t, "first name "+bad, err, chat.ErrInvalidName)
	}
	bad := "x\x00"
	_, err = f.svc.UpdateMe(ctx, ann.p, chat.ProfileUpdate{LastName: &bad})
	wantErr(t, "a control character in the last name", err, chat.ErrInvalidName)

	me, err = f.svc.SetAvatar(ctx, ann.p, strings.NewReader("jpeg bytes"))
	if err != nil || me.AvatarURL == "" || me.AvatarThumbURL == "" {
		t.Fatalf("set avatar: %v %+v", err, me)
	}
	old := me.AvatarURL
	me, err = f.svc.SetAvatar(ctx, ann.p, strings.NewReader("more jpeg bytes"))
	if err != nil || me.AvatarURL == old {
		t.Errorf("replace avatar: %v %+v", err, me)
	}
	f.images.mu.Lock()
	deleted := append([]string(nil), f.images.deleted...)
	f.images.mu.Unlock()
	if len(deleted) != 1 || chat.AvatarURL(deleted[0]) != old {
		t.Errorf("deleted avatars %v, want the replaced one (%s)", deleted, old)
	}

	_, err = f.svc.User(ctx, ann.p, ann.id+1)
	wantErr(t, "no such user", err, chat.ErrNotFound)
	self, err := f.svc.User(ctx, ann.p, ann.id)
	if err != nil || self.Phone != ann.phone {
		t.Errorf("oneself: %v %+v", err, self)
	}
}

func TestContacts(t *testing.T) {
	f := newTestService(t)
	ctx := context.Background()
	ann, bob, cid := f.newUser(t, "Ann"), f.newUser(t, "Bob"), f.newUser(t, "Cid")

	// Bob's number in local format, a duplicate, an unregistered number,
	// junk, and Ann's own number.
	local := "8" + bob.phone[2:]
	got, err := f.svc.SyncContacts(ctx, ann.p, []string{local, bob.phone, "+79161234567", "Mom", ann.phone})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].ID != chat.FormatID(bob.id) || got[0].Phone != bob.phone || got[0].FirstName != "Bob" {
		t.Errorf("sync answered %+v, want bob with his phone", got)
	}
	// A contact's phone becomes visible; presence only once Bob has Ann's
	// number too (presence is shared both ways or not at all).
	prof, err := f.svc.User(ctx, ann.p, bob.id)
	if err != nil || prof.Phone != bob.phone || prof.Online != nil {
		t.Errorf("bob as a contact: %v %+v", err, prof)
	}
	prof, err = f.svc.User(ctx, ann.p, cid.id)
	if err != nil || prof.Phone != "" || prof.Online != nil {
		t.Errorf("cid, not a contact: %v %+v", err, prof)
	}

	got, err = f.svc.AddContact(ctx, ann.p, cid.phone)
	if err != nil || len(got) != 1 || got[0].ID != chat.FormatID(cid.id) {
		t.Errorf("add contact: %v %+v", err, got)
	}
	_, err = f.svc.AddContact(ctx, ann.p, "Mom")
	wantErr(t, "adding no number", err, chat.ErrInvalidPhone)

	list, err := f.svc.Contacts(ctx, ann.p, "", 0)
	if err != nil || len(list) != 2 || list[0].FirstName != "Bob" || list[1].FirstName != "Cid" {
		t.Errorf("contacts: %v %+v", err, list)
	}
	list, err = f.svc.Contacts(ctx, ann.p, "ci", 10)
	if err != nil || len(list) != 1 || list[0].ID != chat.FormatID(cid.id) {
		t.Errorf("contacts matching ci: %v %+v", err, list)
	}
	_, err = f.svc.Contacts(ctx, ann.p, strings.Repeat("q", 65), 10)
	wantCode(t, "a long query", err, "invalid_query")
	_, err = f.svc.SyncContacts(ctx, ann.p, make([]string, chat.MaxSyncPhones+1))
	wantErr(t, "too many phones", err, chat.ErrTooManyPhones)

	// Bob's presence reaches Ann without a dialog once each has the
	// other's number.
	if _, err := f.svc.SyncContacts(ctx, bob.p, []string{ann.phone}); err != nil {
		t.Fatal(err)
	}
	f.svc.Connected(ctx, bob.id)
	if evs := ann.events.of(t, "presence"); len(evs) != 1 || evs[0].UserID != chat.FormatID(bob.id) {
		t.Errorf("presence events of a contact: %+v", evs)
	}
}

// seesPresence reports whether viewer's view of u carries presence.
func seesPresence(t *testing.T, f *fixture, viewer, u *user) bool {
	t.Helper()
	prof, err := f.svc.User(context.Background(), viewer.p, u.id)
	if err != nil {
		t.Fatal(err)
	}
	if prof.Online == nil && prof.LastSeen != nil {
		t.Fatalf("a profile with last_seen but no online: %+v", prof)
	}
	return prof.Online != nil
}

// TestPresenceIsSharedWithConsent: opening a dialog, or writing into one,
// reveals nothing; presence goes to partners who wrote to each other and
// to contacts, as each one's setting allows, both ways or not at all, in
// events and in profiles alike.
func TestPresenceIsSharedWithConsent(t *testing.T) {
	f := newTestService(t)
	ctx := context.Background()
	bob, eve := f.newUser(t, "Bob"), f.newUser(t, "Eve")
	cycle := func() { // bob comes online and goes again
		f.svc.Connected(ctx, bob.id)
		f.svc.Disconnected(ctx, bob.id)
	}

	me, err := f.svc.Me(ctx, bob.p)
	if err != nil || me.Presence != chat.PresenceEverybody {
		t.Fatalf("the default setting in one's own profile: %v %q, want everybody", err, me.Presence)
	}

	// A stranger opens a dialog and writes: nothing.
	d := f.direct(t, eve, bob)
	f.send(t, eve, d, "e1", "hi, remember me?")
	cycle()
	if evs := eve.events.of(t, "presence"); len(evs) != 0 {
		t.Fatalf("presence events to someone who only opened a dialog and wrote: %+v", evs)
	}
	if seesPresence(t, f, eve, bob) {
		t.Fatal("a stranger who wrote sees presence in the profile")
	}
	view, err := f.svc.Dialog(ctx, eve.p, d)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range view.Members {
		if m.Online != nil || m.LastSeen != nil {
			t.Fatalf("presence in a dialog view: %+v", m)
		}
	}

	// Bob answers: they have written to each other.
	f.send(t, bob, d, "b1", "yes")
	cycle()
	if evs := eve.events.wait(t, "presence", 2); *evs[0].Online != true || *evs[1].Online != false || evs[1].LastSeen == nil {
		t.Fatalf("presence events once both wrote: %+v", evs)
	}
	if !seesPresence(t, f, eve, bob) || !seesPresence(t, f, bob, eve) {
		t.Fatal("partners who wrote to each other do not see each other's presence")
	}

	// "contacts": only numbers in Bob's own book. Eve is told it is gone.
	contacts := chat.PresenceContacts
	me, err = f.svc.UpdateMe(ctx, bob.p, chat.ProfileUpdate{Presence: &contacts})
	if err != nil || me.Presence != chat.PresenceContacts {
		t.Fatalf("setting contacts: %v %+v", err, me)
	}
	evs := eve.events.wait(t, "presence", 3)
	if gone := evs[2]; gone.UserID != chat.FormatID(bob.id) || *gone.Online || gone.LastSeen != nil {
		t.Fatalf("the event telling Eve presence is gone: %+v", gone)
	}
	cycle()
	if n := len(eve.events.of(t, "presence")); n != 3 || seesPresence(t, f, eve, bob) {
		t.Fatalf("with contacts, someone not in the book still sees presence (%d events)", n)
	}
	// Eve in Bob's book: shared again (Eve's "everybody" covers Bob, who
	// wrote to her).
	if _, err := f.svc.SyncContacts(ctx, bob.p, []string{eve.phone}); err != nil {
		t.Fatal(err)
	}
	if !seesPresence(t, f, eve, bob) {
		t.Fatal("with contacts, a number in the book does not see presence")
	}

	// "nobody": no one sees Bob's, and Bob sees no one's.
	nobody := chat.PresenceNobody
	before := len(eve.events.of(t, "presence"))
	if _, err := f.svc.UpdateMe(ctx, bob.p, chat.ProfileUpdate{Presence: &nobody}); err != nil {
		t.Fatal(err)
	}
	eve.events.wait(t, "presence", before+1)
	cycle()
	f.svc.Connected(ctx, eve.id)
	if n := len(eve.events.of(t, "presence")); n != before+1 {
		t.Errorf("with nobody: %d presence events, want only the one saying it is gone", n-before)
	}
	if evs := bob.events.of(t, "presence"); len(evs) != 0 {
		t.Errorf("with nobody, Bob still gets presence: %+v", evs)
	}
	if seesPresence(t, f, eve, bob) || seesPresence(t, f, bob, eve) {
		t.Error("with nobody, presence is still seen in profiles")
	}

	bad := chat.PresenceSetting("friends")
	_, err = f.svc.UpdateMe(ctx, bob.p, chat.ProfileUpdate{Presence: &bad})
	wantErr(t, "an unknown setting", err, chat.ErrInvalidPresence)
}
