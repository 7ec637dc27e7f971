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
	users, err := s.store.SyncContacts(ctx, p.UserID, phones)
	if err != nil {
		return nil, err
	}
	return profiles(users, true), nil
}

// Contacts lists the registered users in the caller's address book whose
// name contains query.
func (s *Service) Contacts(ctx context.Context, p Principal, query string, limit int) ([]Profile, error) {
	query = strings.TrimSpace(query)
	if !utf8.ValidString(query) || utf8.RuneCountInString(query) > maxQueryLen {
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
