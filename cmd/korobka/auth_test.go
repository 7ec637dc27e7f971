package main

import (
	"fmt"
	"testing"
)

func TestLoginRefreshLogout(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		// Russian local format, as a person types it.
		r := e.want(e.do("POST", "/v1/auth/otp", "", map[string]string{"phone": "8 (916) 123-45-67"}), 200)
		if got := r.field(t, "phone"); got != "+79161234567" {
			t.Fatalf("got phone %v, want +79161234567", got)
		}
		if got := r.field(t, "expires_in"); got != float64(300) {
			t.Fatalf("got expires_in %v, want 300", got)
		}
		code := e.sms.code(t, "+79161234567")

		wrong := "000000"
		if code == wrong {
			wrong = "000001"
		}
		e.wantErr(e.do("POST", "/v1/auth/verify", "", map[string]string{"phone": "+79161234567", "code": wrong}), 400, "invalid_code")

		var tk tokens
		e.want(e.do("POST", "/v1/auth/verify", "", map[string]string{"phone": "+7 916 123 45 67", "code": code}), 200).json(t, &tk)
		if tk.AccessToken == "" || tk.RefreshToken == "" || tk.ExpiresIn != 900 || !tk.NewUser {
			t.Fatalf("got %+v, want tokens, expires_in 900, new_user", tk)
		}
		if tk.User.Phone != "+79161234567" || tk.User.ID == "" {
			t.Fatalf("got user %+v, want id and own phone", tk.User)
		}
		// The code is spent.
		e.wantErr(e.do("POST", "/v1/auth/verify", "", map[string]string{"phone": "+79161234567", "code": code}), 400, "invalid_code")

		me := e.want(e.do("GET", "/v1/me", tk.AccessToken, nil), 200)
		if got := me.field(t, "id"); got != tk.User.ID {
			t.Fatalf("got /v1/me id %v, want %s", got, tk.User.ID)
		}

		// A second login of the same number is the same user, not new.
		tk2 := e.login("+79161234567")
		if tk2.User.ID != tk.User.ID || tk2.NewUser {
			t.Fatalf("second login: got id %s new %v, want id %s and not new", tk2.User.ID, tk2.NewUser, tk.User.ID)
		}

		// Refresh rotates both tokens.
		var rt tokens
		e.want(e.do("POST", "/v1/auth/refresh", "", map[string]string{"refresh_token": tk.RefreshToken}), 200).json(t, &rt)
		if rt.AccessToken == tk.AccessToken || rt.RefreshToken == tk.RefreshToken || rt.User.ID != tk.User.ID {
			t.Fatalf("refresh did not rotate: %+v", rt)
		}
		e.want(e.do("GET", "/v1/me", rt.AccessToken, nil), 200)

		// Reusing the rotated refresh token ends the session family.
		e.wantErr(e.do("POST", "/v1/auth/refresh", "", map[string]string{"refresh_token": tk.RefreshToken}), 401, "token_reused")
		e.wantErr(e.do("GET", "/v1/me", rt.AccessToken, nil), 401, "invalid_token")
		e.wantErr(e.do("POST", "/v1/auth/refresh", "", map[string]string{"refresh_token": rt.RefreshToken}), 401, "invalid_token")

		// The other device's session is untouched; logout ends it at once.
		e.want(e.do("GET", "/v1/me", tk2.AccessToken, nil), 200)
		e.want(e.do("POST", "/v1/auth/logout", tk2.AccessToken, nil), 204)
		e.wantErr(e.do("GET", "/v1/me", tk2.AccessToken, nil), 401, "invalid_token")
		e.wantErr(e.do("POST", "/v1/auth/refresh", "", map[string]string{"refresh_token": tk2.RefreshToken}), 401, "invalid_token")
	})
}

func TestFiveWrongCodesDropTheCode(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		phone := "+79161110000"
		e.want(e.do("POST", "/v1/auth/otp", "", map[string]string{"phone": phone}), 200)
		code := e.sms.code(t, phone)
		wrong := "123456"
		if code == wrong {
			wrong = "654321"
		}
		for i := 0; i < 5; i++ {
			e.wantErr(e.do("POST", "/v1/auth/verify", "", map[string]string{"phone": phone, "code": wrong}), 400, "invalid_code")
		}
		// Now even the right code is refused until a new one is requested.
		r := e.do("POST", "/v1/auth/verify", "", map[string]string{"phone": phone, "code": code})
		e.wantErr(r, 429, "too_many_attempts")
		if r.header.Get("Retry-After") == "" {
			t.Fatal("429 without Retry-After")
		}
		e.want(e.do("POST", "/v1/auth/otp", "", map[string]string{"phone": phone}), 200)
		e.want(e.do("POST", "/v1/auth/verify", "", map[string]string{"phone": phone, "code": e.sms.code(t, phone)}), 200)
	})
}

func TestExpiredCodeAndUnknownNumber(t *testing.T) {
	e := newEnv(t, nil)
	e.wantErr(e.do("POST", "/v1/auth/verify", "", map[string]string{"phone": "+79165550000", "code": "123456"}), 400, "invalid_code")
	// Malformed codes are refused without spending an attempt.
	for _, c := range []string{"", "12345", "1234567", "abcdef", "12 34 56"} {
		e.wantErr(e.do("POST", "/v1/auth/verify", "", map[string]string{"phone": "+79165550000", "code": c}), 400, "invalid_code")
	}
}

func TestTestPhonesUseFixedCodesAndSendNoSMS(t *testing.T) {
	// As korobka bench runs: test numbers from loopback, which
	// KOROBKA_LOOPBACK_UNLIMITED exempts from the per-address limits.
	backendsWith(t, map[string]string{"KOROBKA_LOOPBACK_UNLIMITED": "1"}, func(t *testing.T, e *env) {
		a := e.loginTest("+79990000001", "111111")
		if a.User.Phone != "+79990000001" {
			t.Fatalf("got phone %q", a.User.Phone)
		}
		// A prefix entry covers a range (load tests, QA).
		e.loginTest("+79991234567", "333333")
		e.wantErr(e.do("POST", "/v1/auth/verify", "", map[string]string{"phone": "+79990000002", "code": "111111"}), 400, "invalid_code")
		if n := e.sms.count(); n != 0 {
			t.Fatalf("got %d SMS sent, want 0 for test numbers", n)
		}
		// The loopback exemption: far more logins than the per-address
		// limits allow.
		for i := 0; i < 40; i++ {
			e.loginTest(fmt.Sprintf("+7999123%04d", i), "333333")
		}
	})
}

func TestCodeRequestRateLimits(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		phone := "+79162220000"
		if n := e.untilLimited(10, 200, func(int) response {
			return e.do("POST", "/v1/auth/otp", "", map[string]string{"phone": phone})
		}); n < 3 {
			t.Fatalf("limited after %d requests, want at least 3 allowed", n)
		}
		// Many numbers from one address hit the per-IP limit.
		e.untilLimited(40, 200, func(i int) response {
			return e.do("POST", "/v1/auth/otp", "", map[string]string{"phone": fmt.Sprintf("+7916333%04d", i)})
		})
	})
}
