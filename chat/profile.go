package chat

import (
	"context"
	"io"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"
)

// MaxNameLen is the longest first or last name, in characters.
const MaxNameLen = 64

// ErrInvalidName answers a name that is empty where one is required, too
// long, not UTF-8, or made of control characters.
var ErrInvalidName = &Error{Kind: KindInvalid, Code: "invalid_name", Message: "Names are 1 to 64 characters of text."}

// Me returns the caller's own profile, phone included.
func (s *Service) Me(ctx context.Context, p Principal) (Profile, error) {
	u, err := s.store.User(ctx, p.UserID)
	if err != nil {
		return Profile{}, err
	}
	return u.Profile(true), nil
}

// UpdateMe changes the caller's names. A first name, once given, cannot be
// emptied; a last name can.
func (s *Service) UpdateMe(ctx context.Context, p Principal, upd ProfileUpdate) (Profile, error) {
	if err := s.allow(ctx, "profile:user:"+FormatID(p.UserID), limitProfilePerUser); err != nil {
		return Profile{}, err
	}
	if upd.FirstName != nil {
		n, err := cleanName(*upd.FirstName, true)
		if err != nil {
			return Profile{}, err
		}
		upd.FirstName = &n
	}
	if upd.LastName != nil {
		n, err := cleanName(*upd.LastName, false)
		if err != nil {
			return Profile{}, err
		}
		upd.LastName = &n
	}
	u, err := s.store.UpdateProfile(ctx, p.UserID, upd)
	if err != nil {
		return Profile{}, err
	}
	return u.Profile(true), nil
}

// SetAvatar replaces the caller's photo with the image in r.
func (s *Service) SetAvatar(ctx context.Context, p Principal, r io.Reader) (Profile, error) {
	if err := s.allow(ctx, "avatar:user:"+FormatID(p.UserID), limitAvatarPerUser); err != nil {
		return Profile{}, err
	}
	key, err := s.images.SaveAvatar(ctx, r)
	if err != nil {
		return Profile{}, err
	}
	u, old, err := s.store.SetAvatar(ctx, p.UserID, key)
	if err != nil {
		s.deleteAvatar(ctx, key)
		return Profile{}, err
	}
	if old != "" {
		s.deleteAvatar(ctx, old)
	}
	return u.Profile(true), nil
}

func (s *Service) deleteAvatar(ctx context.Context, key string) {
	if err := s.images.DeleteAvatar(context.WithoutCancel(ctx), key); err != nil {
		s.log.WarnContext(ctx, "avatar delete failed", "key", key, "err", err)
	}
}

// User returns another user's profile. The phone is shown only to those who
// already have the number in their address book; presence (online, last
// seen) to them and to the user's dialog partners, the same people who get
// presence events.
func (s *Service) User(ctx context.Context, p Principal, id int64) (Profile, error) {
	u, err := s.store.User(ctx, id)
	if err != nil {
		return Profile{}, err
	}
	if u.ID == p.UserID {
		return u.Profile(true), nil
	}
	knows, err := s.store.KnowsPhone(ctx, p.UserID, u.Phone)
	if err != nil {
		return Profile{}, err
	}
	prof := u.Profile(knows)
	watches := knows
	if !watches {
		watchers, err := s.store.Watchers(ctx, u.ID)
		if err != nil {
			return Profile{}, err
		}
		watches = slices.Contains(watchers, p.UserID)
	}
	if watches {
		online, err := s.presence.Online(ctx, []int64{u.ID})
		if err != nil {
			return Profile{}, err
		}
		on := online[u.ID]
		prof.Online = &on
		if t, ok := s.seen.get(u.ID); ok && t.After(u.LastSeenAt) {
			u.LastSeenAt = t // gathered, not yet written
		}
		if !on && !u.LastSeenAt.IsZero() {
			t := u.LastSeenAt.UTC()
			prof.LastSeen = &t
		}
	}
	return prof, nil
}

// cleanName trims a name and checks it is printable text of at most
// MaxNameLen characters.
func cleanName(s string, required bool) (string, error) {
	if !utf8.ValidString(s) {
		return "", ErrInvalidName
	}
	s = strings.TrimSpace(s)
	if s == "" {
		if required {
			return "", ErrInvalidName
		}
		return "", nil
	}
	if utf8.RuneCountInString(s) > MaxNameLen {
		return "", ErrInvalidName
	}
	for _, r := range s {
		if unicode.IsControl(r) || r == unicode.ReplacementChar {
			return "", ErrInvalidName
		}
	}
	return s, nil
}
