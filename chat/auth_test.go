package chat_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nyaruka/phonenumbers"

	"github.com/korobka/korobka/chat"
)

func TestLoginWithSMSCode(t *testing.T) {
	f := newTestService(t)
	ctx := context.Background()
	const phone = "+79161234567"

	sent, err := f.svc.RequestCode(ctx, "8 (916) 123-45-67", "10.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	if sent.Phone != phone || sent.CodeLength != 6 || sent.ExpiresIn != int(chat.DefaultCodeTTL/time.Second) {
		t.Errorf("code request answered %+v", sent)
	}
	code := f.sms.lastCode(t, phone)
	_, err = f.svc.Verify(ctx, phone, wrongCode(code), "10.0.0.1", "phone")
	wantErr(t, "a wrong code", err, chat.ErrInvalidCode)
	_, err = f.svc.Verify(ctx, phone, "12ab", "10.0.0.1", "phone")
	wantErr(t, "a malformed code", err, chat.ErrInvalidCode)

	a, err := f.svc.Verify(ctx, " +7 916 123 45 67 ", code, "10.0.0.1", "phone\x00")
	if err != nil {
		t.Fatal(err)
	}
	if !a.NewUser || a.User.Phone != phone || a.AccessToken == "" || a.RefreshToken == "" || a.ExpiresIn != int(chat.DefaultAccessTTL/time.Second) {
		t.Errorf("first login answered %+v", a)
	}
	p, err := f.svc.Authenticate(ctx, a.AccessToken)
	if err != nil || chat.FormatID(p.UserID) != a.User.ID || p.Role != chat.RoleUser {
		t.Errorf("authenticate: %v %+v", err, p)
	}
	// A code works once.
	_, err = f.svc.Verify(ctx, phone, code, "10.0.0.1", "phone")
	wantErr(t, "a used code", err, chat.ErrInvalidCode)

	// The next login of the number finds the account.
	if _, err := f.svc.RequestCode(ctx, phone, "10.0.0.1"); err != nil {
		t.Fatal(err)
	}
	b, err := f.svc.Verify(ctx, phone, f.sms.lastCode(t, phone), "10.0.0.1", "laptop")
	if err != nil || b.NewUser || b.User.ID != a.User.ID {
		t.Errorf("second login: %v %+v", err, b)
	}

	_, err = f.svc.RequestCode(ctx, "not a number", "10.0.0.1")
	wantErr(t, "a request for no number", err, chat.ErrInvalidPhone)
	_, err = f.svc.Verify(ctx, "+79161112233", "123456", "10.0.0.1", "x")
	wantErr(t, "a code never requested", err, chat.ErrInvalidCode)
}

// wrongCode returns a well-formed code other than code.
func wrongCode(code string) string {
	if code == "000000" {
		return "000001"
	}
	return "000000"
}

// tryCodes tries code n times from ip and returns the errors.
func tryCodes(f *fixture, phone, code, ip string, n int) []error {
	errs := make([]error, n)
	for i := range errs {
		_, errs[i] = f.svc.Verify(context.Background(), phone, code, ip, "x")
	}
	return errs
}

func TestLoginCodeExpiresAndLimitsAttempts(t *testing.T) {
	f := newTestService(t)
	ctx := context.Background()
	const phone = "+79161234567"

	if _, err := f.svc.RequestCode(ctx, phone, "10.0.0.1"); err != nil {
		t.Fatal(err)
	}
	code := f.sms.lastCode(t, phone)
	f.clock.Advance(chat.DefaultCodeTTL + time.Second)
	_, err := f.svc.Verify(ctx, phone, code, "10.0.0.5", "x")
	wantErr(t, "an expired code", err, chat.ErrInvalidCode)

	if _, err := f.svc.RequestCode(ctx, phone, "10.0.0.1"); err != nil {
		t.Fatal(err)
	}
	code = f.sms.lastCode(t, phone)
	for i, err := range tryCodes(f, phone, wrongCode(code), "10.0.0.1", chat.MaxCodeAttempts-1) {
		wantErr(t, fmt.Sprintf("wrong code %d", i+1), err, chat.ErrInvalidCode)
	}
	// The address's fifth try is its last at once; even the right code is
	// refused after it.
	wantErr(t, "wrong code 5", tryCodes(f, phone, wrongCode(code), "10.0.0.1", 1)[0], chat.ErrInvalidCode)
	err = tryCodes(f, phone, code, "10.0.0.1", 1)[0]
	wantCode(t, "the right code after too many wrong ones", err, "too_many_attempts")
	if e := chat.ErrorOf(err); e.Kind != chat.KindRateLimited || e.RetryAfter <= 0 {
		t.Errorf("too many attempts: %+v", e)
	}

	// Code requests per number and address are limited (a burst of 3).
	limited := false
	for range 5 {
		_, err := f.svc.RequestCode(ctx, phone, "10.0.0.2")
		if err != nil {
			if e := chat.ErrorOf(err); e.Kind != chat.KindRateLimited || e.RetryAfter <= 0 {
				t.Fatalf("code request: %v", err)
			}
			limited = true
			break
		}
	}
	if !limited {
		t.Error("five code requests for one number in a row were all sent")
	}
}

func TestTestPhonesLogin(t *testing.T) {
	f := newTestService(t)
	ctx := context.Background()
	const phone = "+79990000042"
	sent, err := f.svc.RequestCode(ctx, phone, "10.0.0.1")
	if err != nil || sent.Phone != phone {
		t.Fatalf("code request: %v %+v", err, sent)
	}
	if n := f.sms.count(phone); n != 0 {
		t.Errorf("a test number got %d SMS", n)
	}
	_, err = f.svc.Verify(ctx, phone, "222222", "10.0.0.1", "x")
	wantErr(t, "a wrong fixed code", err, chat.ErrInvalidCode)
	a, err := f.svc.Verify(ctx, phone, testCode, "10.0.0.1", "x")
	if err != nil || !a.NewUser {
		t.Errorf("login with the fixed code: %v %+v", err, a)
	}
}

// TestTestNumbersAreStillPhoneNumbers: a test number skips the SMS and
// nothing else. Its fixed code must be requested, is tried under the same
// counts and limits, dies and expires like any code, and a wrong try of it
// is answered like any other number's.
func TestTestNumbersAreStillPhoneNumbers(t *testing.T) {
	f := newTestService(t)
	ctx := context.Background()
	const test, real = "+79990000042", "+79161234567" // the fixture's test prefix is +7999

	// No code requested: the fixed code does not log in.
	_, err := f.svc.Verify(ctx, test, testCode, "10.0.0.1", "x")
	wantErr(t, "the fixed code never requested", err, chat.ErrInvalidCode)

	for _, phone := range []string{test, real} {
		if _, err := f.svc.RequestCode(ctx, phone, "10.0.0.1"); err != nil {
			t.Fatal(err)
		}
	}
	if n := f.sms.count(test); n != 0 {
		t.Errorf("the test number got %d SMS, want none", n)
	}
	// Guessing is counted: five tries at once, then too_many_attempts,
	// with answers the same as a real number's, word for word.
	testErrs := tryCodes(f, test, "123456", "10.0.0.2", chat.MaxCodeAttempts+1)
	realErrs := tryCodes(f, real, wrongCode(f.sms.lastCode(t, real)), "10.0.0.2", chat.MaxCodeAttempts+1)
	for i := range testErrs {
		want := "invalid_code"
		if i == chat.MaxCodeAttempts {
			want = "too_many_attempts"
		}
		wantCode(t, fmt.Sprintf("test number, try %d", i+1), testErrs[i], want)
		if got, other := chat.ErrorOf(testErrs[i]).Message, chat.ErrorOf(realErrs[i]).Message; got != other {
			t.Errorf("try %d: the test number is answered %q, a real number %q", i+1, got, other)
		}
	}
	_, err = f.svc.Verify(ctx, test, testCode, "10.0.0.2", "x")
	wantCode(t, "the fixed code after too many tries", err, "too_many_attempts")

	// The code dies after MaxCodeGuesses tries from all addresses together:
	// then the fixed code is wrong from anywhere until it is requested anew.
	for i := range chat.MaxCodeGuesses - chat.MaxCodeAttempts {
		tryCodes(f, test, "123456", fmt.Sprintf("10.0.1.%d", i), 1)
	}
	_, err = f.svc.Verify(ctx, test, testCode, "10.0.0.3", "x")
	wantErr(t, "the fixed code of a dead code", err, chat.ErrInvalidCode)
	if _, err := f.svc.RequestCode(ctx, test, "10.0.0.3"); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.Verify(ctx, test, testCode, "10.0.0.3", "x"); err != nil {
		t.Errorf("the fixed code, requested anew: %v", err)
	}

	// And it expires.
	if _, err := f.svc.RequestCode(ctx, test, "10.0.0.3"); err != nil {
		t.Fatal(err)
	}
	f.clock.Advance(chat.DefaultCodeTTL + time.Second)
	_, err = f.svc.Verify(ctx, test, testCode, "10.0.0.3", "x")
	wantErr(t, "an expired fixed code", err, chat.ErrInvalidCode)

	// Every code-request limit applies: one address asking for many test
	// numbers is stopped like one asking for many real ones.
	limited := false
	for i := range 40 {
		_, err := f.svc.RequestCode(ctx, fmt.Sprintf("+7999123%04d", i), "10.0.0.4")
		if err != nil {
			wantCode(t, "code requests for many test numbers from one address", err, "rate_limited")
			limited = true
			break
		}
	}
	if !limited {
		t.Error("40 code requests for test numbers from one address were all allowed")
	}
}

// TestNobodyCanLockAnotherOut is the attack: three code requests
// and six wrong tries from one address. The owner, at another address,
// still logs in with the code on their phone, and may still ask for a new
// one.
func TestNobodyCanLockAnotherOut(t *testing.T) {
	f := newTestService(t)
	ctx := context.Background()
	const phone, owner, attacker = "+79161234567", "10.0.0.1", "2001:db8:1:2::7"

	if _, err := f.svc.RequestCode(ctx, phone, owner); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if _, err := f.svc.RequestCode(ctx, phone, attacker); err != nil {
			t.Fatalf("the attacker's code request: %v", err)
		}
	}
	// Another address in the attacker's /64 is the same address.
	_, err := f.svc.RequestCode(ctx, phone, "2001:db8:1:2:ffff::1")
	wantCode(t, "a fourth code request from the attacker's /64", err, "rate_limited")
	code := f.sms.lastCode(t, phone) // the newest code reaches the owner's phone
	errs := tryCodes(f, phone, wrongCode(code), attacker, 6)
	wantCode(t, "the attacker's sixth try", errs[5], "too_many_attempts")

	a, err := f.svc.Verify(ctx, phone, code, owner, "phone")
	if err != nil {
		t.Fatalf("the owner's login with the code on their phone: %v", err)
	}
	if !a.NewUser {
		t.Errorf("the owner's login: %+v", a)
	}
	// The owner may ask for codes again: the attacker spent only its own.
	for i := range 2 {
		if _, err := f.svc.RequestCode(ctx, phone, owner); err != nil {
			t.Fatalf("the owner's code request %d: %v", i+1, err)
		}
	}
	if _, err := f.svc.Verify(ctx, phone, f.sms.lastCode(t, phone), owner, "laptop"); err != nil {
		t.Fatalf("the owner's second login: %v", err)
	}
}

// TestLoginAnswersRevealNothing: whether a number has no code, an expired
// one, a dead one or a live one, a wrong try is answered alike, so verify
// does not tell anyone that a number is logging in.
func TestLoginAnswersRevealNothing(t *testing.T) {
	f := newTestService(t)
	ctx := context.Background()
	const none, expired, live, dead = "+79161110001", "+79161110002", "+79161110003", "+79161110004"
	for _, phone := range []string{expired, live, dead} {
		if _, err := f.svc.RequestCode(ctx, phone, "10.0.0.1"); err != nil {
			t.Fatal(err)
		}
	}
	f.clock.Advance(chat.DefaultCodeTTL + time.Second)
	for _, phone := range []string{live, dead} {
		if _, err := f.svc.RequestCode(ctx, phone, "10.0.0.1"); err != nil {
			t.Fatal(err)
		}
	}
	for i := range chat.MaxCodeGuesses {
		tryCodes(f, dead, wrongCode(f.sms.lastCode(t, dead)), fmt.Sprintf("10.0.2.%d", i/2), 1)
	}
	var answers [][]string
	for i, phone := range []string{none, expired, live, dead} {
		var got []string
		guess := "000000"
		if phone != none {
			guess = wrongCode(f.sms.lastCode(t, phone))
		}
		for _, err := range tryCodes(f, phone, guess, fmt.Sprintf("10.0.3.%d", i), chat.MaxCodeAttempts+1) {
			e := chat.ErrorOf(err)
			got = append(got, fmt.Sprintf("%d %s %q", e.Kind, e.Code, e.Message))
		}
		answers = append(answers, got)
	}
	for i, phone := range []string{expired, live, dead} {
		if !slices.Equal(answers[i+1], answers[0]) {
			t.Errorf("wrong tries at %s were answered\n%q\nbut at a number with no code\n%q", phone, answers[i+1], answers[0])
		}
	}
	// The dead code's own, right code is wrong too.
	_, err := f.svc.Verify(ctx, dead, f.sms.lastCode(t, dead), "10.0.0.10", "x")
	wantErr(t, "the right code of a dead code", err, chat.ErrInvalidCode)

	// Someone else asking for a code does not give an address that has
	// used up its tries new ones, which would tell it that the number is
	// logging in.
	if _, err := f.svc.RequestCode(ctx, none, "10.0.0.11"); err != nil {
		t.Fatal(err)
	}
	_, err = f.svc.Verify(ctx, none, "000000", "10.0.3.0", "x")
	wantCode(t, "a spent address after someone else's code request", err, "too_many_attempts")
}

// TestTooManyAttemptsSaysWhatToDo: the answer to too many tries says to
// request a new code, and Retry-After is real: a client that waits it out
// may try again, and a new code can be had in the meantime.
func TestTooManyAttemptsSaysWhatToDo(t *testing.T) {
	f := newTestService(t)
	ctx := context.Background()
	const phone, ip = "+79161234567", "10.0.0.1"
	if _, err := f.svc.RequestCode(ctx, phone, ip); err != nil {
		t.Fatal(err)
	}
	code := f.sms.lastCode(t, phone)
	tryCodes(f, phone, wrongCode(code), ip, chat.MaxCodeAttempts)
	_, err := f.svc.Verify(ctx, phone, code, ip, "x")
	wantCode(t, "the sixth try", err, "too_many_attempts")
	e := chat.ErrorOf(err)
	if !strings.Contains(e.Message, "request a new code") && !strings.Contains(e.Message, "Request a new code") {
		t.Errorf("too_many_attempts says %q, want it to say to request a new code", e.Message)
	}
	if e.RetryAfter <= 0 || e.RetryAfter > chat.DefaultCodeTTL {
		t.Fatalf("too_many_attempts: Retry-After %v, want a wait shorter than a code's life", e.RetryAfter)
	}
	// Obeying Retry-After leads somewhere: the code still on the phone
	// works once the wait is over.
	f.clock.Advance(e.RetryAfter)
	if _, err := f.svc.Verify(ctx, phone, code, ip, "x"); err != nil {
		t.Fatalf("the right code after waiting Retry-After: %v", err)
	}

	// So does the message: a new code works at once, without the wait.
	if _, err := f.svc.RequestCode(ctx, phone, ip); err != nil {
		t.Fatal(err)
	}
	code = f.sms.lastCode(t, phone)
	tryCodes(f, phone, wrongCode(code), ip, chat.MaxCodeAttempts)
	_, err = f.svc.Verify(ctx, phone, code, ip, "x")
	wantCode(t, "the sixth try of the second code", err, "too_many_attempts")
	if _, err := f.svc.RequestCode(ctx, phone, ip); err != nil {
		t.Fatalf("a new code after too_many_attempts: %v", err)
	}
	if _, err := f.svc.Verify(ctx, phone, f.sms.lastCode(t, phone), ip, "x"); err != nil {
		t.Fatalf("the new code right after too_many_attempts: %v", err)
	}
}

// TestSMSGoesOnlyWhereItShould: codes go to mobile numbers of the
// configured regions only; numbers listed as test numbers are the
// operator's own and exempt, numbers under a test prefix are not.
func TestSMSGoesOnlyWhereItShould(t *testing.T) {
	ctx := context.Background()
	example := func(region string, typ phonenumbers.PhoneNumberType) string {
		return phonenumbers.Format(phonenumbers.GetExampleNumberForType(region, typ), phonenumbers.E164)
	}
	premium := example("RU", phonenumbers.PREMIUM_RATE)
	fixedLine := example("RU", phonenumbers.FIXED_LINE)
	tollFree := example("RU", phonenumbers.TOLL_FREE)
	satellite := phonenumbers.Format(phonenumbers.GetExampleNumberForNonGeoEntity(881), phonenumbers.E164)
	ukMobile := example("GB", phonenumbers.MOBILE)
	usMobile := example("US", phonenumbers.MOBILE) // FIXED_LINE_OR_MOBILE

	f := newTestService(t)
	for _, phone := range []string{premium, fixedLine, tollFree, satellite, ukMobile, usMobile} {
		_, err := f.svc.RequestCode(ctx, phone, "10.0.0.1")
		wantErr(t, "a code for "+phone, err, chat.ErrUnsupportedPhone)
		_, err = f.svc.Verify(ctx, phone, "123456", "10.0.0.1", "x")
		wantErr(t, "verify for "+phone, err, chat.ErrUnsupportedPhone)
		if n := f.sms.count(phone); n != 0 {
			t.Errorf("%s got %d SMS", phone, n)
		}
	}
	if _, err := f.svc.RequestCode(ctx, "+79161234567", "10.0.0.1"); err != nil {
		t.Errorf("a Russian mobile number: %v", err)
	}

	// More countries are a setting; premium and fixed lines stay refused.
	tp, err := chat.ParseTestPhones(premium+":123456,+7809*:654321", "RU")
	if err != nil {
		t.Fatal(err)
	}
	f, _ = newTestServiceWith(t, func(c *chat.Config) {
		c.SMSRegions = []string{"RU", "GB", "US"}
		c.TestPhones = tp
	})
	for _, phone := range []string{ukMobile, usMobile} {
		if _, err := f.svc.RequestCode(ctx, phone, "10.0.0.1"); err != nil {
			t.Errorf("%s with GB and US allowed: %v", phone, err)
		}
	}
	for _, phone := range []string{fixedLine, satellite, "+78091234568"} {
		_, err := f.svc.RequestCode(ctx, phone, "10.0.0.1")
		wantErr(t, "a code for "+phone+" with more countries allowed", err, chat.ErrUnsupportedPhone)
	}
	// The listed premium-rate number is the operator's: it logs in.
	if _, err := f.svc.RequestCode(ctx, premium, "10.0.0.1"); err != nil {
		t.Fatalf("a listed test number in a premium range: %v", err)
	}
	if _, err := f.svc.Verify(ctx, premium, "123456", "10.0.0.1", "x"); err != nil {
		t.Errorf("a listed test number in a premium range: %v", err)
	}
}

func TestLoopbackUnlimitedOnlyWhenConfigured(t *testing.T) {
	ctx := context.Background()
	requests := func(f *fixture, ip string) error {
		for i := range 40 {
			if _, err := f.svc.RequestCode(ctx, fmt.Sprintf("+7999123%04d", i), ip); err != nil {
				return err
			}
		}
		return nil
	}
	f := newTestService(t)
	wantCode(t, "40 codes from loopback by default", requests(f, "127.0.0.1"), "rate_limited")

	f, _ = newTestServiceWith(t, func(c *chat.Config) { c.LoopbackUnlimited = true })
	if err := requests(f, "127.0.0.1"); err != nil {
		t.Fatalf("40 codes from loopback with LoopbackUnlimited: %v", err)
	}
	if err := requests(f, "::1"); err != nil {
		t.Fatalf("40 codes from ::1 with LoopbackUnlimited: %v", err)
	}
	wantCode(t, "40 codes from another address with LoopbackUnlimited", requests(f, "10.0.0.1"), "rate_limited")
	// Per-number limits and tries are counted as always.
	for i := range 3 {
		if _, err := f.svc.RequestCode(ctx, "+79990000001", "127.0.0.1"); err != nil {
			t.Fatalf("code %d for one number from loopback: %v", i+1, err)
		}
	}
	_, err := f.svc.RequestCode(ctx, "+79990000001", "127.0.0.1")
	wantCode(t, "a fourth code for one number from loopback", err, "rate_limited")
	errs := tryCodes(f, "+79991230000", "123456", "127.0.0.1", chat.MaxCodeAttempts+1)
	wantCode(t, "the sixth wrong try from loopback", errs[chat.MaxCodeAttempts], "too_many_attempts")
}

func TestRefreshAndLogout(t *testing.T) {
	f := newTestService(t)
	ctx := context.Background()
	ann := f.newUser(t, "Ann")

	next, err := f.svc.Refresh(ctx, ann.auth.RefreshToken)
	if err != nil {
		t.Fatal(err)
	}
	if next.AccessToken == ann.auth.AccessToken || next.RefreshToken == ann.auth.RefreshToken || next.User.ID != chat.FormatID(ann.id) || next.User.FirstName != "Ann" {
		t.Errorf("refresh answered %+v", next)
	}
	p, err := f.svc.Authenticate(ctx, next.AccessToken)
	if err != nil || p.UserID != ann.id || p.Family != ann.p.Family {
		t.Errorf("the refreshed token: %v %+v, want the same user and family", err, p)
	}
	// Presenting a rotated refresh token again ends the whole family.
	_, err = f.svc.Refresh(ctx, ann.auth.RefreshToken)
	wantErr(t, "a reused refresh token", err, chat.ErrTokenReused)
	_, err = f.svc.Authenticate(ctx, next.AccessToken)
	wantErr(t, "the access token of a revoked family", err, chat.ErrInvalidToken)
	_, err = f.svc.Refresh(ctx, next.RefreshToken)
	wantErr(t, "the refresh token of a revoked family", err, chat.ErrInvalidToken)

	for _, tok := range []string{"", "nonsense", strings.Repeat("x", 300)} {
		_, err = f.svc.Refresh(ctx, tok)
		wantErr(t, "refresh "+tok[:min(len(tok), 10)], err, chat.ErrInvalidToken)
		_, err = f.svc.Authenticate(ctx, tok)
		wantErr(t, "authenticate "+tok[:min(len(tok), 10)], err, chat.ErrInvalidToken)
	}

	// Logout closes the session's connections everywhere and ends it.
	bob := f.newUser(t, "Bob")
	if err := f.svc.Logout(ctx, bob.p); err != nil {
		t.Fatal(err)
	}
	evs := bob.events.of(t, "")
	if len(evs) != 1 || evs[0].Kind != chat.EnvCloseFamily || evs[0].Origin != bob.p.Family {
		t.Errorf("logout events %+v, want one close of family %d", evs, bob.p.Family)
	}
	_, err = f.svc.Authenticate(ctx, bob.auth.AccessToken)
	wantErr(t, "authenticate after logout", err, chat.ErrInvalidToken)
	_, err = f.svc.Refresh(ctx, bob.auth.RefreshToken)
	wantErr(t, "refresh after logout", err, chat.ErrInvalidToken)
}

func TestAccessTokenExpires(t *testing.T) {
	f := newTestService(t)
	ctx := context.Background()
	ann := f.newUser(t, "Ann")
	f.clock.Advance(chat.DefaultAccessTTL + time.Second)
	_, err := f.svc.Authenticate(ctx, ann.auth.AccessToken)
	wantErr(t, "an expired access token", err, chat.ErrInvalidToken)
	next, err := f.svc.Refresh(ctx, ann.auth.RefreshToken)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.Authenticate(ctx, next.AccessToken); err != nil {
		t.Errorf("the refreshed token: %v", err)
	}
}
