package chat

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"net/url"
	"strconv"
	"time"
)

// Attachment URLs. Attachments are private to their dialog: a message keeps
// its uploads' media keys, never URLs, and every view of it derives URLs
// signed with the server's secret (HMAC-SHA256) that bind the key, the
// dialog and an expiry. Whoever may read the message (a member, checked by
// Membership) gets URLs; the media handler serves a file only for a URL
// whose signature holds and whose expiry has not passed, so a member
// removed from a dialog gets no new URLs and the old ones die within the
// bucket. An upload that is not attached yet is its owner's: its URLs are
// signed for the owner instead.
//
// Expiries fall on fixed MediaURLBucket boundaries: a URL made at t is
// valid until the end of the bucket after t's, so it lives one to two
// buckets, and every view of a message within one bucket renders the same
// URL (shells and browsers can cache it). Screen versions carry the bucket
// (MediaEpoch), so a screen's ETag changes when its URLs would.

// MediaURLBucket is the granularity of attachment URL expiry.
const MediaURLBucket = time.Hour

// MinMediaSecretLen is the shortest secret NewMediaSigner accepts, in
// bytes.
const MinMediaSecretLen = 32

// Media URL errors: a URL that is malformed, was not signed by this server
// (or by one sharing its secret) or was altered, and one that has expired
// (re-read the message for a fresh one).
var (
	ErrMediaURLInvalid = &Error{Kind: KindForbidden, Code: "invalid_media_url", Message: "This media link is not valid."}
	ErrMediaURLExpired = &Error{Kind: KindForbidden, Code: "media_url_expired", Message: "This media link has expired; reload the message."}
)

// MediaScope is who a media URL is for: the members of Dialog, or Owner
// alone for an upload not attached to a message yet. Exactly one is set.
// Gen is the dialog's media generation (Dialog.MediaGen), which grows
// with every removal from a group: a URL made before it no longer checks
// out against the dialog (MediaGate), so a removed member's URLs die at
// once. Gen 0 (direct dialogs, groups nobody left) keeps the URL's
// original form.
type MediaScope struct {
	Dialog int64
	Owner  int64
	Gen    int64
}

func (s MediaScope) param() (name string, id int64) {
	if s.Dialog != 0 {
		return "dialog", s.Dialog
	}
	return "owner", s.Owner
}

// MediaSigner signs and checks media URLs with one secret. Every node of a
// deployment must share the secret, or a URL made on one node fails on
// another. It is safe for concurrent use.
type MediaSigner struct {
	key []byte
}

// NewMediaSigner returns a signer over secret, which must hold at least
// MinMediaSecretLen bytes.
func NewMediaSigner(secret []byte) (*MediaSigner, error) {
	if len(secret) < MinMediaSecretLen {
		return nil, fmt.Errorf("chat: media secret of %d bytes, want at least %d", len(secret), MinMediaSecretLen)
	}
	return &MediaSigner{key: append([]byte(nil), secret...)}, nil
}

// NewMediaSecret returns a fresh random secret for NewMediaSigner: 32
// random bytes as 64 hex digits.
func NewMediaSecret() []byte {
	var b [32]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+)
	return fmt.Appendf(nil, "%x", b)
}

// MediaEpoch is the number of the bucket t falls in. It goes into the
// version tokens of whatever shows media URLs, so their ETags change
// exactly when the URLs do.
func MediaEpoch(t time.Time) int64 {
	return t.Unix() / int64(MediaURLBucket/time.Second)
}

// MediaExpiry is when the URLs made at now expire: the end of the next
// bucket.
func MediaExpiry(now time.Time) time.Time {
	return time.Unix((MediaEpoch(now)+2)*int64(MediaURLBucket/time.Second), 0).UTC()
}

// sigLen is the bytes of the HMAC kept in a URL: 128 bits.
const sigLen = 16

func (s *MediaSigner) mac(key string, scope string, id, gen, exp int64) []byte {
	h := hmac.New(sha256.New, s.key)
	if gen == 0 {
		fmt.Fprintf(h, "korobka-media-v1\x00%s\x00%s:%d\x00%d", key, scope, id, exp)
	} else {
		fmt.Fprintf(h, "korobka-media-v2\x00%s\x00%s:%d:%d\x00%d", key, scope, id, gen, exp)
	}
	return h.Sum(nil)[:sigLen]
}

// ErrMediaURLRevoked answers a URL signed before a removal from its group
// (MediaScope.Gen): re-read the message for a fresh one, if still a member.
var ErrMediaURLRevoked = &Error{Kind: KindForbidden, Code: "media_url_revoked", Message: "This media link was revoked; reload the message."}

// MediaGate tells the media handler a dialog's current media generation
// (Dialog.MediaGen), so URLs signed before a removal are refused.
type MediaGate interface {
	MediaGeneration(ctx context.Context, dialogID int64) (int64, error)
}

// Query returns the signed query of the media key for scope at now:
// "dialog=17&exp=1767229200&sig=…" (or owner=…). Every file of the key
// (an image and its thumbnail) takes the same query.
func (s *MediaSigner) Query(key string, scope MediaScope, now time.Time) string {
	name, id := scope.param()
	exp := MediaExpiry(now).Unix()
	q := name + "=" + strconv.FormatInt(id, 10) + "&exp=" + strconv.FormatInt(exp, 10)
	if scope.Gen > 0 {
		q += "&gen=" + strconv.FormatInt(scope.Gen, 10)
	}
	return q + "&sig=" + base64.RawURLEncoding.EncodeToString(s.mac(key, name, id, scope.Gen, exp))
}

// Check verifies the query of a request for a file of the media key at
// now and returns when the URL expires. The query must be exactly what
// Query made: dialog or owner, exp and sig, each once.
// ErrMediaURLInvalid for anything else or a signature that does not hold,
// ErrMediaURLExpired for a good URL whose time has passed.
func (s *MediaSigner) Check(key string, q url.Values, now time.Time) (time.Time, error) {
	_, exp, err := s.CheckScope(key, q, now)
	return exp, err
}

// CheckScope is Check that also returns who the URL was made for (with the
// dialog's media generation), for the media handler's MediaGate.
func (s *MediaSigner) CheckScope(key string, q url.Values, now time.Time) (MediaScope, time.Time, error) {
	one := func(name string) (string, bool) {
		v, ok := q[name]
		return firstOf(v), ok && len(v) == 1
	}
	var gen int64
	n := 3
	if q.Has("gen") {
		raw, ok := one("gen")
		g, err := ParseID(raw)
		if !ok || err != nil || !q.Has("dialog") {
			return MediaScope{}, time.Time{}, ErrMediaURLInvalid
		}
		gen, n = g, 4
	}
	var name string
	switch {
	case len(q) != n:
		return MediaScope{}, time.Time{}, ErrMediaURLInvalid
	case q.Has("dialog"):
		name = "dialog"
	default:
		name = "owner"
	}
	raw, ok := one(name)
	if !ok {
		return MediaScope{}, time.Time{}, ErrMediaURLInvalid
	}
	id, err := ParseID(raw)
	rawExp, ok1 := one("exp")
	rawSig, ok2 := one("sig")
	exp, err2 := strconv.ParseInt(rawExp, 10, 64)
	sig, err3 := base64.RawURLEncoding.Strict().DecodeString(rawSig)
	if err != nil || !ok1 || !ok2 || err2 != nil || err3 != nil || len(sig) != sigLen || exp <= 0 {
		return MediaScope{}, time.Time{}, ErrMediaURLInvalid
	}
	if !hmac.Equal(sig, s.mac(key, name, id, gen, exp)) {
		return MediaScope{}, time.Time{}, ErrMediaURLInvalid
	}
	expires := time.Unix(exp, 0).UTC()
	if !now.Before(expires) {
		return MediaScope{}, time.Time{}, ErrMediaURLExpired
	}
	if expires.After(MediaExpiry(now.Add(MediaURLBucket))) {
		// Only a node whose clock is over a bucket ahead makes such a
		// URL; a little skew between nodes at a bucket's edge is fine.
		return MediaScope{}, time.Time{}, ErrMediaURLInvalid
	}
	scope := MediaScope{Gen: gen}
	if name == "dialog" {
		scope.Dialog = id
	} else {
		scope.Owner = id
	}
	return scope, expires, nil
}

func firstOf(v []string) string {
	if len(v) == 0 {
		return ""
	}
	return v[0]
}
