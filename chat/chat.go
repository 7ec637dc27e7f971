// Package chat is the messenger's domain: its types, its errors, the Service
// that carries out every use case, and the small interfaces the Service needs
// from storage, rate limiting, SMS and media. Implementations live beside it,
// named by technology (sqlstore, memory, redis, sms, media); none of them is
// imported here.
package chat

import (
	"context"
	"io"
	"time"
)

// Role is what a user may do beyond chatting.
type Role string

// Roles. An operator answers clients on behalf of the business; an admin
// manages the deployment.
const (
	RoleUser     Role = "user"
	RoleOperator Role = "operator"
	RoleAdmin    Role = "admin"
)

// ValidRole reports whether r is one of the roles.
func ValidRole(r Role) bool { return r == RoleUser || r == RoleOperator || r == RoleAdmin }

// PresenceSetting is who a user shares their presence (online, last seen)
// with, a setting of their profile. Sharing is mutual: a viewer sees a user's
// presence only when each shares it with the other, so hiding one's own
// presence also hides everyone else's (docs/api.md, "Presence").
type PresenceSetting string

// Presence settings.
const (
	// PresenceEverybody shares with the numbers in the user's own address
	// book and with the partners of direct dialogs in which both have
	// written: the people the user knows. The default.
	PresenceEverybody PresenceSetting = "everybody"
	// PresenceContacts shares only with the numbers in the user's own
	// address book.
	PresenceContacts PresenceSetting = "contacts"
	// PresenceNobody shares with no one.
	PresenceNobody PresenceSetting = "nobody"
)

// ValidPresence reports whether p is one of the settings.
func ValidPresence(p PresenceSetting) bool {
	return p == PresenceEverybody || p == PresenceContacts || p == PresenceNobody
}

// User is an account as stored. Phone is E.164. Avatar is a media key (empty
// when the user has none); URLs are derived from it by Profile.
type User struct {
	ID         int64
	Phone      string
	FirstName  string
	LastName   string
	Avatar     string
	Role       Role
	Presence   PresenceSetting // who sees the user's presence
	BlockedAt  time.Time       // zero when not blocked
	CreatedAt  time.Time
	LastSeenAt time.Time // zero when never seen
	// TimeZone is the IANA zone a shell of the user last sent
	// (X-Korobka-TZ, a watch's tz), "" when none did: for what is shown
	// outside a request, such as push notifications.
	TimeZone string
}

// Profile is a user as a client sees them: the wire form of the shell
// contract. Phone is set only for the user themselves and for those who have
// the number in their synced contacts.
type Profile struct {
	ID             string `json:"id"`
	FirstName      string `json:"first_name"`
	LastName       string `json:"last_name"`
	AvatarURL      string `json:"avatar_url"`
	AvatarThumbURL string `json:"avatar_thumb_url"`
	Phone          string `json:"phone,omitempty"`
	// Online and LastSeen are shown to those the user shares presence
	// with and who share theirs back (see PresenceSetting); LastSeen is null
	// while online or never seen.
	Online   *bool      `json:"online,omitempty"`
	LastSeen *time.Time `json:"last_seen,omitempty"`
	// Presence is the user's own presence setting, in their own profile
	// only.
	Presence PresenceSetting `json:"presence,omitempty"`
}

// Profile returns u as seen by a viewer; showPhone says whether the viewer
// may see the number.
func (u User) Profile(showPhone bool) Profile {
	p := Profile{
		ID:        FormatID(u.ID),
		FirstName: u.FirstName,
		LastName:  u.LastName,
	}
	if u.Avatar != "" {
		p.AvatarURL = AvatarURL(u.Avatar)
		p.AvatarThumbURL = AvatarThumbURL(u.Avatar)
	}
	if showPhone && u.Phone != BusinessPhone { // the business has no number to show
		p.Phone = u.Phone
	}
	return p
}

// Own returns u as u sees themselves: phone and settings included.
func (u User) Own() Profile {
	p := u.Profile(true)
	p.Presence = u.Presence
	if p.Presence == "" {
		p.Presence = PresenceEverybody
	}
	return p
}

// AvatarURL and AvatarThumbURL derive the public paths of an avatar key. The
// media handler serves /media/ from the media folder; keys are chosen by the
// server, so the paths are safe to build by concatenation.
func AvatarURL(key string) string      { return "/media/" + key + ".jpg" }
func AvatarThumbURL(key string) string { return "/media/" + key + "_thumb.jpg" }

// Session is one login of one device. Refreshing rotates it: the old row is
// marked rotated and a new row of the same family is created, so a rotated
// refresh token presented again is recognised as stolen and the whole family
// is revoked. Tokens are stored as SHA-256 hashes only.
type Session struct {
	ID              int64
	UserID          int64
	Family          int64
	AccessHash      []byte
	RefreshHash     []byte
	Device          string
	CreatedAt       time.Time
	AccessExpiresAt time.Time
	ExpiresAt       time.Time // of the refresh token
	RotatedAt       time.Time // zero while current
	RevokedAt       time.Time // zero while live
}

// Principal is who is asking: the result of authenticating a request.
// ExpiresAt is when the access token that proved it stops working; a
// WebSocket authenticated by it is closed then unless the shell hands it a
// fresh token (docs/api.md, the auth frame).
type Principal struct {
	UserID    int64
	SessionID int64
	Family    int64
	Role      Role
	ExpiresAt time.Time
}

// OTP is a one-time login code as stored: only a salted hash of the code.
type OTP struct {
	Phone     string
	Hash      []byte
	Salt      []byte
	Attempts  int // verification attempts so far, including the current one
	CreatedAt time.Time
	ExpiresAt time.Time
}

// ProfileUpdate changes the fields that are set (nil leaves a field alone).
type ProfileUpdate struct {
	FirstName *string
	LastName  *string
	Presence  *PresenceSetting
}

// Limit allows Rate events per Period with bursts of up to Burst.
type Limit struct {
	Rate   int
	Period time.Duration
	Burst  int
}

// Limiter enforces rate limits shared by every node: in memory for one node,
// on Redis for many. Both pass chattest.TestLimiter.
type Limiter interface {
	// Allow counts one event against key under l. When the event is not
	// allowed it is not counted, and retryAfter says when one would be.
	Allow(ctx context.Context, key string, l Limit) (ok bool, retryAfter time.Duration, err error)
	// AllowN counts n events at once, for a request whose cost is a count
	// (the new numbers of one contact sync): all n are allowed or none is
	// counted, and retryAfter says when n would be. n must be between 1 and
	// l.Burst; more could never be allowed, and is reported as an error.
	AllowN(ctx context.Context, key string, l Limit, n int) (ok bool, retryAfter time.Duration, err error)
	// Reset forgets what was counted against key, as if it had never been
	// used: a budget given back whole, as a login's tries are when the
	// client asks for a new code. A key never used is no error.
	Reset(ctx context.Context, key string) error
	// AllowAtMost counts up to n events against key under l in one step,
	// as many as l has room for now, and reports how many it counted
	// (0..n); with none, retryAfter says when one would be. A node takes
	// a few of a user's events at once this way and hands them out
	// locally (chat/ws), so a shared limit costs one round trip per few
	// events instead of one per event.
	AllowAtMost(ctx context.Context, key string, l Limit, n int) (allowed int, retryAfter time.Duration, err error)
}

// SMSSender delivers a text message to an E.164 number.
type SMSSender interface {
	SendSMS(ctx context.Context, phone, text string) error
}

// ImagePublisher is an optional ability of a FileStore (checked by type
// assertion): a public copy of an image upload, for content documents
// that screens show to everyone. It returns the copy's media key; its
// URLs are "/media/<key>.jpg" and "/media/<key>_thumb.jpg".
type ImagePublisher interface {
	PublishImage(ctx context.Context, uploadKey string) (key string, err error)
}

// ImageStore turns uploaded bytes into stored, re-encoded images. It refuses
// input that is not an image or is over its byte, pixel or decoding caps
// with an *Error of kind Invalid, Unsupported or TooLarge, and an image it
// has no decoding budget for in time with kind Unavailable (media_busy).
type ImageStore interface {
	// SaveAvatar decodes r, crops it square, re-encodes it (dropping all
	// metadata) at full size and as a thumbnail, and returns the key that
	// AvatarURL and AvatarThumbURL turn into paths.
	SaveAvatar(ctx context.Context, r io.Reader) (key string, err error)
	// DeleteAvatar removes both files of a key; a missing file is no error.
	DeleteAvatar(ctx context.Context, key string) error
}
