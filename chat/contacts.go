package chat

import (
	"context"
	"strings"
	"unicode/utf8"
)

// Contact limits.
const (
	MaxSyncPhones      = 5000
	DefaultContactsMax = 5000
	maxQueryLen        = 64
)

// ErrTooManyPhones answers a contact sync over MaxSyncPhones numbers.
var ErrTooManyPhones = &Error{Kind: KindInvalid, Code: "too_many_phones", Message: "At most 5000 numbers per call."}

// SyncContacts adds numbers from the caller's address book, in any local
// format, and returns the users registered under them. Entries that are not
// phone numbers are skipped: address books are full of them.
func (s *Service) SyncContacts(ctx context.Context, p Principal, raw []string) ([]Profile, error) {
	if len(raw) > MaxSyncPhones {
		return nil, ErrTooManyPhones
	}
	if err := s.allow(ctx, "sync:user:"+FormatID(p.UserID), limitSyncPerUser); err != nil {
		return nil, err
	}
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
			continue
		}
		if _, dup := seen[phone]; dup {
			continue
		}
		seen[phone] = struct{}{}
		phones = append(phones, phone)
	}
	users, err := s.store.SyncContacts(ctx, p.UserID, phones)
	if err != nil {
		return nil, err
	}
	return profiles(users, true), nil
}

// AddContact adds one number typed by the caller (a screen's "add by
// number" form). Unlike a sync, a number that is not one is an error the
// person can correct.
func (s *Service) AddContact(ctx context.Context, p Principal, raw string) ([]Profile, error) {
	me, err := s.store.User(ctx, p.UserID)
	if err != nil {
		return nil, err
	}
	if _, err := NormalizePhone(raw, PhoneRegion(me.Phone, s.region)); err != nil {
		return nil, err
	}
	return s.SyncContacts(ctx, p, []string{raw})
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
