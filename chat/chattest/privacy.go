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
