package fcm_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/korobka/korobka/chat"
	"github.com/korobka/korobka/chat/chattest"
	"github.com/korobka/korobka/chat/fcm"
)

const token = "fcm-token:APA91bH0_example-registration-token"

func newSender(t *testing.T, f *chattest.FakeFCM) *fcm.Sender {
	t.Helper()
	s, err := fcm.New(t.Context(), fcm.Config{Credentials: f.CredentialsJSON, Endpoint: f.URL + "/v1"})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func alert() chat.Notification {
	return chat.Notification{
		Kind: chat.JobMessage, Title: "Анна", Body: "Фото", Badge: 2,
		DialogID: 17, Seq: 42, ThreadID: "d17", CollapseID: "message:17:42:5",
		Expiration: time.Now().Add(time.Hour),
	}
}

func TestPushAlert(t *testing.T) {
	f := chattest.NewFakeFCM(t)
	if err := newSender(t, f).Push(t.Context(), chat.Device{Platform: chat.PlatformFCM, Token: token}, alert()); err != nil {
		t.Fatalf("Push: %v", err)
	}
	ms := f.Messages()
	if len(ms) != 1 {
		t.Fatalf("fake FCM got %d messages, want 1", len(ms))
	}
	m := ms[0]
	if m.Token != token || m.Notification == nil || m.Notification.Title != "Анна" || m.Notification.Body != "Фото" {
		t.Fatalf("message: got %+v, want the token, title and body", m)
	}
	want := map[string]string{"kind": "message", "dialog_id": "17", "seq": "42", "badge": "2"}
	for k, v := range want {
		if m.Data[k] != v {
			t.Errorf("data[%s]: got %q, want %q", k, m.Data[k], v)
		}
	}
	if m.Android == nil || m.Android.CollapseKey != "d17" || m.Android.Priority != "high" || m.Android.Notification == nil || m.Android.Notification.Tag != "message:17:42:5" {
		t.Errorf("android: got %+v, want collapse key d17, high priority, tag = the job key", m.Android)
	}
	if m.Android != nil && m.Android.TTL == "" {
		t.Error("android: no ttl, want the notification's expiry")
	}
	if m.APNS == nil || m.APNS.Headers["apns-collapse-id"] != "message:17:42:5" {
		t.Fatalf("apns: got %+v, want the collapse id header", m.APNS)
	}
	aps, _ := m.APNS.Payload["aps"].(map[string]any)
	if aps["badge"] != float64(2) || aps["thread-id"] != "d17" {
		t.Errorf("apns aps: got %v, want badge 2 and thread-id d17", aps)
	}
}

func TestPushSilent(t *testing.T) {
	f := chattest.NewFakeFCM(t)
	n := chat.Notification{Kind: chat.JobRead, Silent: true, Badge: 0, DialogID: 17, Seq: 42, ThreadID: "d17", CollapseID: "read:17:42:5"}
	if err := newSender(t, f).Push(t.Context(), chat.Device{Token: token}, n); err != nil {
		t.Fatalf("Push: %v", err)
	}
	m := f.Messages()[0]
	if m.Notification != nil || m.Data["read_seq"] != "42" || m.Data["badge"] != "0" || m.Android.Priority != "normal" {
		t.Fatalf("silent push: got %+v, want a data message with read_seq and badge, normal priority", m)
	}
	aps, _ := m.APNS.Payload["aps"].(map[string]any)
	if aps["content-available"] != float64(1) || aps["alert"] != nil {
		t.Errorf("silent push aps: got %v, want content-available and no alert", aps)
	}
}

// TestPushFailures maps FCM's errors to what the worker does with them.
func TestPushFailures(t *testing.T) {
	for _, tc := range []struct {
		name       string
		fail       chattest.PushFailure
		gone       bool
		temporary  bool
		retryAfter time.Duration
	}{
		{"404Unregistered", chattest.PushFailure{Status: 404, Reason: "UNREGISTERED"}, true, false, 0},
		{"429QuotaExceeded", chattest.PushFailure{Status: 429, Reason: "QUOTA_EXCEEDED", RetryAfter: 30}, false, true, 30 * time.Second},
		{"500Internal", chattest.PushFailure{Status: 500, Reason: "INTERNAL"}, false, true, 0},
		// A Retry-After beyond the library's own two-minute retry cap
		// comes straight back, hint and all.
		{"503UnavailableWithRetryAfter", chattest.PushFailure{Status: 503, Reason: "UNAVAILABLE", RetryAfter: 300}, false, true, 5 * time.Minute},
		{"400InvalidArgumentIsRefused", chattest.PushFailure{Status: 400, Reason: "INVALID_ARGUMENT"}, false, false, 0},
		{"403SenderIDMismatchIsRefused", chattest.PushFailure{Status: 403, Reason: "SENDER_ID_MISMATCH"}, false, false, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := chattest.NewFakeFCM(t)
			f.Fail(token, tc.fail)
			err := newSender(t, f).Push(t.Context(), chat.Device{Token: token}, alert())
			var pe *chat.PushError
			if !errors.As(err, &pe) {
				t.Fatalf("Push: got %v, want a *chat.PushError", err)
			}
			if pe.Gone != tc.gone || pe.Temporary != tc.temporary || pe.RetryAfter != tc.retryAfter {
				t.Fatalf("Push: got gone %v temporary %v retry after %v (%v), want %v %v %v",
					pe.Gone, pe.Temporary, pe.RetryAfter, err, tc.gone, tc.temporary, tc.retryAfter)
			}
		})
	}
}

func TestPushTimeout(t *testing.T) {
	f := chattest.NewFakeFCM(t)
	f.Fail(token, chattest.PushFailure{Hang: true})
	s := newSender(t, f)
	// Warm up the access token so the deadline is spent on the send.
	if err := s.Push(t.Context(), chat.Device{Token: "warm-up-token-0123456789"}, alert()); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
	defer cancel()
	err := s.Push(ctx, chat.Device{Token: token}, alert())
	var pe *chat.PushError
	if !errors.As(err, &pe) || !pe.Temporary {
		t.Fatalf("Push to a server that does not answer: got %v, want a temporary error", err)
	}
}

func TestNewChecksConfig(t *testing.T) {
	f := chattest.NewFakeFCM(t)
	for _, tc := range []struct {
		name string
		cfg  fcm.Config
	}{
		{"NoKey", fcm.Config{}},
		{"NotJSON", fcm.Config{Credentials: []byte("not json")}},
		{"NotAServiceAccount", fcm.Config{Credentials: []byte(`{"type":"external_account","credential_source":{"executable":{"command":"/bin/true"}}}`)}},
		{"MissingFile", fcm.Config{CredentialsFile: "/nonexistent/key.json"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := fcm.New(t.Context(), tc.cfg); err == nil {
				t.Fatal("New: got nil error, want one")
			}
		})
	}
	if _, err := fcm.New(t.Context(), fcm.Config{Credentials: f.CredentialsJSON}); err != nil {
		t.Fatalf("New with a service account key: %v", err)
	}
}
