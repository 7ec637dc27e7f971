package chat_test

import (
	"context"
	"strings"
	"testing"
	"time"

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
	wrong := "000000"
	if code == wrong {
		wrong = "000001"
	}
	_, err = f.svc.Verify(ctx, phone, wrong, "10.0.0.1", "phone")
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
	wantErr(t, "a used code", err, chat.ErrCodeNotRequested)

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
	wantErr(t, "a code never requested", err, chat.ErrCodeNotRequested)
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
	_, err := f.svc.Verify(ctx, phone, code, "10.0.0.1", "x")
	wantErr(t, "an expired code", err, chat.ErrCodeExpired)

	if _, err := f.svc.RequestCode(ctx, phone, "10.0.0.1"); err != nil {
		t.Fatal(err)
	}
	code = f.sms.lastCode(t, phone)
	wrong := "000000"
	if code == wrong {
		wrong = "000001"
	}
	for i := range chat.MaxCodeAttempts {
		_, err := f.svc.Verify(ctx, phone, wrong, "10.0.0.1", "x")
		wantCode(t, "wrong code", err, "invalid_code")
		if want := "attempts left"; err != nil && !strings.Contains(chat.ErrorOf(err).Message, want) {
			t.Errorf("attempt %d: message %q does not say how many are left", i+1, chat.ErrorOf(err).Message)
		}
	}
	// Even the right code is refused once the attempts are spent.
	_, err = f.svc.Verify(ctx, phone, code, "10.0.0.1", "x")
	wantCode(t, "the right code after too many wrong ones", err, "too_many_attempts")
	if e := chat.ErrorOf(err); e.Kind != chat.KindRateLimited || e.RetryAfter <= 0 {
		t.Errorf("too many attempts: %+v", e)
	}

	// Code requests per number are limited (a burst of 3).
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
