package chat

import (
	"context"
	"strings"
	"time"
	"unicode/utf8"
)

// Contact limits.
const (
	MaxSyncPhones      = 5000
	DefaultContactsMax = 5000
	// MaxAddressBook is how many numbers one user's address book may hold:
	// twice the largest sync, far above a person's phone book, and a bound
	// on how many numbers one account can ever look up.
	MaxAddressBook = 10_000
	maxQueryLen    = 64
)

// limitNewContactsPerUser is the budget of numbers a user may add to their
// address book, counted per number and only for numbers the book does not
// hold yet (resyncing a book is free): a whole first sync at once, then
// 1,000 a day. With MaxAddressBook it keeps contact sync from being a
// phone-number oracle (docs/api.md, "Contacts", says why these numbers).
var limitNewContactsPerUser = Limit{Rate: 1000, Period: 24 * time.Hour, Burst: MaxSyncPhones}

// Contact errors.
var (
	// ErrTooManyPhones answers a contact sync over MaxSyncPhones numbers.
	ErrTooManyPhones = &Error{Kind: KindInvalid, Code: "too_many_phones", Message: "At most 5000 numbers per call."}
	// ErrAddressBookFull answers a sync that would make the address book
	// hold more than MaxAddressBook numbers; nothing of it is stored.
	ErrAddressBookFull = &Error{Kind: KindConflict, Code: "address_book_full",
		Message: "The address book is full: it holds at most 10000 numbers."}
)

// SyncContacts adds numbers from the caller's address book, in any local
// format, and returns the users registered under them. Entries that are not
// phone numbers are skipped: address books are full of them. A sync is
// taken whole or not at all: one whose new numbers are over the caller's
// daily budget answers contacts_rate_limited, one that would overfill the
// book address_book_full, and neither stores anything.
func (s *Service) SyncContacts(ctx context.Context, p Principal, raw []string) ([]Profile, error) {
	if len(raw) > MaxSyncPhones {
		return nil, ErrTooManyPhones
	}
	if err := s.allow(ctx, "sync:user:"+FormatID(p.UserID), limitSyncPerUser); err != nil {
		return nil, err
	}
	return s.syncContacts(ctx, p, raw, false)
}

// AddContact adds one number typed by the caller (a screen's "add by
// number" form). Unlike a sync, a number that is not one is an error the
// person can correct. It shares the sync's limit, checked first.
func (s *Service) AddContact(ctx context.Context, p Principal, raw string) ([]Profile, error) {
	if err := s.allow(ctx, "sync:user:"+FormatID(p.UserID), limitSyncPerUser); err != nil {
		return nil, err
	}
	return s.syncContacts(ctx, p, []string{raw}, true)
}

// syncContacts reads raw numbers in the region of the caller's own number
// and adds them; strict refuses one that is not a number instead of
// skipping it.
func (s *Service) syncContacts(ctx context.Context, p Principal, raw []string, strict bool) ([]Profile, error) {
	me, err := s.store.User(ctx, p.UserID)
	if err != nil {
		return nil, err
	}
	region := PhoneRegion(me.Phone, s.region)
	seen := make(map[string]struct{}, len(raw))
	phones := make([]string, 0, len(raw))
	for _, r := range raw {
		phone, err := NormalizePhone(r, region)
		if err != nil {
			if strict {
				return nil, err
			}
			continue
		}
		if _, dup := seen[phone]; dup {
			continue
		}
		seen[phone] = struct{}{}
		phones = append(phones, phone)
	}
	if err := s.spendNewContacts(ctx, p, phones); err != nil {
		return nil, err
	}
	users, err := s.store.SyncContacts(ctx, p.UserID, phones)
	if err != nil {
		return nil, err
	}
	return profiles(users, true), nil
}

// spendNewContacts weighs a sync before anything is written: the numbers
// not in the book yet must fit in the book and in the caller's budget.
// Numbers already in the book cost nothing.
func (s *Service) spendNewContacts(ctx context.Context, p Principal, phones []string) error {
	if len(phones) == 0 {
		return nil
	}
	fresh, size, err := s.store.CountNewContacts(ctx, p.UserID, phones)
	if err != nil {
		return err
	}
	if fresh == 0 {
		return nil
	}
	if size+fresh > MaxAddressBook {
		return ErrAddressBookFull
	}
	ok, retry, err := s.limiter.AllowN(ctx, "contacts:new:user:"+FormatID(p.UserID), limitNewContactsPerUser, fresh)
	if err != nil {
		return &Error{Kind: KindUnavailable, Code: "unavailable", Message: "Try again later.", Err: err}
	}
	if !ok {
		return &Error{Kind: KindRateLimited, Code: "contacts_rate_limited",
			Message:    "Too many new numbers today; sync again later.",
			RetryAfter: retry}
	}
	return nil
}

// Contacts lists the registered users in the caller's address book whose
// name contains query, compared in SearchKey form (NFC, case-folded). The
// query is at most 64 characters (grapheme clusters).
func (s *Service) Contacts(ctx context.Context, p Principal, query string, limit int) ([]Profile, error) {
	query = strings.TrimSpace(query)
	if !utf8.ValidString(query) || CharCount(query) > maxQueryLen {
		return nil, &Error{Kind: KindInvalid, Code: "invalid_query", Message: "The search text is at most 64 characters."}
	}
	if limit <= 0 || limit > DefaultContactsMax {
		limit = DefaultContactsMax
	}
	users, err := s.store.Contacts(ctx, p.UserID, query, limit)
	if err != nil {
		return nil, err
	}
	return profiles(users, true), nil
}

func profiles(users []User, showPhone bool) []Profile {
	out := make([]Profile, len(users))
	for i, u := range users {
		out[i] = u.Profile(showPhone)
	}
	return out
}
