package chat

import (
	"context"
	"errors"
)

// BusinessPhone is the phone the business account is stored under. E.164
// numbers never start with 0, so no login can reach it and no address
// book can contain it: nobody signs in as the business. Operators answer
// as it, the bot API sends as it (docs/api.md, "The business account").
const BusinessPhone = "+0"

// DefaultBusinessName is the business account's name when the
// configuration gives none.
const DefaultBusinessName = "Support"

// ErrNoBusiness answers a request that needs the business account before
// SetupBusiness made it.
var ErrNoBusiness = &Error{Kind: KindUnavailable, Code: "unavailable", Message: "The business account is not ready yet."}

// SetupBusiness creates the business account on first start (every node
// finds the same one afterwards), gives it name, and returns its id. Call
// it once at start, before serving.
func (s *Service) SetupBusiness(ctx context.Context, name string) (int64, error) {
	if name == "" {
		name = DefaultBusinessName
	}
	clean, err := cleanName(name, true)
	if err != nil {
		return 0, err
	}
	u, _, err := s.store.UpsertUser(ctx, BusinessPhone, s.now())
	if err != nil {
		return 0, err
	}
	if u.FirstName != clean || u.LastName != "" {
		empty := ""
		if _, err := s.store.UpdateProfile(ctx, u.ID, ProfileUpdate{FirstName: &clean, LastName: &empty}); err != nil {
			return 0, err
		}
	}
	s.business.Store(u.ID)
	return u.ID, nil
}

// BusinessID is the business account's id (0 before SetupBusiness).
func (s *Service) BusinessID() int64 { return s.business.Load() }

// businessID is BusinessID for a use that needs it.
func (s *Service) businessID() (int64, error) {
	id := s.business.Load()
	if id == 0 {
		return 0, ErrNoBusiness
	}
	return id, nil
}

// OpenBusinessDialog returns the caller's dialog with the business about
// an optional subject ("news:launch", "order:17"), creating it on first
// use; created says which. The business account itself has no such
// dialog (400 invalid_user).
func (s *Service) OpenBusinessDialog(ctx context.Context, p Principal, subject string) (DialogView, bool, error) {
	id, err := s.businessID()
	if err != nil {
		return DialogView{}, false, err
	}
	d, created, err := s.OpenDirect(ctx, p, id, subject)
	if errors.Is(err, ErrNotFound) {
		return DialogView{}, false, ErrNoBusiness
	}
	return d, created, err
}
