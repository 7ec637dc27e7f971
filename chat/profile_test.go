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
	// A contact's phone and presence become visible.
	prof, err := f.svc.User(ctx, ann.p, bob.id)
	if err != nil || prof.Phone != bob.phone || prof.Online == nil || *prof.Online {
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

	// Bob's presence reaches Ann, who has his number, without a dialog.
	f.svc.Connected(ctx, bob.id)
	if evs := ann.events.of(t, "presence"); len(evs) != 1 || evs[0].UserID != chat.FormatID(bob.id) {
		t.Errorf("presence events of a contact: %+v", evs)
	}
}
