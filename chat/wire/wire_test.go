package wire

import (
	"encoding/json"
	"errors"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/korobka/korobka/chat"
)

// TestOneTableForBothTransports: an error reads the same over HTTP and in
// a WebSocket frame: the status from the one table, the code and message,
// and the wait of a rate limit (Retry-After, retry_after).
func TestOneTableForBothTransports(t *testing.T) {
	for _, tc := range []struct {
		err        error
		status     int
		code       string
		retryAfter int
	}{
		{chat.Errorf(chat.KindInvalid, "invalid_text", "x"), 400, "invalid_text", 0},
		{chat.ErrInvalidToken, 401, "invalid_token", 0},
		{chat.Errorf(chat.KindForbidden, "user_blocked", "x"), 403, "user_blocked", 0},
		{chat.ErrNotFound, 404, "not_found", 0},
		{chat.Errorf(chat.KindMethodNotAllowed, "method_not_allowed", "x"), 405, "method_not_allowed", 0},
		{chat.ErrConflict, 409, "conflict", 0},
		{chat.Errorf(chat.KindTooLarge, "body_too_large", "x"), 413, "body_too_large", 0},
		{chat.Errorf(chat.KindUnsupported, "unsupported_media_type", "x"), 415, "unsupported_media_type", 0},
		{&chat.Error{Kind: chat.KindRateLimited, Code: "rate_limited", Message: "x", RetryAfter: 1500 * time.Millisecond}, 429, "rate_limited", 2},
		{&chat.Error{Kind: chat.KindRateLimited, Code: "rate_limited", Message: "x"}, 429, "rate_limited", 1},
		{chat.Errorf(chat.KindUnavailable, "unavailable", "x"), 503, "unavailable", 0},
		{&chat.Error{Kind: chat.KindUnavailable, Code: "unavailable", Message: "x", RetryAfter: time.Second}, 503, "unavailable", 1},
		{chat.Errorf(chat.KindTimeout, "request_timeout", "x"), 408, "request_timeout", 0},
		{errors.New("a driver's secret detail"), 500, "internal", 0},
		{chat.Errorf(chat.KindInternal, "db_down", "password hunter2 refused"), 500, "internal", 0},
	} {
		w := httptest.NewRecorder()
		if got := WriteError(w, tc.err); got != tc.status || w.Code != tc.status {
			t.Errorf("%v: status %d (written %d), want %d", tc.err, got, w.Code, tc.status)
		}
		var body ErrorBody
		if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil || body.Error.Code != tc.code || body.Error.Message == "" {
			t.Errorf("%v: body %s (%v), want code %s", tc.err, w.Body, err, tc.code)
		}
		if tc.status == 500 && body.Error.Message != "Internal error." {
			t.Errorf("an internal error's cause reached the client: %s", w.Body)
		}
		if got := w.Header().Get("Retry-After"); tc.retryAfter > 0 && got != itoa(tc.retryAfter) || tc.retryAfter == 0 && got != "" {
			t.Errorf("%v: Retry-After %q, want %d", tc.err, got, tc.retryAfter)
		}
		if (tc.status == 401) != (w.Header().Get("WWW-Authenticate") != "") {
			t.Errorf("%v: WWW-Authenticate %q", tc.err, w.Header().Get("WWW-Authenticate"))
		}

		var frame struct {
			Type  string          `json:"type"`
			ID    json.RawMessage `json:"id"`
			Error ErrorDetail     `json:"error"`
		}
		if err := json.Unmarshal(ErrorFrame(json.RawMessage(`"r1"`), tc.err), &frame); err != nil {
			t.Fatal(err)
		}
		if frame.Type != "error" || string(frame.ID) != `"r1"` || frame.Error.Code != tc.code || frame.Error.RetryAfter != tc.retryAfter {
			t.Errorf("%v: frame %+v, want code %s retry_after %d", tc.err, frame, tc.code, tc.retryAfter)
		}
	}
}

func itoa(n int) string { b, _ := json.Marshal(n); return string(b) }

func TestBearerToken(t *testing.T) {
	for h, want := range map[string]string{
		"Bearer abc": "abc", "bearer  abc ": "abc", "BEARER x": "x",
		"": "", "Bearer": "", "Bearer ": "", "Basic abc": "", "abc": "",
	} {
		got, ok := BearerToken(h)
		if got != want || ok != (want != "") {
			t.Errorf("BearerToken(%q) = %q, %v; want %q", h, got, ok, want)
		}
	}
}
