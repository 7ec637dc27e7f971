package chat_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/korobka/korobka/chat"
)

// book returns n distinct mobile numbers as an address book writes them.
func book(from, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("8 916 %07d", from+i)
	}
	return out
}

func contactIDs(t *testing.T, f *fixture, u *user) []string {
	t.Helper()
	list, err := f.svc.Contacts(context.Background(), u.p, "", 0)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, p := range list {
		ids = append(ids, p.ID)
	}
	return ids
}

// TestAddressBookIsNotAPhoneNumberOracle: a user adds at most a whole
// book's worth of new numbers at once and then 1,000 a day, resyncing
// known numbers is free, a book holds at most 10,000 numbers, and a
// refused sync stores nothing.
func TestAddressBookIsNotAPhoneNumberOracle(t *testing.T) {
	f := newTestService(t)
	ctx := context.Background()
	ann := f.newUser(t, "Ann")
	bob := f.newUser(t, "Bob")

	if _, err := f.svc.SyncContacts(ctx, ann.p, book(0, chat.MaxSyncPhones)); err != nil {
		t.Fatalf("a first sync of a whole book: %v", err)
	}
	// Bob's number among new ones over the day's budget: refused whole.
	_, err := f.svc.SyncContacts(ctx, ann.p, append(book(chat.MaxSyncPhones, 2), bob.phone))
	wantCode(t, "new numbers past the day's budget", err, "contacts_rate_limited")
	e := chat.ErrorOf(err)
	if e.Kind != chat.KindRateLimited || e.RetryAfter <= 0 || e.RetryAfter > 24*time.Hour {
		t.Fatalf("contacts_rate_limited: %+v, want 429 with a Retry-After within a day", e)
	}
	if ids := contactIDs(t, f, ann); slices.Contains(ids, chat.FormatID(bob.id)) {
		t.Fatalf("a refused sync stored Bob's number: contacts %v", ids)
	}
	// Known numbers cost nothing: the whole book again, and again.
	for range 2 {
		if _, err := f.svc.SyncContacts(ctx, ann.p, book(0, chat.MaxSyncPhones)); err != nil {
			t.Fatalf("resyncing a known book: %v", err)
		}
	}
	// Retry-After is real: after it, the sync goes through.
	f.clock.Advance(e.RetryAfter)
	got, err := f.svc.SyncContacts(ctx, ann.p, append(book(chat.MaxSyncPhones, 2), bob.phone))
	if err != nil || len(got) != 1 || got[0].ID != chat.FormatID(bob.id) {
		t.Fatalf("the sync after Retry-After: %v %+v", err, got)
	}

	// The budget refills 1,000 a day up to a whole book; the book holds
	// at most MaxAddressBook numbers.
	f.clock.Advance(5 * 24 * time.Hour)
	have := chat.MaxSyncPhones + 3
	if _, err := f.svc.SyncContacts(ctx, ann.p, book(have, chat.MaxAddressBook-have)); err != nil {
		t.Fatalf("filling the book to %d: %v", chat.MaxAddressBook, err)
	}
	carol := f.newUser(t, "Carol")
	_, err = f.svc.SyncContacts(ctx, ann.p, []string{carol.phone})
	wantErr(t, "a number past a full book", err, chat.ErrAddressBookFull)
	_, err = f.svc.AddContact(ctx, ann.p, carol.phone)
	wantErr(t, "adding one number to a full book", err, chat.ErrAddressBookFull)
	if ids := contactIDs(t, f, ann); slices.Contains(ids, chat.FormatID(carol.id)) {
		t.Fatalf("a refused sync stored Carol's number: contacts %v", ids)
	}
	if _, err := f.svc.SyncContacts(ctx, ann.p, book(0, 100)); err != nil {
		t.Errorf("resyncing known numbers into a full book: %v", err)
	}

	// Budgets are per user: Bob's is untouched.
	if _, err := f.svc.SyncContacts(ctx, bob.p, book(0, chat.MaxSyncPhones)); err != nil {
		t.Errorf("another user's first sync: %v", err)
	}
}
