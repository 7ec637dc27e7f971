package apns_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/korobka/korobka/chat"
	"github.com/korobka/korobka/chat/apns"
	"github.com/korobka/korobka/chat/chattest"
)

const token = "0a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f9"

func newSender(t *testing.T, f *chattest.FakeAPNs) *apns.Sender {
	t.Helper()
	s, err := apns.New(apns.Config{Key: f.KeyPEM, KeyID: f.KeyID, TeamID: f.TeamID, Topic: "com.example.korobka", Host: f.URL, TLS: f.TLS})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

func alert() chat.Notification {
	return chat.Notification{
		Kind: chat.JobMessage, Title: "Анна Петрова", Body: "привет", Badge: 3,
		DialogID: 17, Seq: 42, ThreadID: "d17", CollapseID: "message:17:42:5",
		Expiration: time.Now().Add(time.Hour),
	}
}

func TestPushAlert(t *testing.T) {
	f := chattest.NewFakeAPNs(t)
	s := newSender(t, f)
	if err := s.Push(t.Context(), chat.Device{Platform: chat.PlatformAPNs, Token: token}, alert()); err != nil {
		t.Fatalf("Push: %v", err)
	}
	pushes := f.Pushes()
	if len(pushes) != 1 {
		t.Fatalf("fake APNs got %d pushes, want 1", len(pushes))
	}
	p := pushes[0]
	if title, body := p.Alert(); title != "Анна Петрова" || body != "привет" {
		t.Errorf("alert: got %q / %q, want the title and body", title, body)
	}
	checks := []struct {
		what      string
		got, want any
	}{
		{"topic", p.Topic, "com.example.korobka"},
		{"apns-collapse-id", p.CollapseID, "message:17:42:5"},
		{"apns-push-type", p.PushType, "alert"},
		{"apns-priority", p.Priority, "10"},
		{"badge", p.Aps("badge"), float64(3)},
		{"thread-id", p.Aps("thread-id"), "d17"},
		{"sound", p.Aps("sound"), "default"},
		{"dialog_id", p.Payload["dialog_id"], "17"},
		{"seq", p.Payload["seq"], "42"},
		{"kind", p.Payload["kind"], "message"},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s: got %v, want %v", c.what, c.got, c.want)
		}
	}
	if p.Expiration == "" || p.Expiration == "0" {
		t.Errorf("apns-expiration: got %q, want the notification's expiry", p.Expiration)
	}
}

func TestPushSilentAndAppTopic(t *testing.T) {
	f := chattest.NewFakeAPNs(t)
	s := newSender(t, f)
	n := chat.Notification{Kind: chat.JobRead, Silent: true, Badge: 0, DialogID: 17, Seq: 42, ThreadID: "d17", CollapseID: "read:17:42:5"}
	if err := s.Push(t.Context(), chat.Device{Token: token, AppID: "com.example.white-label"}, n); err != nil {
		t.Fatalf("Push: %v", err)
	}
	p := f.Pushes()[0]
	if p.Aps("alert") != nil || p.Aps("content-available") != float64(1) || p.Priority != "5" {
		t.Errorf("silent push: got aps %v priority %s, want no alert, content-available 1, priority 5", p.Payload["aps"], p.Priority)
	}
	if p.Aps("badge") != float64(0) || p.Payload["read_seq"] != "42" {
		t.Errorf("silent push: got badge %v read_seq %v, want 0 and 42", p.Aps("badge"), p.Payload["read_seq"])
	}
	if p.Topic != "com.example.white-label" {
		t.Errorf("topic: got %q, want the device's app id", p.Topic)
	}
}

// TestPushFailures maps APNs' answers to what the worker does with them.
func TestPushFailures(t *testing.T) {
	for _, tc := range []struct {
		name      string
		fail      chattest.PushFailure
		gone      bool
		temporary bool
	}{
		{"410Unregistered", chattest.PushFailure{Status: 410, Reason: "Unregistered"}, true, false},
		{"400BadDeviceToken", chattest.PushFailure{Status: 400, Reason: "BadDeviceToken"}, true, false},
		{"429TooManyRequests", chattest.PushFailure{Status: 429, Reason: "TooManyRequests"}, false, true},
		{"500InternalServerError", chattest.PushFailure{Status: 500, Reason: "InternalServerError"}, false, true},
		{"503ServiceUnavailable", chattest.PushFailure{Status: 503, Reason: "ServiceUnavailable"}, false, true},
		{"403ExpiredProviderToken", chattest.PushFailure{Status: 403, Reason: "ExpiredProviderToken"}, false, true},
		{"400BadTopicIsRefused", chattest.PushFailure{Status: 400, Reason: "TopicDisallowed"}, false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := chattest.NewFakeAPNs(t)
			f.Fail(token, tc.fail)
			err := newSender(t, f).Push(t.Context(), chat.Device{Token: token}, alert())
			var pe *chat.PushError
			if !errors.As(err, &pe) {
				t.Fatalf("Push: got %v, want a *chat.PushError", err)
			}
			if pe.Gone != tc.gone || pe.Temporary != tc.temporary {
				t.Fatalf("Push: got gone %v temporary %v (%v), want gone %v temporary %v", pe.Gone, pe.Temporary, err, tc.gone, tc.temporary)
			}
			if !strings.Contains(pe.Error(), tc.fail.Reason) {
				t.Errorf("error %q does not name the reason %s", pe.Error(), tc.fail.Reason)
			}
		})
	}
}

func TestPushTimeout(t *testing.T) {
	f := chattest.NewFakeAPNs(t)
	f.Fail(token, chattest.PushFailure{Hang: true})
	ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
	defer cancel()
	err := newSender(t, f).Push(ctx, chat.Device{Token: token}, alert())
	var pe *chat.PushError
	if !errors.As(err, &pe) || !pe.Temporary || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Push to a server that does not answer: got %v, want a temporary error wrapping the deadline", err)
	}
}

func TestLongCollapseIDFits(t *testing.T) {
	f := chattest.NewFakeAPNs(t)
	s := newSender(t, f)
	n := alert()
	n.CollapseID = chat.JobKey(chat.JobMessage, 1<<62, 1<<62, 1<<62) // 67 bytes
	for range 2 {
		if err := s.Push(t.Context(), chat.Device{Token: token}, n); err != nil {
			t.Fatalf("Push with a long job key: %v", err)
		}
	}
	ps := f.Pushes()
	if len(ps[0].CollapseID) != 64 || ps[0].CollapseID != ps[1].CollapseID {
		t.Fatalf("collapse ids %q, %q: want the same 64 characters for the same key", ps[0].CollapseID, ps[1].CollapseID)
	}
	if shown := f.Shown(token); len(shown) != 1 {
		t.Fatalf("the phone shows %d notifications for one job sent twice, want 1", len(shown))
	}
}

func TestNewChecksConfig(t *testing.T) {
	f := chattest.NewFakeAPNs(t)
	for _, tc := range []struct {
		name string
		cfg  apns.Config
	}{
		{"NoKey", apns.Config{KeyID: f.KeyID, TeamID: f.TeamID, Topic: "t"}},
		{"NotAKey", apns.Config{Key: []byte("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"), KeyID: f.KeyID, TeamID: f.TeamID, Topic: "t"}},
		{"MissingFile", apns.Config{KeyFile: "/nonexistent/AuthKey.p8", KeyID: f.KeyID, TeamID: f.TeamID, Topic: "t"}},
		{"ShortKeyID", apns.Config{Key: f.KeyPEM, KeyID: "ABC", TeamID: f.TeamID, Topic: "t"}},
		{"NoTopic", apns.Config{Key: f.KeyPEM, KeyID: f.KeyID, TeamID: f.TeamID}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := apns.New(tc.cfg); err == nil {
				t.Fatal("New: got nil error, want one")
			}
		})
	}
}

// TestProviderTokenChecked: the fake refuses a token signed with another
// key, so the passing tests above prove the real signing.
func TestProviderTokenChecked(t *testing.T) {
	f := chattest.NewFakeAPNs(t)
	other := chattest.NewFakeAPNs(t)
	s, err := apns.New(apns.Config{Key: other.KeyPEM, KeyID: f.KeyID, TeamID: f.TeamID, Topic: "t", Host: f.URL, TLS: f.TLS})
	if err != nil {
		t.Fatal(err)
	}
	err = s.Push(t.Context(), chat.Device{Token: token}, alert())
	var pe *chat.PushError
	if !errors.As(err, &pe) || pe.Reason != "InvalidProviderToken" {
		t.Fatalf("Push signed with the wrong key: got %v, want InvalidProviderToken", err)
	}
}
