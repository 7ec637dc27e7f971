package httpapi

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/korobka/korobka/chat"
)

// fakeService answers the handlers without a database: one token, one
// dialog, and the calls it got. Methods a test does not set up panic
// through the embedded nil interface, which the recovery turns into 500.
type fakeService struct {
	Service
	mu    sync.Mutex
	calls []string
	send  func(req chat.SendRequest) (chat.MessageView, bool, error)
}

func (f *fakeService) record(call string) {
	f.mu.Lock()
	f.calls = append(f.calls, call)
	f.mu.Unlock()
}

func (f *fakeService) Authenticate(ctx context.Context, token string) (chat.Principal, error) {
	f.record("Authenticate " + token)
	if token != "good" {
		return chat.Principal{}, chat.ErrInvalidToken
	}
	return chat.Principal{UserID: 5, SessionID: 6, Family: 6, Role: chat.RoleUser}, nil
}

func (f *fakeService) Send(ctx context.Context, p chat.Principal, origin int64, req chat.SendRequest) (chat.MessageView, bool, error) {
	f.record("Send")
	return f.send(req)
}

func (f *fakeService) Dialog(ctx context.Context, p chat.Principal, id int64) (chat.DialogView, error) {
	f.record("Dialog")
	if id != 17 {
		return chat.DialogView{}, chat.ErrNotFound
	}
	return chat.DialogView{ID: "17", Kind: chat.DialogDirect, UpdatedAt: time.Unix(0, 0).UTC()}, nil
}

func newHandler(t *testing.T, svc Service) http.Handler {
	t.Helper()
	h, err := NewServer(Deps{Service: svc})
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func serve(h http.Handler, method, path, token, body string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	return w
}

func errCode(t *testing.T, w *httptest.ResponseRecorder) string {
	t.Helper()
	var body struct{ Error struct{ Code string } }
	if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil {
		t.Fatalf("error body %q: %v", w.Body, err)
	}
	return body.Error.Code
}

// TestHandlersCheckWhoIsAsking: no route that needs a session reaches the
// service without one, and a refused request calls nothing else.
func TestHandlersCheckWhoIsAsking(t *testing.T) {
	svc := &fakeService{}
	h := newHandler(t, svc)
	for _, tc := range []struct {
		token, code string
	}{{"", "missing_token"}, {"bad", "invalid_token"}} {
		w := serve(h, "POST", "/v1/dialogs/17/messages", tc.token, `{"client_id":"c1","text":"hi"}`)
		if w.Code != 401 || errCode(t, w) != tc.code || w.Header().Get("WWW-Authenticate") == "" {
			t.Errorf("token %q: got %d %s, want 401 %s", tc.token, w.Code, w.Body, tc.code)
		}
	}
	for _, c := range svc.calls {
		if c == "Send" {
			t.Fatal("an unauthenticated send reached the service")
		}
	}
}

// TestHandlersRefuseBadInputBeforeTheService: strict JSON and strict ids
// are answered by the handler; the service never sees them.
func TestHandlersRefuseBadInputBeforeTheService(t *testing.T) {
	svc := &fakeService{send: func(chat.SendRequest) (chat.MessageView, bool, error) {
		panic("the service was called")
	}}
	h := newHandler(t, svc)
	for _, tc := range []struct {
		method, path, body string
		status             int
		code               string
	}{
		{"POST", "/v1/dialogs/17/messages", `{"client_id":"c1","text":"hi","extra":1}`, 400, "unknown_field"},
		{"POST", "/v1/dialogs/17/messages", `{"client_id":"c1","text":5}`, 400, "invalid_json"},
		{"POST", "/v1/dialogs/17/messages", `{"client_id":"c1"} {}`, 400, "invalid_json"},
		{"POST", "/v1/dialogs/17/messages", ``, 415, "unsupported_media_type"},
		{"POST", "/v1/dialogs/+17/messages", `{"client_id":"c1","text":"hi"}`, 404, "not_found"},
		{"GET", "/v1/dialogs/017", ``, 404, "not_found"},
		{"PUT", "/v1/dialogs", ``, 405, "method_not_allowed"},
		{"GET", "/v1/nope", ``, 404, "not_found"},
		{"GET", "/v1/dialogs/17/messages?since=3&before=9", ``, 400, "invalid_since"},
		{"GET", "/v1/dialogs/17/messages?since=-1", ``, 400, "invalid_since"},
		{"GET", "/v1/dialogs/17/messages?since=x", ``, 400, "invalid_since"},
	} {
		w := serve(h, tc.method, tc.path, "good", tc.body)
		if w.Code != tc.status || errCode(t, w) != tc.code {
			t.Errorf("%s %s %s: got %d %s, want %d %s", tc.method, tc.path, tc.body, w.Code, w.Body, tc.status, tc.code)
		}
	}
}

// TestHandlersAnswerTheServicesErrors: the service's error kinds become
// statuses through the one table, with Retry-After on a rate limit.
func TestHandlersAnswerTheServicesErrors(t *testing.T) {
	var next error
	svc := &fakeService{send: func(req chat.SendRequest) (chat.MessageView, bool, error) {
		if next != nil {
			return chat.MessageView{}, false, next
		}
		return chat.MessageView{ID: "17.1", DialogID: "17", Seq: 1, SenderID: "5", ClientID: req.ClientID, Text: req.Text,
			Attachments: json.RawMessage("[]"), Status: chat.StatusSent}, req.ClientID != "retry", nil
	}}
	h := newHandler(t, svc)
	w := serve(h, "POST", "/v1/dialogs/17/messages", "good", `{"client_id":"c1","text":"hi"}`)
	if w.Code != 201 || !strings.Contains(w.Body.String(), `"id":"17.1"`) {
		t.Fatalf("send: got %d %s, want 201 and the message", w.Code, w.Body)
	}
	// A retry that stored nothing is 200, not 201.
	if w := serve(h, "POST", "/v1/dialogs/17/messages", "good", `{"client_id":"retry","text":"hi"}`); w.Code != 200 {
		t.Errorf("retry: got %d %s, want 200", w.Code, w.Body)
	}
	next = chat.ErrClientIDConflict
	if w := serve(h, "POST", "/v1/dialogs/17/messages", "good", `{"client_id":"c1","text":"other"}`); w.Code != 409 || errCode(t, w) != "client_id_conflict" {
		t.Errorf("conflict: got %d %s, want 409 client_id_conflict", w.Code, w.Body)
	}
	next = &chat.Error{Kind: chat.KindRateLimited, Code: "rate_limited", Message: "Slow down.", RetryAfter: 2500 * time.Millisecond}
	w = serve(h, "POST", "/v1/dialogs/17/messages", "good", `{"client_id":"c2","text":"hi"}`)
	if w.Code != 429 || errCode(t, w) != "rate_limited" || w.Header().Get("Retry-After") != "3" {
		t.Errorf("rate limited: got %d %s Retry-After %q, want 429 rate_limited 3", w.Code, w.Body, w.Header().Get("Retry-After"))
	}
	next = chat.Errorf(chat.KindInternal, "internal", "database password is hunter2")
	w = serve(h, "POST", "/v1/dialogs/17/messages", "good", `{"client_id":"c3","text":"hi"}`)
	if w.Code != 500 || errCode(t, w) != "internal" || strings.Contains(w.Body.String(), "hunter2") {
		t.Errorf("internal: got %d %s, want 500 internal with nothing of the cause", w.Code, w.Body)
	}
	if w := serve(h, "GET", "/v1/dialogs/18", "good", ""); w.Code != 404 || errCode(t, w) != "not_found" {
		t.Errorf("another's dialog: got %d %s, want 404", w.Code, w.Body)
	}
}
