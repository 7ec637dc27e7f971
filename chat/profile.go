package chat

import (
	"context"
	"io"
	"slices"
)

// MaxNameLen is the longest first or last name, in characters (grapheme
// clusters).
const MaxNameLen = 64

// ErrInvalidName answers a name that is empty where one is required, too
// long, or that breaks the text policy (CleanText).
var ErrInvalidName = &Error{Kind: KindInvalid, Code: "invalid_name", Message: "Names are 1 to 64 characters of text."}

// ErrInvalidPresence answers a presence setting that is not one of them.
var ErrInvalidPresence = &Error{Kind: KindInvalid, Code: "invalid_presence", Message: `presence is "everybody", "contacts" or "nobody".`}

// Me returns the caller's own profile, phone included.
func (s *Service) Me(ctx context.Context, p Principal) (Profile, error) {
	u, err := s.store.User(ctx, p.UserID)
	if err != nil {
		return Profile{}, err
	}
	return u.Own(), nil
}

// UpdateMe changes the caller's names and presence setting. A first name,
// once given, cannot be emptied; a last name can. When the presence setting
// changes, those who stop seeing the caller's presence are told it is gone
// and those who start are told what it is.
func (s *Service) UpdateMe(ctx context.Context, p Principal, upd ProfileUpdate) (Profile, error) {
	if err := s.allow(ctx, "profile:user:"+FormatID(p.UserID), limitProfilePerUser); err != nil {
		return Profile{}, err
	}
	if upd.Presence != nil && !ValidPresence(*upd.Presence) {
		return Profile{}, ErrInvalidPresence
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
	var before []int64
	if upd.Presence != nil {
		var err error
		if before, err = s.store.Watchers(ctx, p.UserID); err != nil {
			return Profile{}, err
		}
	}
	u, err := s.store.UpdateProfile(ctx, p.UserID, upd)
	if err != nil {
		return Profile{}, err
	}
	if upd.Presence != nil {
		s.reannouncePresence(ctx, u, before)
	}
	return u.Own(), nil
}

// reannouncePresence follows a change of u's presence setting: the
// watchers u lost get a presence event with online false and no last seen
// (shells show nothing), the ones u gained get u's presence as it is.
// Best effort, like every presence event.
func (s *Service) reannouncePresence(ctx context.Context, u User, before []int64) {
	after, err := s.store.Watchers(ctx, u.ID)
	if err != nil {
		s.log.WarnContext(ctx, "presence not announced", "user", u.ID, "err", err)
		return
	}
	var lost, gained []int64
	for _, id := range before {
		if !slices.Contains(after, id) {
			lost = append(lost, id)
		}
	}
	for _, id := range after {
		if !slices.Contains(before, id) {
			gained = append(gained, id)
		}
	}
	pubs := appendEvent(nil, Event{Type: EventPresence, UserID: u.ID}, 0, lost, 0)
	if len(gained) > 0 {
		online, err := s.presence.Online(ctx, []int64{u.ID})
		if err != nil {
			s.log.WarnContext(ctx, "presence not announced", "user", u.ID, "err", err)
		} else {
			e := Event{Type: EventPresence, UserID: u.ID, Online: online[u.ID]}
			if !e.Online && !u.LastSeenAt.IsZero() {
				t := u.LastSeenAt.UTC()
				e.LastSeen = &t
			}
			pubs = appendEvent(pubs, e, 0, gained, 0)
		}
	}
	if len(pubs) == 0 {
		return
	}
	if err := s.broker.Publish(ctx, pubs...); err != nil {
		s.log.WarnContext(ctx, "presence not announced", "user", u.ID, "err", err)
	}
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
	return u.Own(), nil
}

func (s *Service) deleteAvatar(ctx context.Context, key string) {
	if err := s.images.DeleteAvatar(context.WithoutCancel(ctx), key); err != nil {
		s.log.WarnContext(ctx, "avatar delete failed", "key", key, "err", err)
	}
}

// User returns another user's profile. The phone is shown only to those who
// already have the number in their address book; presence (online, last
// seen) only to the user's watchers (PresenceSetting), the same people who
// get presence events.
func (s *Service) User(ctx context.Context, p Principal, id int64) (Profile, error) {
	u, err := s.store.User(ctx, id)
	if err != nil {
		return Profile{}, err
	}
	if u.ID == p.UserID {
		return u.Own(), nil
	}
	knows, err := s.store.KnowsPhone(ctx, p.UserID, u.Phone)
	if err != nil {
		return Profile{}, err
	}
	prof := u.Profile(knows)
	watches, err := s.store.Watches(ctx, p.UserID, u.ID)
	if err != nil {
		return Profile{}, err
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

// nameRule is the text policy of first and last names: one line, at
// most MaxNameLen characters (grapheme clusters) and 255 code points (the
// column).
var nameRule = TextRule{MaxChars: MaxNameLen, MaxRunes: 255}

// cleanName applies the text policy to a name; an empty one is allowed
// unless required.
func cleanName(s string, required bool) (string, error) {
	rule := nameRule
	rule.Optional = !required
	n, err := CleanText(s, rule)
	if err != nil {
		return "", textError(ErrInvalidName, err)
	}
	return n, nil
}
