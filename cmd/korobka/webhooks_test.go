package main

import (
	"bytes"
	"crypto/hmac"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/korobka/korobka/chat"
)

// hookReceiver is a business backend on loopback: it records what it is
// sent and fails the first delivery of each event with failFirst.
type hookReceiver struct {
	mu        sync.Mutex
	got       []receivedHook
	seen      map[string]int // delivery id -> attempts
	failFirst string
}

type receivedHook struct {
	event, delivery, signature string
	timestamp                  int64
	body                       []byte
}

func newHookReceiver(t *testing.T, failFirst string) (*hookReceiver, string) {
	r := &hookReceiver{seen: map[string]int{}, failFirst: failFirst}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		ts, _ := strconv.ParseInt(req.Header.Get("X-Korobka-Timestamp"), 10, 64)
		h := receivedHook{event: req.Header.Get("X-Korobka-Event"), delivery: req.Header.Get("X-Korobka-Delivery"),
			signature: req.Header.Get("X-Korobka-Signature"), timestamp: ts, body: body}
		r.mu.Lock()
		r.seen[h.delivery]++
		first := r.seen[h.delivery] == 1
		r.got = append(r.got, h)
		r.mu.Unlock()
		if first && h.event == r.failFirst {
			w.WriteHeader(http.StatusInternalServerError)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(srv.Close)
	return r, srv.URL
}

// wait returns the deliveries of event once n attempts of it arrived.
func (r *hookReceiver) wait(t *testing.T, event string, n int) []receivedHook {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		r.mu.Lock()
		var out []receivedHook
		for _, h := range r.got {
			if h.event == event {
				out = append(out, h)
			}
		}
		r.mu.Unlock()
		if len(out) >= n {
			return out
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d attempts of %s arrived, want %d", len(out), event, n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestWebhooks(t *testing.T) {
	backendsWith(t, map[string]string{"KOROBKA_OUTBOUND_ALLOW": "127.0.0.1"}, func(t *testing.T, e *env) {
		rcv, url := newHookReceiver(t, chat.EventFormSubmitted)
		adm := e.admin("+79990000001", "111111")
		user := e.loginTest("+79990000002", "222222")

		e.wantErr(e.do("POST", "/v1/admin/webhooks", user.AccessToken, map[string]any{"url": url, "events": []string{"form.submitted"}}), 403, "forbidden")
		e.wantErr(e.do("POST", "/v1/admin/webhooks", adm.AccessToken, map[string]any{"url": url, "events": []string{"user.deleted"}}), 400, "invalid_events")
		e.wantErr(e.do("POST", "/v1/admin/webhooks", adm.AccessToken, map[string]any{"url": "ftp://example.com/x", "events": []string{"form.submitted"}}), 400, "invalid_url")
		e.wantErr(e.do("POST", "/v1/admin/webhooks", adm.AccessToken, map[string]any{"url": "http://10.1.2.3/hook", "events": []string{"form.submitted"}}), 400, "invalid_url")
		var hook struct{ ID, Secret string }
		e.want(e.do("POST", "/v1/admin/webhooks", adm.AccessToken, map[string]any{"url": url + "/hook",
			"events": []string{"form.submitted", "message.created", "content.changed"}}), 201).json(t, &hook)
		if hook.Secret == "" {
			t.Fatal("no secret in the new webhook")
		}
		if l := e.want(e.do("GET", "/v1/admin/webhooks", adm.AccessToken, nil), 200); contains(l.body, []byte(hook.Secret)) {
			t.Fatal("the webhook list shows the secret")
		}

		// A form submission: the first attempt fails (500), the retry is
		// delivered; both are signed over timestamp and body.
		order := map[string]any{"service": "start", "name": "Анна", "phone": "+79161234567"}
		e.want(e.do("POST", "/v1/forms/order_service", user.AccessToken, order), 201)
		got := rcv.wait(t, chat.EventFormSubmitted, 2)
		for _, h := range got[:2] {
			if want := chat.SignWebhook(hook.Secret, h.timestamp, h.body); !hmac.Equal([]byte(h.signature), []byte(want)) {
				t.Fatalf("signature %q, want %q", h.signature, want)
			}
			if d := time.Since(time.Unix(h.timestamp, 0)); d < -time.Minute || d > time.Minute {
				t.Fatalf("timestamp %d is %v away", h.timestamp, d)
			}
		}
		if got[0].delivery != got[1].delivery {
			t.Fatalf("the retry is delivery %s, want %s again", got[1].delivery, got[0].delivery)
		}
		var payload struct {
			Event string
			Data  struct {
				Submission struct{ Collection string }
			}
		}
		json.Unmarshal(got[1].body, &payload)
		if payload.Event != "form.submitted" || payload.Data.Submission.Collection != "order_service" {
			t.Fatalf("payload: %s", got[1].body)
		}
		// The delivery log says so.
		deadline := time.Now().Add(10 * time.Second)
		for {
			var log struct{ Deliveries []chat.WebhookDelivery }
			e.want(e.do("GET", "/v1/admin/webhooks/"+hook.ID+"/deliveries", adm.AccessToken, nil), 200).json(t, &log)
			if len(log.Deliveries) == 1 && log.Deliveries[0].State == chat.WebhookDelivered && log.Deliveries[0].Attempts == 2 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("delivery log: %+v, want one delivered in 2 attempts", log.Deliveries)
			}
			time.Sleep(20 * time.Millisecond)
		}

		// A message to the business and an edit of content.
		d := e.want(e.do("POST", "/v1/business/dialog", user.AccessToken, map[string]any{"subject": "hooks"}), 201).field(t, "id").(string)
		e.want(e.do("POST", "/v1/dialogs/"+d+"/messages", user.AccessToken, map[string]any{"client_id": "h1", "text": "Здравствуйте"}), 201)
		m := rcv.wait(t, chat.EventMessageCreated, 1)
		if !contains(m[0].body, []byte("Здравствуйте")) {
			t.Fatalf("message.created: %s", m[0].body)
		}
		e.want(e.do("PUT", "/v1/admin/collections/tariffs/order", adm.AccessToken, map[string]any{"ids": []string{"enterprise", "business", "start"}}), 204)
		if c := rcv.wait(t, chat.EventContentChanged, 1); !contains(c[0].body, []byte(`"collection":"tariffs"`)) {
			t.Fatalf("content.changed: %s", c[0].body)
		}

		e.want(e.do("DELETE", "/v1/admin/webhooks/"+hook.ID, adm.AccessToken, nil), 204)
		e.wantErr(e.do("DELETE", "/v1/admin/webhooks/"+hook.ID, adm.AccessToken, nil), 404, "not_found")
		for _, action := range []string{"webhook.create", "webhook.delete"} {
			if !e.audited(adm.User.ID, action, hook.ID) {
				t.Errorf("no audit entry %s", action)
			}
		}
	})
}

// TestWebhookTargetsGuarded: without the allow setting, loopback targets
// are refused at registration.
func TestWebhookTargetsGuarded(t *testing.T) {
	e := newEnv(t, nil)
	adm := e.admin("+79990000001", "111111")
	for _, u := range []string{"http://127.0.0.1:9/x", "http://localhost/x", "http://[::1]/x", "http://192.168.1.1/x"} {
		e.wantErr(e.do("POST", "/v1/admin/webhooks", adm.AccessToken, map[string]any{"url": u, "events": []string{"form.submitted"}}), 400, "invalid_url")
	}
}

func contains(b, sub []byte) bool { return bytes.Contains(b, sub) }
