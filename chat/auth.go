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
	// MaxCodeAttempts is how many codes one client address may try for one
	// number at once; then it may try one more every two minutes, and verify
	// answers too_many_attempts in between (see limitGuessPerPhoneAddr). A
	// new code requested from the same address gives all of them back.
	MaxCodeAttempts = 5
	// MaxCodeGuesses is how many tries one code allows from every address
	// together; after that it is dead and every try of it is wrong. One
	// address cannot reach it within a code's five minutes, so only many
	// addresses together can spend a code that its owner is about to type.
	MaxCodeGuesses = 10
	maxDeviceLen   = 200
)

// Login limits, per number, per client address (AddressKey: IPv6 by /64)
// and per pair of the two, shaped so that an attacker at one address
// cannot keep the owner of a number at another address from logging in:
// everything one address does is counted against that address's own
// budgets, and the number's shared budget is larger than one address can
// ever spend. docs/api.md and docs/operations.md state the same numbers.
var (
	// Codes one address may ask for one number: 3 at once, then one
	// every 12 minutes.
	limitCodePerPhoneAddr = Limit{Rate: 5, Period: time.Hour, Burst: 3}
	// Codes one number may be sent from all addresses together: the cap
	// on the SMS a number can receive. One address alone (3 at once, 5 an
	// hour) never reaches it.
	limitCodePerPhone = Limit{Rate: 10, Period: time.Hour, Burst: 10}
	// Codes one address may ask for across all numbers.
	limitCodePerAddr = Limit{Rate: 30, Period: time.Hour, Burst: 10}
	// Codes one address may try across all numbers.
	limitVerifyPerAddr = Limit{Rate: 60, Period: time.Hour, Burst: 20}
	// Codes one address may try for one number: MaxCodeAttempts at once,
	// then one every two minutes. Within the five minutes a code lives
	// that is at most 7 tries, fewer than MaxCodeGuesses. The address's
	// own request for a new code resets it (a new code replaces the old
	// one, so the tries are again at most 7 per code); requests from other
	// addresses do not, so nobody can watch this count to learn that the
	// number is logging in.
	limitGuessPerPhoneAddr = Limit{Rate: 5, Period: 10 * time.Minute, Burst: MaxCodeAttempts}
)

// Login errors. A try of a code has one wrong answer whatever the reason —
// no code requested, expired, dead or just wrong — so that nobody can tell
// from verify whether a number is logging in.
var (
	ErrInvalidCode = &Error{Kind: KindInvalid, Code: "invalid_code",
		Message: "The code is wrong or has expired. Check the latest SMS, or request a new code."}
	// ErrTooManyAttempts answers a client address that has tried too many
	// codes for one number; RetryAfter says when it may try again.
	ErrTooManyAttempts = &Error{Kind: KindRateLimited, Code: "too_many_attempts",
		Message: "Too many wrong codes. Request a new code, or wait and try this one again."}
	// ErrUnsupportedPhone answers a number that login codes are not sent
	// to: not mobile, or outside the countries the server sends SMS to.
	ErrUnsupportedPhone = &Error{Kind: KindInvalid, Code: "unsupported_phone",
		Message: "Login codes are sent only to mobile numbers of the countries this service serves."}
	ErrUserBlocked = &Error{Kind: KindForbidden, Code: "user_blocked", Message: "This account is blocked."}
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
// address, for the limits per address. A test number's code is its fixed
// code, stored like any other; only the SMS is skipped.
func (s *Service) RequestCode(ctx context.Context, rawPhone, ip string) (CodeSent, error) {
	phone, fixed, err := s.loginPhone(rawPhone)
	if err != nil {
		return CodeSent{}, err
	}
	addr := AddressKey(ip)
	if !s.unlimited(ip) {
		if err := s.allow(ctx, "code:addr:"+addr, limitCodePerAddr); err != nil {
			return CodeSent{}, err
		}
	}
	if err := s.allow(ctx, "code:phone-addr:"+phone+"@"+addr, limitCodePerPhoneAddr); err != nil {
		return CodeSent{}, err
	}
	if err := s.allow(ctx, "code:phone:"+phone, limitCodePerPhone); err != nil {
		return CodeSent{}, err
	}
	code := fixed
	if code == "" {
		code = randomCode()
	}
	now := s.now()
	otp := OTP{Phone: phone, Salt: randomBytes(16), CreatedAt: now, ExpiresAt: now.Add(s.codeTTL)}
	otp.Hash = hashCode(otp.Salt, code)
	if err := s.store.PutOTP(ctx, otp); err != nil {
		return CodeSent{}, err
	}
	if fixed == "" {
		text := fmt.Sprintf("Код входа: %s. Login code: %s", code, code)
		if err := s.sms.SendSMS(ctx, phone, text); err != nil {
			s.log.ErrorContext(ctx, "sms send failed", "err", err)
			return CodeSent{}, &Error{Kind: KindUnavailable, Code: "sms_failed", Message: "The code could not be sent; try again later.", Err: err}
		}
	}
	// A new code, a new set of tries for this address.
	if err := s.limiter.Reset(ctx, guessKey(phone, addr)); err != nil {
		s.log.WarnContext(ctx, "login tries not reset", "err", err)
	}
	return CodeSent{Phone: phone, ExpiresIn: int(s.codeTTL / time.Second), CodeLength: codeLen}, nil
}

// Verify logs in with a code and returns a new session's tokens, creating
// the account on a number's first login. device names the client for the
// user's session list. Test numbers are verified like any other: their
// fixed code must have been requested.
func (s *Service) Verify(ctx context.Context, rawPhone, code, ip, device string) (Auth, error) {
	phone, _, err := s.loginPhone(rawPhone)
	if err != nil {
		return Auth{}, err
	}
	code = strings.TrimSpace(code)
	if !isCode(code) {
		return Auth{}, ErrInvalidCode
	}
	addr := AddressKey(ip)
	if !s.unlimited(ip) {
		if err := s.allow(ctx, "verify:addr:"+addr, limitVerifyPerAddr); err != nil {
			return Auth{}, err
		}
	}
	if err := s.checkCode(ctx, phone, addr, code); err != nil {
		return Auth{}, err
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
	if created {
		s.emitWebhook(ctx, EventUserRegistered, map[string]any{"user_id": FormatID(u.ID), "created_at": u.CreatedAt.UTC()})
	}
	return a, nil
}

// checkCode spends one of the address's tries at the number and one of the
// code's, then compares in constant time. The code's try is counted before
// the comparison, atomically in the store, so parallel guesses cannot get
// past MaxCodeGuesses. With no code, or an expired or dead one, the work
// and the answer are those of a wrong code.
func (s *Service) checkCode(ctx context.Context, phone, addr, code string) error {
	ok, retry, err := s.limiter.Allow(ctx, guessKey(phone, addr), limitGuessPerPhoneAddr)
	if err != nil {
		return &Error{Kind: KindUnavailable, Code: "unavailable", Message: "Try again later.", Err: err}
	}
	if !ok {
		e := *ErrTooManyAttempts
		e.RetryAfter = retry
		return &e
	}
	otp, err := s.store.TakeOTPAttempt(ctx, phone)
	found := err == nil
	if err != nil && !errors.Is(err, ErrNotFound) {
		return err
	}
	if !found {
		otp = OTP{Salt: make([]byte, 16), Hash: make([]byte, sha256.Size)}
	}
	match := hmac.Equal(hashCode(otp.Salt, code), otp.Hash)
	if !found || !match || !s.now().Before(otp.ExpiresAt) || otp.Attempts > MaxCodeGuesses {
		return ErrInvalidCode
	}
	return s.store.DeleteOTP(ctx, phone)
}

// guessKey is the limiter key of one address's tries at one number.
func guessKey(phone, addr string) string { return "verify:phone-addr:" + phone + "@" + addr }

// unlimited reports whether ip skips the per-address login limits: only
// loopback, and only when the operator said so for load tests
// (Config.LoopbackUnlimited).
func (s *Service) unlimited(ip string) bool {
	return s.loopbackUnlimited && isLoopback(ip)
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
		User:         u.Own(),
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
	s.stats.activeNow(sess.UserID)
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
		User:         u.Own(),
	}, nil
}

// loginPhone reads the number a login is for and returns it in E.164 with
// its fixed code when it is a test number ("" otherwise). Codes go only to
// mobile numbers of the regions the server sends SMS to; a number listed
// in TestPhones by itself is the operator's own and exempt (it gets no SMS,
// and need not even be a number a carrier has issued), a number under a
// test prefix is not.
func (s *Service) loginPhone(raw string) (phone, fixed string, err error) {
	num, err := parsePhone(raw, s.region)
	if err != nil {
		// Not a valid number: only a listed test number may be one.
		num, err = findPhone(raw, s.region, func(n *phonenumbers.PhoneNumber) bool {
			return s.testPhones.Listed(formatE164(n))
		})
		if err != nil {
			return "", "", ErrInvalidPhone
		}
	}
	phone = formatE164(num)
	fixed, _ = s.testPhones.Code(phone)
	if !s.testPhones.Listed(phone) && !smsDestination(num, s.smsRegions) {
		return "", "", ErrUnsupportedPhone
	}
	return phone, fixed, nil
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
