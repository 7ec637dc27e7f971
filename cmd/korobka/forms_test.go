package main

import (
	"bytes"
	"strings"
	"testing"
)

func TestForms(t *testing.T) {
	backendsWith(t, map[string]string{"KOROBKA_BUSINESS_NAME": "Acme support"}, func(t *testing.T, e *env) {
		adm := e.admin("+79990000001", "111111")
		user := e.loginTest("+79990000002", "222222")

		// A submission that fails the form's schema is refused with the
		// path of what is wrong, and nothing is stored or sent.
		r := e.do("POST", "/v1/forms/order_service", user.AccessToken, map[string]any{"service": "business", "name": "Анна"})
		if e.wantErr(r, 400, "schema_mismatch"); r.field(t, "error", "path") != "/phone" {
			t.Fatalf("missing phone: got %s, want path /phone", r.body)
		}
		r = e.do("POST", "/v1/forms/order_service", user.AccessToken, map[string]any{"service": "business", "name": "Анна", "phone": "call me"})
		if e.wantErr(r, 400, "schema_mismatch"); r.field(t, "error", "path") != "/phone" {
			t.Fatalf("bad phone: got %s, want path /phone", r.body)
		}
		e.wantErr(e.do("POST", "/v1/forms/order_service", user.AccessToken, map[string]any{"service": "business", "name": "Анна", "phone": "+79161234567", "coupon": "x"}), 400, "schema_mismatch")
		e.wantErr(e.do("POST", "/v1/forms/tariffs", user.AccessToken, map[string]any{"x": 1}), 404, "no_form")
		e.wantErr(e.do("POST", "/v1/forms/nope", user.AccessToken, map[string]any{"x": 1}), 404, "no_form")
		e.wantErr(e.do("POST", "/v1/forms/order_service", "", map[string]any{}), 401, "missing_token")
		var dialogs struct{ Dialogs []map[string]any }
		e.want(e.do("GET", "/v1/dialogs", user.AccessToken, nil), 200).json(t, &dialogs)
		if len(dialogs.Dialogs) != 0 {
			t.Fatalf("refused forms opened dialogs: %v", dialogs.Dialogs)
		}

		// A valid one is stored and continues the author's dialog with the
		// business as a card message.
		order := map[string]any{"service": "business", "name": "Анна", "phone": "+79161234567", "date": "завтра", "comment": "Перезвоните"}
		var rec struct {
			ID, Collection string
			DialogID       string `json:"dialog_id"`
			Message        struct {
				Text     string
				SenderID string `json:"sender_id"`
				Card     map[string]any
			}
		}
		e.want(e.do("POST", "/v1/forms/order_service", user.AccessToken, order), 201).json(t, &rec)
		if rec.Collection != "order_service" || rec.Message.Card["type"] != "form" || rec.Message.Card["submission_id"] != rec.ID ||
			rec.Message.SenderID != user.User.ID || !strings.Contains(rec.Message.Text, "Телефон / Phone: +79161234567") {
			t.Fatalf("receipt: got %+v", rec)
		}
		d := e.want(e.do("GET", "/v1/dialogs/"+rec.DialogID, user.AccessToken, nil), 200)
		if d.field(t, "title") != "Acme support" {
			t.Fatalf("form dialog: got %s, want the business", d.body)
		}
		// A second order continues the same dialog.
		var rec2 struct {
			DialogID string `json:"dialog_id"`
		}
		e.want(e.do("POST", "/v1/forms/order_service", user.AccessToken, order), 201).json(t, &rec2)
		if rec2.DialogID != rec.DialogID {
			t.Fatalf("second order went to dialog %s, want %s", rec2.DialogID, rec.DialogID)
		}
		h := e.want(e.do("GET", "/v1/dialogs/"+rec.DialogID+"/messages", user.AccessToken, nil), 200)
		if !bytes.Contains(h.body, []byte(`"card":{"type":"form"`)) {
			t.Fatalf("history: no card in %s", h.body)
		}

		// Admins read the submissions; users may not.
		var subs struct{ Submissions []map[string]any }
		e.want(e.do("GET", "/v1/admin/forms/order_service/submissions", adm.AccessToken, nil), 200).json(t, &subs)
		if len(subs.Submissions) != 2 || subs.Submissions[1]["id"] != rec.ID || subs.Submissions[0]["author_id"] != user.User.ID {
			t.Fatalf("submissions: got %v", subs.Submissions)
		}
		e.wantErr(e.do("GET", "/v1/admin/forms/order_service/submissions", user.AccessToken, nil), 403, "forbidden")

		// The shipped screen posts to the form.
		s := e.screen("/v1/screens/order_service?service=business", user.AccessToken, "")
		if s.status != 200 || !bytes.Contains(s.body, []byte(`"endpoint":"/v1/forms/order_service"`)) || !bytes.Contains(s.body, []byte(`"service":"business"`)) {
			t.Fatalf("order_service screen: got %d %s", s.status, s.body)
		}
	})
}
