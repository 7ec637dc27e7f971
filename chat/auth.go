package chat

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/nyaruka/phonenumbers"
)

const (
	codeLen = 6
	// MaxCodeAttempts is how many verifications one code allows; after that
	// verify answers too_many_attempts until a new code is requested.
	MaxCodeAttempts = 5
	maxDeviceLen    = 200
)

// Login errors.
var (
	ErrInvalidCode      = &Error{Kind: KindInvalid, Code: "invalid_code", Message: "The code is wrong."}
	ErrCodeExpired      = &Error{Kind: KindInvalid, Code: "code_expired", Message: "The code has expired; request a new one."}
	ErrCodeNotRequested = &Error{Kind: KindInvalid, Code: "code_not_requested", Message: "No code was requested for this number."}
	ErrUserBlocked      = &Error{Kind: KindForbidden, Code: "user_blocked", Message: "This account is blocked."}
)

// CodeSent answers a code request.
type CodeSent struct {
	Phone      string `json:"phone"`       // the number in E.164, as the server understood it
	ExpiresIn  int    `json:"expires_in"`  // seconds the code stays valid
	CodeLength int    `json:"code_length"` // digits in the code
}

// Auth answers a login or a refresh: the shell contract's token pair.
type Auth struct {
	AccessToken  string  `json:"access_token"`
	RefreshToken string  `json:"refresh_token"`
	ExpiresIn    int     `json:"expires_in"` // seconds the access token lives
	User         Profile `json:"user"`
	NewUser      bool    `json:"new_user"` // the account was created by this login
}

// RequestCode sends a login code to a phone number. ip is the client's
// address, for the per-IP limit that test numbers skip.
func (s *Service) RequestCode(ctx context.Context, rawPhone, ip string) (CodeSent, error) {
	phone, test, err := s.loginPhone(rawPhone)
	if err != nil {
		return CodeSent{}, err
	}
	if !test {
		if err := s.allow(ctx, "code:ip:"+ip, limitCodePerIP); err != nil {
			return CodeSent{}, err
		}
	}
	if err := s.allow(ctx, "code:phone:"+phone, limitCodePerPhone); err != nil {
		return CodeSent{}, err
	}
	sent := CodeSent{Phone: phone, ExpiresIn: int(s.codeTTL / time.Second), CodeLength: codeLen}
	if test {
		return sent, nil // the code is fixed; nothing to store or send
	}
	code := randomCode()
	now := s.now()
	otp := OTP{Phone: phone, Salt: randomBytes(16), CreatedAt: now, ExpiresAt: now.Add(s.codeTTL)}
	otp.Hash = hashCode(otp.Salt, code)
	if err := s.store.PutOTP(ctx, otp); err != nil {
		return CodeSent{}, err
	}
	text := fmt.Sprintf("Код входа: %s. Login code: %s", code, code)
	if err := s.sms.SendSMS(ctx, phone, text); err != nil {
		s.log.ErrorContext(ctx, "sms send failed", "err", err)
		return CodeSent{}, &Error{Kind: KindUnavailable, Code: "sms_failed", Message: "The code could not be sent; try again later.", Err: err}
	}
	return sent, nil
}

// Verify logs in with a code and returns a new session's tokens, creating
// the account on a number's first login. device names the client for the
// user's session list.
func (s *Service) Verify(ctx context.Context, rawPhone, code, ip, device string) (Auth, error) {
	phone, test, err := s.loginPhone(rawPhone)
	if err != nil {
		return Auth{}, err
	}
	code = strings.TrimSpace(code)
	if !isCode(code) {
		return Auth{}, ErrInvalidCode
	}
	if test {
		want, _ := s.testPhones.Code(phone)
		if !hmac.Equal([]byte(code), []byte(want)) {
			return Auth{}, ErrInvalidCode
		}
	} else {
		if err := s.allow(ctx, "verify:ip:"+ip, limitVerifyPerIP); err != nil {
			return Auth{}, err
		}
		if err := s.checkCode(ctx, phone, code); err != nil {
			return Auth{}, err
		}
	}
	u, created, err := s.store.UpsertUser(ctx, phone, s.now())
	if err != nil {
		return Auth{}, err
	}
	if !u.BlockedAt.IsZero() {
		return Auth{}, ErrUserBlocked
	}
	a, err := s.newSession(ctx, u, NewID(), device)
	if err != nil {
		return Auth{}, err
	}
	a.NewUser = created
	return a, nil
}

// checkCode spends one attempt on the phone's code and compares in constant
// time. The attempt is counted before the comparison, atomically in the
// store, so parallel guesses cannot get past the limit.
func (s *Service) checkCode(ctx context.Context, phone, code string) error {
	otp, err := s.store.TakeOTPAttempt(ctx, phone)
	if errors.Is(err, ErrNotFound) {
		return ErrCodeNotRequested
	}
	if err != nil {
		return err
	}
	if !s.now().Before(otp.ExpiresAt) {
		return ErrCodeExpired
	}
	if otp.Attempts > MaxCodeAttempts {
		return &Error{Kind: KindRateLimited, Code: "too_many_attempts",
			Message:    "Too many wrong codes; request a new code.",
			RetryAfter: time.Minute}
	}
	if !hmac.Equal(hashCode(otp.Salt, code), otp.Hash) {
		left := MaxCodeAttempts - otp.Attempts
		return &Error{Kind: KindInvalid, Code: ErrInvalidCode.Code,
			Message: fmt.Sprintf("The code is wrong; %d attempts left.", left)}
	}
	return s.store.DeleteOTP(ctx, phone)
}

// Refresh exchanges a refresh token for a new token pair. The old refresh
// token stops working; presenting it again ends the session.
func (s *Service) Refresh(ctx context.Context, refreshToken string) (Auth, error) {
	if refreshToken == "" || len(refreshToken) > 256 {
		return Auth{}, ErrInvalidToken
	}
	access, accessHash := NewToken()
	refresh, refreshHash := NewToken()
	now := s.now()
	next := Session{
		ID:              NewID(),
		AccessHash:      accessHash,
		RefreshHash:     refreshHash,
		CreatedAt:       now,
		AccessExpiresAt: now.Add(s.accessTTL),
		ExpiresAt:       now.Add(s.refreshTTL),
	}
	old, err := s.store.RotateSession(ctx, HashToken(refreshToken), next, now)
	if errors.Is(err, ErrTokenReused) {
		// The store has revoked the family; its sockets end too.
		s.closeSockets(ctx, old.UserID, EnvCloseFamily, old.Family)
		return Auth{}, err
	}
	if err != nil {
		return Auth{}, err
	}
	u, err := s.store.User(ctx, old.UserID)
	if err != nil {
		return Auth{}, err
	}
	if !u.BlockedAt.IsZero() {
		if err := s.endFamily(ctx, old.UserID, old.Family); err != nil {
			return Auth{}, err
		}
		return Auth{}, ErrUserBlocked
	}
	return Auth{
		AccessToken:  access,
		RefreshToken: refresh,
		ExpiresIn:    int(s.accessTTL / time.Second),
		User:         u.Profile(true),
	}, nil
}

// Logout ends the caller's session at once: its access and refresh tokens
// answer 401 from then on and its WebSockets close with 4001 on every
// node.
func (s *Service) Logout(ctx context.Context, p Principal) error {
	return s.endFamily(ctx, p.UserID, p.Family)
}

// EndUserSessions ends every session of a user at once, for a block or a
// role change: all their tokens answer 401 from then on and every
// WebSocket of theirs, on every node, closes with 4001, so the user's
// shells log in again and see the new state (a new role everywhere, or
// user_blocked).
func (s *Service) EndUserSessions(ctx context.Context, userID int64) error {
	if err := s.store.RevokeUserSessions(ctx, userID, s.now()); err != nil {
		return err
	}
	s.closeSockets(ctx, userID, EnvCloseUser, 0)
	return nil
}

// endFamily is how a session ends, whatever ends it: the store revokes
// the family, then every node closes the family's WebSockets. Both steps
// are needed: the revocation stops new requests and handshakes, the
// close stops connections that authenticated before it.
func (s *Service) endFamily(ctx context.Context, userID, family int64) error {
	if err := s.store.RevokeFamily(ctx, family, s.now()); err != nil {
		return err
	}
	s.closeSockets(ctx, userID, EnvCloseFamily, family)
	return nil
}

// closeSockets tells every node to close the user's connections that the
// envelope kind and id select. It runs after the revocation committed, so
// a node that registers a connection later sees the session dead when it
// checks the token again (chat/ws does, once subscribed). A failed publish
// is logged, not returned: the session has ended; the sockets it misses
// close at their access token's expiry at the latest.
func (s *Service) closeSockets(ctx context.Context, userID int64, kind byte, id int64) {
	pub := Publication{Topic: UserTopic(userID), Payload: Envelope(kind, id, nil)}
	if err := s.broker.Publish(context.WithoutCancel(ctx), pub); err != nil {
		s.log.WarnContext(ctx, "session end not published; sockets close at token expiry", "user", userID, "err", err)
	}
}

// Authenticate resolves an access token to the caller.
func (s *Service) Authenticate(ctx context.Context, accessToken string) (Principal, error) {
	if accessToken == "" || len(accessToken) > 256 {
		return Principal{}, ErrInvalidToken
	}
	sess, role, err := s.store.SessionByAccess(ctx, HashToken(accessToken), s.now())
	if errors.Is(err, ErrNotFound) {
		return Principal{}, ErrInvalidToken
	}
	if err != nil {
		return Principal{}, err
	}
	return Principal{UserID: sess.UserID, SessionID: sess.ID, Family: sess.Family, Role: role,
		ExpiresAt: sess.AccessExpiresAt}, nil
}

func (s *Service) newSession(ctx context.Context, u User, family int64, device string) (Auth, error) {
	access, accessHash := NewToken()
	refresh, refreshHash := NewToken()
	now := s.now()
	sess := Session{
		ID:              NewID(),
		UserID:          u.ID,
		Family:          family,
		AccessHash:      accessHash,
		RefreshHash:     refreshHash,
		Device:          cleanDevice(device),
		CreatedAt:       now,
		AccessExpiresAt: now.Add(s.accessTTL),
		ExpiresAt:       now.Add(s.refreshTTL),
	}
	if err := s.store.CreateSession(ctx, sess); err != nil {
		return Auth{}, err
	}
	return Auth{
		AccessToken:  access,
		RefreshToken: refresh,
		ExpiresIn:    int(s.accessTTL / time.Second),
		User:         u.Profile(true),
	}, nil
}

// loginPhone normalises a number for login and says whether it is a test
// number. Test numbers need only parse: reviewers' and load-test ranges need
// not be numbers a carrier has issued.
func (s *Service) loginPhone(raw string) (phone string, test bool, err error) {
	num, err := parsePhone(raw, s.region)
	if err != nil {
		return "", false, err
	}
	phone = formatE164(num)
	if _, ok := s.testPhones.Code(phone); ok {
		return phone, true, nil
	}
	if !phonenumbers.IsValidNumber(num) {
		return "", false, ErrInvalidPhone
	}
	return phone, false, nil
}

func randomCode() string {
	n, err := rand.Int(rand.Reader, big.NewInt(1_000_000))
	if err != nil {
		panic(err) // crypto/rand does not fail on supported platforms
	}
	return fmt.Sprintf("%06d", n.Int64())
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

func hashCode(salt []byte, code string) []byte {
	m := hmac.New(sha256.New, salt)
	m.Write([]byte(code))
	return m.Sum(nil)
}

// cleanDevice keeps a client-supplied device label printable and short.
func cleanDevice(s string) string {
	s = strings.ToValidUTF8(strings.TrimSpace(s), "")
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return -1
		}
		return r
	}, s)
	for len(s) > maxDeviceLen {
		_, size := utf8.DecodeLastRuneInString(s)
		s = s[:len(s)-size]
	}
	return s
}
