package chat

import (
	"context"
	"sync"
	"time"
)

// MaxTimeZoneLen bounds a time zone name; the longest IANA name is 32
// bytes (America/Argentina/ComodRivadavia).
const MaxTimeZoneLen = 64

// ErrInvalidTimeZone answers an X-Korobka-TZ header or a watch's tz that
// is not an IANA time zone name.
var ErrInvalidTimeZone = &Error{Kind: KindInvalid, Code: "invalid_time_zone", Message: "The time zone is not an IANA time zone name such as Europe/Moscow."}

// zones memoises time.LoadLocation (tens of microseconds: it reads the
// zone's file) for the names it accepted: at most the few hundred zones
// of the IANA database, so it needs no eviction. It caches a pure
// function and holds no state of its own.
var zones sync.Map // name -> *time.Location

// ParseTimeZone returns the IANA time zone of the name ("Europe/Moscow",
// "UTC", "America/Argentina/Buenos_Aires"), or ErrInvalidTimeZone for
// anything else: "", "Local", paths, names over MaxTimeZoneLen bytes or of
// other characters than letters, digits and "/_+-".
func ParseTimeZone(name string) (*time.Location, error) {
	if loc, ok := zones.Load(name); ok {
		return loc.(*time.Location), nil
	}
	if name == "" || name == "Local" || len(name) > MaxTimeZoneLen || name[0] == '/' {
		return nil, ErrInvalidTimeZone
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '/' || c == '_' || c == '+' || c == '-') {
			return nil, ErrInvalidTimeZone
		}
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return nil, ErrInvalidTimeZone
	}
	zones.Store(name, loc)
	return loc, nil
}

// timeZoneCacheSize bounds the per-node memory of users' last zones.
const timeZoneCacheSize = 100_000

// NoteTimeZone keeps tz (an IANA name) as the user's last time zone, for
// what is shown outside a request (push notifications). It costs no write
// when the zone did not change: the node remembers the last zone it stored
// per user, and the store's update only matches a different zone. A zone
// that does not parse, or a store error, changes nothing (the request
// that carried it goes on; the error is logged).
func (s *Service) NoteTimeZone(ctx context.Context, p Principal, tz string) {
	if last, ok := s.zones.Get(p.UserID); ok && last == tz {
		return
	}
	if _, err := ParseTimeZone(tz); err != nil {
		return
	}
	if err := s.store.SetTimeZone(ctx, p.UserID, tz); err != nil {
		s.log.WarnContext(ctx, "time zone not stored", "user", p.UserID, "err", err)
		return
	}
	s.zones.Add(p.UserID, tz)
}
