package main

import (
	"strings"
	"testing"
)

// TestBadInput sends each kind of malformed request and checks the answer is
// a 4xx with the right code and that nothing was written.
func TestBadInput(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		tk := e.loginTest("+79990000001", "111111")
		big := `{"phone":"` + strings.Repeat("9", 70<<10) + `"}`
		cases := []struct {
			name, method, path, ctype string
			auth                      bool
			body                      any
			status                    int
			code                      string
		}{
			{"otp malformed json", "POST", "/v1/auth/otp", "application/json", false, `{"phone":`, 400, "invalid_json"},
			{"otp not an object", "POST", "/v1/auth/otp", "application/json", false, `["+79161234567"]`, 400, "invalid_json"},
			{"otp wrong type", "POST", "/v1/auth/otp", "application/json", false, `{"phone":79161234567}`, 400, "invalid_json"},
			{"otp unknown field", "POST", "/v1/auth/otp", "application/json", false, `{"phone":"+79161234567","admin":true}`, 400, "unknown_field"},
			{"otp two values", "POST", "/v1/auth/otp", "application/json", false, `{"phone":"+79161234567"}{}`, 400, "invalid_json"},
			{"otp empty body", "POST", "/v1/auth/otp", "application/json", false, ``, 400, "invalid_json"},
			{"otp oversize", "POST", "/v1/auth/otp", "application/json", false, big, 413, "body_too_large"},
			{"otp form encoded", "POST", "/v1/auth/otp", "application/x-www-form-urlencoded", false, `phone=%2B79161234567`, 415, "unsupported_media_type"},
			{"otp not a phone", "POST", "/v1/auth/otp", "application/json", false, `{"phone":"call me maybe"}`, 400, "invalid_phone"},
			{"otp too short", "POST", "/v1/auth/otp", "application/json", false, `{"phone":"123"}`, 400, "invalid_phone"},
			{"otp empty phone", "POST", "/v1/auth/otp", "application/json", false, `{"phone":""}`, 400, "invalid_phone"},
			{"verify not a phone", "POST", "/v1/auth/verify", "application/json", false, `{"phone":"abc","code":"123456"}`, 400, "invalid_phone"},
			{"verify wrong type", "POST", "/v1/auth/verify", "application/json", false, `{"phone":"+79161234567","code":123456}`, 400, "invalid_json"},
			{"refresh unknown", "POST", "/v1/auth/refresh", "application/json", false, `{"refresh_token":"nope"}`, 401, "invalid_token"},
			{"refresh empty", "POST", "/v1/auth/refresh", "application/json", false, `{}`, 401, "invalid_token"},
			{"me without token", "GET", "/v1/me", "", false, nil, 401, "missing_token"},
			{"logout without token", "POST", "/v1/auth/logout", "", false, nil, 401, "missing_token"},
			{"patch me wrong type", "PATCH", "/v1/me", "application/json", true, `{"first_name":5}`, 400, "invalid_json"},
			{"patch me unknown field", "PATCH", "/v1/me", "application/json", true, `{"role":"admin"}`, 400, "unknown_field"},
			{"patch me control chars", "PATCH", "/v1/me", "application/json", true, `{"first_name":"a\u0007b"}`, 400, "invalid_name"},
			{"patch me too long", "PATCH", "/v1/me", "application/json", true, `{"first_name":"` + strings.Repeat("я", 65) + `"}`, 400, "invalid_name"},
			{"patch me blank first name", "PATCH", "/v1/me", "application/json", true, `{"first_name":"   "}`, 400, "invalid_name"},
			{"patch me invalid utf8", "PATCH", "/v1/me", "application/json", true, "{\"first_name\":\"\xff\xfe\"}", 400, "invalid_name"},
			{"user bad id", "GET", "/v1/users/abc", "", true, nil, 404, "not_found"},
			{"user unknown id", "GET", "/v1/users/12345", "", true, nil, 404, "not_found"},
			{"sync not array", "POST", "/v1/contacts/sync", "application/json", true, `{"phones":"+79161234567"}`, 400, "invalid_json"},
			{"sync missing", "POST", "/v1/contacts/sync", "application/json", true, `{}`, 400, "invalid_phones"},
			{"sync numbers not strings", "POST", "/v1/contacts/sync", "application/json", true, `{"phones":[79161234567]}`, 400, "invalid_json"},
			{"contacts bad limit", "GET", "/v1/contacts?limit=0", "", true, nil, 400, "invalid_limit"},
			{"contacts long query", "GET", "/v1/contacts?q=" + strings.Repeat("a", 65), "", true, nil, 400, "invalid_query"},
			{"avatar not multipart", "PUT", "/v1/me/avatar", "image/png", true, "\x89PNG", 415, "unsupported_media_type"},
			{"unknown route", "GET", "/v1/nope", "", true, nil, 404, "not_found"},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				token := ""
				if c.auth {
					token = tk.AccessToken
				}
				var body any
				if c.body != nil {
					body = c.body
				}
				r := e.doType(c.method, c.path, token, c.ctype, body)
				e.wantErr(r, c.status, c.code)
			})
		}
		// Nothing above changed the profile or registered a number.
		me := e.want(e.do("GET", "/v1/me", tk.AccessToken, nil), 200)
		if got := me.field(t, "first_name"); got != "" {
			t.Fatalf("got first_name %q after bad input, want unchanged", got)
		}
		r := e.want(e.do("POST", "/v1/contacts/sync", tk.AccessToken, map[string]any{"phones": []string{"+79161234567"}}), 200)
		if users := r.field(t, "users").([]any); len(users) != 0 {
			t.Fatalf("got %d registered users, want 0: bad input registered a number", len(users))
		}
		if n := e.sms.count(); n != 0 {
			t.Fatalf("bad input sent %d SMS, want 0", n)
		}
	})
}
