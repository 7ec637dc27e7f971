package sms

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/korobka/korobka/chat"
)

const (
	testAPIID = "SECRET-0123-api-id"
	testPhone = "+79251234567"
	testText  = "Код входа: 123456"
)

// fakeSMSRu starts a server that checks each request the way sms.ru would
// read it and answers with status and body. It returns the server and a
// counter of the requests it saw.
func fakeSMSRu(t *testing.T, status int, body string) (*httptest.Server, *atomic.Int32) {
	t.Helper()
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		checkRequest(t, r)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		w.Write([]byte(body))
	}))
	t.Cleanup(srv.Close)
	return srv, &calls
}

func checkRequest(t *testing.T, r *http.Request) {
	t.Helper()
	if r.Method != http.MethodPost {
		t.Errorf("got method %s, want POST", r.Method)
	}
	if r.URL.Path != "/sms/send" {
		t.Errorf("got path %s, want /sms/send", r.URL.Path)
	}
	if r.URL.RawQuery != "" {
		t.Errorf("got query %q, want none (api_id belongs in the body)", r.URL.RawQuery)
	}
	if got := r.Header.Get("Content-Type"); got != "application/x-www-form-urlencoded" {
		t.Errorf("got Content-Type %q, want a form", got)
	}
	if err := r.ParseForm(); err != nil {
		t.Errorf("ParseForm: %v", err)
		return
	}
	for field, want := range map[string]string{
		"api_id": testAPIID,
		"to":     "79251234567",
		"msg":    testText,
		"json":   "1",
	} {
		if got := r.PostForm.Get(field); got != want {
			t.Errorf("got %s %q, want %q", field, got, want)
		}
	}
}

func TestSMSRuSendSMS(t *testing.T) {
	tests := []struct {
		name         string
		status       int
		body         string
		wantCode     string // "" for success
		wantProvider int    // sms.ru status_code in a *ProviderError, 0 for none
	}{
		{
			name:   "success",
			status: http.StatusOK,
			body:   `{"status":"OK","status_code":100,"sms":{"79251234567":{"status":"OK","status_code":100,"sms_id":"000000-10000000"}},"balance":4122.56}`,
		},
		{
			name:         "per-number failure",
			status:       http.StatusOK,
			body:         `{"status":"OK","status_code":100,"sms":{"79251234567":{"status":"ERROR","status_code":207,"status_text":"На этот номер нельзя отправлять сообщения"}},"balance":4122.56}`,
			wantCode:     "sms_unavailable",
			wantProvider: 207,
		},
		{
			name:         "top-level error",
			status:       http.StatusOK,
			body:         `{"status":"ERROR","status_code":200,"status_text":"Неправильный api_id"}`,
			wantCode:     "sms_unavailable",
			wantProvider: 200,
		},
		{
			name:     "no result for the number",
			status:   http.StatusOK,
			body:     `{"status":"OK","status_code":100,"sms":{}}`,
			wantCode: "sms_unavailable",
		},
		{
			name:     "server error",
			status:   http.StatusInternalServerError,
			body:     `{"status":"OK","status_code":100,"sms":{"79251234567":{"status":"OK"}}}`,
			wantCode: "sms_unavailable",
		},
		{
			name:     "malformed JSON",
			status:   http.StatusOK,
			body:     `<html>Service temporarily unavailable</html>`,
			wantCode: "sms_unavailable",
		},
		{
			name:     "truncated JSON",
			status:   http.StatusOK,
			body:     `{"status":"OK","sms":{"79251234567":{"status":"OK"`,
			wantCode: "sms_unavailable",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, calls := fakeSMSRu(t, tt.status, tt.body)
			s := NewSMSRu(testAPIID, WithBaseURL(srv.URL+"/"), WithHTTPClient(srv.Client()))
			err := s.SendSMS(context.Background(), testPhone, testText)
			if got := calls.Load(); got != 1 {
				t.Errorf("got %d requests, want 1", got)
			}
			if tt.wantCode == "" {
				if err != nil {
					t.Fatalf("got %v, want no error", err)
				}
				return
			}
			checkError(t, err, chat.KindUnavailable, tt.wantCode)
			var pe *ProviderError
			switch {
			case tt.wantProvider == 0 && errors.As(err, &pe):
				t.Errorf("got provider error %v, want none", pe)
			case tt.wantProvider != 0 && !errors.As(err, &pe):
				t.Errorf("got %v, want a *ProviderError", err)
			case tt.wantProvider != 0 && pe.StatusCode != tt.wantProvider:
				t.Errorf("got provider status %d, want %d", pe.StatusCode, tt.wantProvider)
			case tt.wantProvider != 0 && pe.StatusText == "":
				t.Errorf("got empty provider status_text, want the provider's text")
			}
		})
	}
}

// checkError checks err's kind and code and that the api_id is nowhere in
// its text, which is what ends up in logs.
func checkError(t *testing.T, err error, kind chat.Kind, code string) {
	t.Helper()
	var e *chat.Error
	if !errors.As(err, &e) {
		t.Fatalf("got %v, want *chat.Error %s", err, code)
	}
	if e.Kind != kind || e.Code != code {
		t.Errorf("got kind %d code %q, want kind %d code %q", e.Kind, e.Code, kind, code)
	}
	if strings.Contains(err.Error(), testAPIID) {
		t.Errorf("error %q contains the api_id", err)
	}
}

func TestSMSRuRejectsBadPhone(t *testing.T) {
	srv, calls := fakeSMSRu(t, http.StatusOK, `{}`)
	s := NewSMSRu(testAPIID, WithBaseURL(srv.URL), WithHTTPClient(srv.Client()))
	for _, phone := range []string{"", "79251234567", "+7925abc4567", "+", "+7 925 123 45 67", "+1234567890123456"} {
		err := s.SendSMS(context.Background(), phone, testText)
		checkError(t, err, chat.KindInvalid, "invalid_phone")
	}
	if got := calls.Load(); got != 0 {
		t.Errorf("got %d requests, want 0", got)
	}
}

func TestSMSRuCancelledWhileWaiting(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		cancel() // the caller gives up while the provider is thinking
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(release) }) // runs first: never leave the handler hanging

	s := NewSMSRu(testAPIID, WithBaseURL(srv.URL), WithHTTPClient(srv.Client()))
	err := s.SendSMS(ctx, testPhone, testText)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v, want context.Canceled", err)
	}
	if strings.Contains(err.Error(), testAPIID) {
		t.Errorf("error %q contains the api_id", err)
	}
}

func TestSMSRuClientTimeout(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(release) })

	client := srv.Client()
	client.Timeout = 50 * time.Millisecond
	s := NewSMSRu(testAPIID, WithBaseURL(srv.URL), WithHTTPClient(client))
	err := s.SendSMS(context.Background(), testPhone, testText)
	checkError(t, err, chat.KindUnavailable, "sms_unavailable")
}

func TestNewSMSRuDefaults(t *testing.T) {
	s := NewSMSRu(testAPIID)
	if s.baseURL != DefaultSMSRuURL {
		t.Errorf("got base URL %q, want %q", s.baseURL, DefaultSMSRuURL)
	}
	if s.client == nil || s.client.Timeout <= 0 {
		t.Errorf("got client %+v, want one with a timeout", s.client)
	}
}

func TestLogSender(t *testing.T) {
	var buf bytes.Buffer
	s := NewLogSender(slog.New(slog.NewTextHandler(&buf, nil)))
	if err := s.SendSMS(context.Background(), testPhone, testText); err != nil {
		t.Fatalf("SendSMS: %v", err)
	}
	for _, want := range []string{testPhone, testText} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("got log %q, want it to contain %q", buf.String(), want)
		}
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := s.SendSMS(ctx, testPhone, testText); !errors.Is(err, context.Canceled) {
		t.Errorf("got %v after cancel, want context.Canceled", err)
	}
	if err := NewLogSender(nil).SendSMS(context.Background(), testPhone, testText); err != nil {
		t.Errorf("nil logger: got %v, want no error", err)
	}
}
