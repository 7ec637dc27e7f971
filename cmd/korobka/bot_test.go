package main

import (
	"strings"
	"testing"
)

func TestBotAPI(t *testing.T) {
	backendsWith(t, map[string]string{"KOROBKA_BUSINESS_NAME": "Acme support"}, func(t *testing.T, e *env) {
		adm := e.admin("+79990000001", "111111")
		user := e.loginTest("+79990000002", "222222")
		other := e.loginTest("+79991234001", "333333")

		// Only admins make keys; the key is shown once.
		e.wantErr(e.do("POST", "/v1/admin/bot/keys", user.AccessToken, map[string]any{"name": "CRM"}), 403, "forbidden")
		e.wantErr(e.do("POST", "/v1/admin/bot/keys", adm.AccessToken, map[string]any{"name": ""}), 400, "invalid_name")
		var k struct{ ID, Name, Prefix, Key string }
		e.want(e.do("POST", "/v1/admin/bot/keys", adm.AccessToken, map[string]any{"name": "CRM"}), 201).json(t, &k)
		if !strings.HasPrefix(k.Key, "kbk_") || !strings.HasPrefix(k.Key, k.Prefix) || k.Name != "CRM" {
			t.Fatalf("new key: got %+v", k)
		}
		list := e.want(e.do("GET", "/v1/admin/bot/keys", adm.AccessToken, nil), 200)
		if strings.Contains(string(list.body), k.Key) || !strings.Contains(string(list.body), k.Prefix) {
			t.Fatalf("key list: %s, want the prefix and never the key", list.body)
		}

		// A client writes to the business; the bot reads and answers as it.
		d := e.want(e.do("POST", "/v1/business/dialog", user.AccessToken, map[string]any{}), 201).field(t, "id").(string)
		e.want(e.do("POST", "/v1/dialogs/"+d+"/messages", user.AccessToken, map[string]any{"client_id": "u1", "text": "Где мой заказ?"}), 201)
		page := e.want(e.do("GET", "/v1/bot/dialogs", k.Key, nil), 200)
		if !strings.Contains(string(page.body), `"id":"`+d+`"`) {
			t.Fatalf("bot dialogs: %s, want dialog %s", page.body, d)
		}
		e.want(e.do("GET", "/v1/bot/dialogs/"+d, k.Key, nil), 200)
		h := e.want(e.do("GET", "/v1/bot/dialogs/"+d+"/messages", k.Key, nil), 200)
		if !strings.Contains(string(h.body), "Где мой заказ?") {
			t.Fatalf("bot history: %s", h.body)
		}
		sent := e.want(e.do("POST", "/v1/bot/dialogs/"+d+"/messages", k.Key, map[string]any{"client_id": "b1", "text": "Заказ в пути."}), 201)
		e.want(e.do("POST", "/v1/bot/dialogs/"+d+"/messages", k.Key, map[string]any{"client_id": "b1", "text": "Заказ в пути."}), 200)
		uh := e.want(e.do("GET", "/v1/dialogs/"+d+"/messages", user.AccessToken, nil), 200)
		if !strings.Contains(string(uh.body), "Заказ в пути.") || sent.field(t, "sender_id") == user.User.ID {
			t.Fatalf("the client's history: %s", uh.body)
		}
		// A bot writes first to another user.
		od := e.want(e.do("POST", "/v1/bot/users/"+other.User.ID+"/dialog", k.Key, map[string]any{"subject": "order:17"}), 201)
		if od.field(t, "subject") != "order:17" {
			t.Fatalf("bot dialog: %s", od.body)
		}
		// The bot sees only the business's dialogs.
		a, b, pd := e.pair2(user, other)
		_, _ = a, b
		e.wantErr(e.do("GET", "/v1/bot/dialogs/"+pd+"/messages", k.Key, nil), 404, "not_found")

		// Keys and tokens do not cross.
		e.wantErr(e.do("GET", "/v1/bot/dialogs", user.AccessToken, nil), 401, "invalid_token")
		e.wantErr(e.do("GET", "/v1/bot/dialogs", "", nil), 401, "missing_token")
		e.wantErr(e.do("GET", "/v1/me", k.Key, nil), 401, "invalid_token")
		e.wantErr(e.do("GET", "/v1/admin/bot/keys", k.Key, nil), 401, "invalid_token")

		// A revoked key stops working at once.
		e.want(e.do("DELETE", "/v1/admin/bot/keys/"+k.ID, adm.AccessToken, nil), 204)
		e.wantErr(e.do("DELETE", "/v1/admin/bot/keys/"+k.ID, adm.AccessToken, nil), 404, "not_found")
		e.wantErr(e.do("GET", "/v1/bot/dialogs", k.Key, nil), 401, "invalid_token")
		for _, action := range []string{"bot_key.create", "bot_key.revoke"} {
			if !e.audited(adm.User.ID, action, k.ID) {
				t.Errorf("no audit entry %s", action)
			}
		}
	})
}

// pair2 opens a direct dialog between two logged-in users.
func (e *env) pair2(a, b tokens) (tokens, tokens, string) {
	e.t.Helper()
	r := e.want(e.do("POST", "/v1/dialogs", a.AccessToken, map[string]any{"user_id": b.User.ID}), 201)
	return a, b, r.field(e.t, "id").(string)
}
