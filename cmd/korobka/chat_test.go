package main

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// pair logs in two test users with names and opens their direct dialog.
func (e *env) pair() (a, b tokens, dialogID string) {
	e.t.Helper()
	a = e.loginTest("+79990000001", "111111")
	b = e.loginTest("+79990000002", "222222")
	e.want(e.do("PATCH", "/v1/me", a.AccessToken, map[string]any{"first_name": "Анна"}), 200)
	e.want(e.do("PATCH", "/v1/me", b.AccessToken, map[string]any{"first_name": "Борис"}), 200)
	r := e.want(e.do("POST", "/v1/dialogs", a.AccessToken, map[string]any{"user_id": b.User.ID}), 201)
	return a, b, r.field(e.t, "id").(string)
}

func TestDialogs(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		a, b, id := e.pair()
		// Get-or-create: either side, same dialog, 200.
		r := e.want(e.do("POST", "/v1/dialogs", b.AccessToken, map[string]any{"user_id": a.User.ID}), 200)
		if r.field(t, "id") != id || r.field(t, "title") != "Анна" || r.field(t, "kind") != "direct" {
			t.Fatalf("got %s, want dialog %s titled Анна for Борис", r.body, id)
		}
		// A subject makes a separate dialog (a marketplace listing).
		s1 := e.want(e.do("POST", "/v1/dialogs", a.AccessToken, map[string]any{"user_id": b.User.ID, "subject": "listing:42"}), 201)
		if s1.field(t, "id") == id || s1.field(t, "subject") != "listing:42" {
			t.Fatalf("got %s, want a new dialog about listing:42", s1.body)
		}
		e.want(e.do("POST", "/v1/dialogs", b.AccessToken, map[string]any{"user_id": a.User.ID, "subject": "listing:42"}), 200)

		// Messages move a dialog to the top and count as unread for the
		// other side only.
		for i := 0; i < 3; i++ {
			e.want(e.do("POST", "/v1/dialogs/"+id+"/messages", a.AccessToken, map[string]any{"client_id": fmt.Sprint("m", i), "text": fmt.Sprint("hello ", i)}), 201)
		}
		var list struct {
			Dialogs []struct {
				ID          string `json:"id"`
				Title       string `json:"title"`
				Unread      int    `json:"unread"`
				LastMessage struct {
					Text   string `json:"text"`
					Status string `json:"status"`
				} `json:"last_message"`
			} `json:"dialogs"`
			NextCursor string `json:"next_cursor"`
		}
		e.want(e.do("GET", "/v1/dialogs", b.AccessToken, nil), 200).json(t, &list)
		if len(list.Dialogs) != 2 || list.Dialogs[0].ID != id || list.Dialogs[0].Unread != 3 || list.Dialogs[0].LastMessage.Text != "hello 2" {
			t.Fatalf("got %+v, want the messaged dialog first with 3 unread", list)
		}
		e.want(e.do("GET", "/v1/dialogs", a.AccessToken, nil), 200).json(t, &list)
		if list.Dialogs[0].Unread != 0 || list.Dialogs[0].Title != "Борис" || list.Dialogs[0].LastMessage.Status != "sent" {
			t.Fatalf("got %+v, want no unread for the sender and status sent", list.Dialogs[0])
		}

		// Paging: one per page, no repeats.
		e.want(e.do("GET", "/v1/dialogs?limit=1", b.AccessToken, nil), 200).json(t, &list)
		first, cursor := list.Dialogs[0].ID, list.NextCursor
		if cursor == "" {
			t.Fatal("no next_cursor with more dialogs left")
		}
		e.want(e.do("GET", "/v1/dialogs?limit=1&cursor="+cursor, b.AccessToken, nil), 200).json(t, &list)
		if len(list.Dialogs) != 1 || list.Dialogs[0].ID == first || list.NextCursor != "" {
			t.Fatalf("second page %+v, want the other dialog and no cursor", list)
		}

		// Reading clears unread and turns the sender's ticks.
		r = e.want(e.do("POST", "/v1/dialogs/"+id+"/read", b.AccessToken, map[string]any{"seq": 3}), 200)
		if r.field(t, "read_seq") != float64(3) || r.field(t, "delivered_seq") != float64(3) {
			t.Fatalf("got %s, want read_seq and delivered_seq 3", r.body)
		}
		// A lower seq never lowers it; a seq past the end is capped.
		r = e.want(e.do("POST", "/v1/dialogs/"+id+"/read", b.AccessToken, map[string]any{"seq": 1}), 200)
		if r.field(t, "read_seq") != float64(3) {
			t.Fatalf("got %s, want read_seq to stay 3", r.body)
		}
		r = e.want(e.do("POST", "/v1/dialogs/"+id+"/read", b.AccessToken, map[string]any{"seq": 999}), 200)
		if r.field(t, "read_seq") != float64(3) {
			t.Fatalf("got %s, want read_seq capped at 3", r.body)
		}
		var hist struct {
			Messages []struct {
				ID     string `json:"id"`
				Seq    int    `json:"seq"`
				Text   string `json:"text"`
				Status string `json:"status"`
			} `json:"messages"`
		}
		e.want(e.do("GET", "/v1/dialogs/"+id+"/messages", a.AccessToken, nil), 200).json(t, &hist)
		if len(hist.Messages) != 3 || hist.Messages[0].Seq != 1 || hist.Messages[2].Status != "read" {
			t.Fatalf("got %+v, want seqs 1..3, read", hist.Messages)
		}
		e.want(e.do("GET", "/v1/dialogs/"+id+"/messages?before=3&limit=1", a.AccessToken, nil), 200).json(t, &hist)
		if len(hist.Messages) != 1 || hist.Messages[0].Seq != 2 {
			t.Fatalf("got %+v, want only seq 2", hist.Messages)
		}
	})
}

func TestSendIsIdempotentAndOrdered(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		a, _, id := e.pair()
		m1 := e.want(e.do("POST", "/v1/dialogs/"+id+"/messages", a.AccessToken, map[string]any{"client_id": "c-1", "text": "  привет  "}), 201)
		again := e.want(e.do("POST", "/v1/dialogs/"+id+"/messages", a.AccessToken, map[string]any{"client_id": "c-1", "text": "привет"}), 200)
		if m1.field(t, "id") != again.field(t, "id") || m1.field(t, "text") != "привет" || m1.field(t, "seq") != float64(1) {
			t.Fatalf("retry gave %s, first %s: want the same trimmed message", again.body, m1.body)
		}
		m2 := e.want(e.do("POST", "/v1/dialogs/"+id+"/messages", a.AccessToken, map[string]any{"client_id": "c-2", "text": "{{ 7*7 }} ${user.id} <b>"}), 201)
		if m2.field(t, "seq") != float64(2) || m2.field(t, "text") != "{{ 7*7 }} ${user.id} <b>" {
			t.Fatalf("got %s, want seq 2 with the text as sent", m2.body)
		}
	})
}

func TestChatBadInput(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		a, b, id := e.pair()
		c := e.loginTest("+79991234001", "333333") // not a member
		long := strings.Repeat("ы", 4097)
		cases := []struct {
			name, method, path, token string
			body                      any
			status                    int
			code                      string
		}{
			{"dialog with self", "POST", "/v1/dialogs", a.AccessToken, map[string]any{"user_id": a.User.ID}, 400, "invalid_user"},
			{"dialog with nobody", "POST", "/v1/dialogs", a.AccessToken, map[string]any{"user_id": "123"}, 404, "not_found"},
			{"dialog user_id number", "POST", "/v1/dialogs", a.AccessToken, `{"user_id":123}`, 400, "invalid_json"},
			{"dialog bad subject", "POST", "/v1/dialogs", a.AccessToken, map[string]any{"user_id": b.User.ID, "subject": "a\nb"}, 400, "invalid_subject"},
			{"send empty", "POST", "/v1/dialogs/" + id + "/messages", a.AccessToken, map[string]any{"client_id": "x", "text": "   "}, 400, "invalid_text"},
			{"send too long", "POST", "/v1/dialogs/" + id + "/messages", a.AccessToken, map[string]any{"client_id": "x", "text": long}, 400, "invalid_text"},
			{"send no client id", "POST", "/v1/dialogs/" + id + "/messages", a.AccessToken, map[string]any{"text": "hi"}, 400, "invalid_client_id"},
			{"send bad client id", "POST", "/v1/dialogs/" + id + "/messages", a.AccessToken, map[string]any{"client_id": "a b", "text": "hi"}, 400, "invalid_client_id"},
			{"send unknown upload", "POST", "/v1/dialogs/" + id + "/messages", a.AccessToken, map[string]any{"client_id": "x", "text": "hi", "attachments": []any{map[string]any{"upload_id": "1"}}}, 400, "invalid_attachment"},
			{"send attachments not a list", "POST", "/v1/dialogs/" + id + "/messages", a.AccessToken, map[string]any{"client_id": "x", "attachments": map[string]any{"upload_id": "1"}}, 400, "invalid_attachment"},
			{"send non member", "POST", "/v1/dialogs/" + id + "/messages", c.AccessToken, map[string]any{"client_id": "x", "text": "hi"}, 404, "not_found"},
			{"send unknown dialog", "POST", "/v1/dialogs/99999999/messages", a.AccessToken, map[string]any{"client_id": "x", "text": "hi"}, 404, "not_found"},
			{"history non member", "GET", "/v1/dialogs/" + id + "/messages", c.AccessToken, nil, 404, "not_found"},
			{"history bad before", "GET", "/v1/dialogs/" + id + "/messages?before=-1", a.AccessToken, nil, 400, "invalid_before"},
			{"history bad limit", "GET", "/v1/dialogs/" + id + "/messages?limit=1000", a.AccessToken, nil, 400, "invalid_limit"},
			{"dialog non member", "GET", "/v1/dialogs/" + id, c.AccessToken, nil, 404, "not_found"},
			{"read zero", "POST", "/v1/dialogs/" + id + "/read", a.AccessToken, map[string]any{"seq": 0}, 400, "invalid_seq"},
			{"read non member", "POST", "/v1/dialogs/" + id + "/read", c.AccessToken, map[string]any{"seq": 1}, 404, "not_found"},
			{"bad cursor", "GET", "/v1/dialogs?cursor=zzz", a.AccessToken, nil, 400, "invalid_cursor"},
			{"edit unknown", "PATCH", "/v1/dialogs/" + id + "/messages/77", a.AccessToken, map[string]any{"text": "x"}, 404, "not_found"},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				e.wantErr(e.do(tc.method, tc.path, tc.token, tc.body), tc.status, tc.code)
			})
		}
		// Nothing was stored by any of it.
		r := e.want(e.do("GET", "/v1/dialogs/"+id+"/messages", a.AccessToken, nil), 200)
		if n := len(r.field(t, "messages").([]any)); n != 0 {
			t.Fatalf("got %d messages after bad input, want 0", n)
		}
	})
}

func TestRealtime(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		a, b, id := e.pair()
		e.befriend(a, b)
		a1 := dial(t, e.url, a.AccessToken)
		a2 := dial(t, e.url, a.AccessToken) // Anna's second device
		b1 := dial(t, e.url, b.AccessToken)
		// Borис comes online: Anna, who has his number as he has hers,
		// hears it.
		a1.waitFor("presence of b", func(f map[string]any) bool {
			return f["type"] == "presence" && f["user_id"] == b.User.ID && f["online"] == true
		})

		a1.send(map[string]any{"type": "send", "id": "1", "dialog_id": id, "client_id": "w-1", "text": "hi Boris"})
		reply := a1.waitFor("reply", replyTo("1"))
		if reply["type"] != "reply" || str(reply, "message", "text") != "hi Boris" || str(reply, "message", "status") != "sent" {
			t.Fatalf("got %v, want the stored message", reply)
		}
		seq := str(reply, "message", "seq")
		b1.waitFor("message on b", messageWith("w-1"))
		a2.waitFor("message on a's other device", messageWith("w-1"))

		// Delivered then read, by frames; Anna's ticks follow.
		b1.send(map[string]any{"type": "delivered", "dialog_id": id, "seq": 1})
		a1.waitFor("delivered status", func(f map[string]any) bool {
			return f["type"] == "status" && f["user_id"] == b.User.ID && f["delivered_seq"] == float64(1) && f["read_seq"] == float64(0)
		})
		b1.send(map[string]any{"type": "read", "dialog_id": id, "seq": 1})
		a1.waitFor("read status", func(f map[string]any) bool {
			return f["type"] == "status" && f["user_id"] == b.User.ID && f["read_seq"] == float64(1)
		})
		if seq != "1" {
			t.Fatalf("got seq %s, want 1", seq)
		}

		// Typing reaches the partner, not the typist.
		b1.send(map[string]any{"type": "typing", "dialog_id": id})
		a1.waitFor("typing", func(f map[string]any) bool { return f["type"] == "typing" && f["user_id"] == b.User.ID })

		// Edit and delete reach the other side live.
		e.want(e.do("PATCH", "/v1/dialogs/"+id+"/messages/1", a.AccessToken, map[string]any{"text": "hi Boris!"}), 200)
		b1.waitFor("edit", func(f map[string]any) bool {
			return f["type"] == "message" && str(f, "message", "text") == "hi Boris!" && str(f, "message", "edited_at") != ""
		})
		e.wantErr(e.do("DELETE", "/v1/dialogs/"+id+"/messages/1", b.AccessToken, nil), 404, "not_found")
		e.want(e.do("DELETE", "/v1/dialogs/"+id+"/messages/1", a.AccessToken, nil), 200)
		b1.waitFor("delete", func(f map[string]any) bool {
			m, _ := f["message"].(map[string]any)
			return f["type"] == "message" && m["deleted"] == true && m["text"] == "" && m["seq"] == float64(1)
		})

		// Bad frames get error frames and the connection stays usable.
		for _, bad := range []struct {
			frame string
			code  string
		}{
			{`not json`, "invalid_json"},
			{`{"type":"teleport","id":"x"}`, "unknown_type"},
			{`{"type":"send","id":"e1","dialog_id":"abc","client_id":"z","text":"x"}`, ""},
			{`{"type":"send","id":"e2","dialog_id":"` + id + `","client_id":"z","text":""}`, "invalid_text"},
		} {
			if err := b1.conn.WriteMessage(websocket.TextMessage, []byte(bad.frame)); err != nil {
				t.Fatal(err)
			}
			f := b1.waitFor("error frame for "+bad.frame, typed("error"))
			if bad.code != "" && str(f, "error", "code") != bad.code {
				t.Fatalf("frame %s: got %v, want error %s", bad.frame, f, bad.code)
			}
		}
		b1.send(map[string]any{"type": "send", "id": "ok", "dialog_id": id, "client_id": "w-2", "text": "still here"})
		if r := b1.waitFor("reply", replyTo("ok")); r["type"] != "reply" {
			t.Fatalf("got %v after bad frames, want a reply", r)
		}

		// Logout closes that session's sockets at once; others stay.
		e.want(e.do("POST", "/v1/auth/logout", b.AccessToken, nil), 204)
		if err := b1.waitClosed(); err == nil {
			t.Fatal("b's socket survived logout")
		}
		a1.send(map[string]any{"type": "send", "id": "2", "dialog_id": id, "client_id": "w-3", "text": "bye"})
		a1.waitFor("reply", replyTo("2"))
		// Борис went offline everywhere.
		a1.waitFor("offline presence", func(f map[string]any) bool {
			return f["type"] == "presence" && f["user_id"] == b.User.ID && f["online"] == false && f["last_seen"] != nil
		})
	})
}

func TestSyncAfterDroppedConnection(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		a, b, id := e.pair()
		b1 := dial(t, e.url, b.AccessToken)
		a1 := dial(t, e.url, a.AccessToken)
		for i := 1; i <= 5; i++ {
			a1.send(map[string]any{"type": "send", "id": fmt.Sprint(i), "dialog_id": id, "client_id": fmt.Sprint("s-", i), "text": fmt.Sprint("m", i)})
			a1.waitFor("reply", replyTo(fmt.Sprint(i)))
		}
		b1.waitFor("m3", messageWith("s-3"))
		held := 3 // b1 processed up to seq 3, then its connection drops
		b1.close()
		for i := 6; i <= 8; i++ {
			e.want(e.do("POST", "/v1/dialogs/"+id+"/messages", a.AccessToken, map[string]any{"client_id": fmt.Sprint("s-", i), "text": fmt.Sprint("m", i)}), 201)
		}
		b2 := dial(t, e.url, b.AccessToken)
		b2.send(map[string]any{"type": "sync", "id": "sync", "dialogs": map[string]any{id: held}})
		reply := b2.waitFor("sync reply", replyTo("sync"))
		if reply["type"] != "reply" || reply["more"] != false {
			t.Fatalf("got %v", reply)
		}
		synced, _ := reply["synced"].(map[string]any)
		if synced[id] != float64(8) {
			t.Fatalf("got synced %v, want %s: 8", synced, id)
		}
		for i := 4; i <= 8; i++ {
			f := b2.waitFor(fmt.Sprint("replayed ", i), messageWith(fmt.Sprint("s-", i)))
			if str(f, "message", "seq") != fmt.Sprint(i) {
				t.Fatalf("got %v, want seq %d", f, i)
			}
		}
		b2.none("duplicate or earlier message", typed("message"))
		// A dialog one is not in cannot be synced.
		c := e.loginTest("+79991234002", "333333")
		c1 := dial(t, e.url, c.AccessToken)
		c1.send(map[string]any{"type": "sync", "id": "s", "dialogs": map[string]any{id: 0}})
		if f := c1.waitFor("error", replyTo("s")); str(f, "error", "code") != "not_found" {
			t.Fatalf("got %v, want not_found", f)
		}
	})
}

func TestWebSocketAuth(t *testing.T) {
	e := newEnv(t, nil)
	a := e.loginTest("+79990000001", "111111")
	for _, tc := range []struct {
		token  string
		hdr    map[string]string
		status int
	}{
		{"", nil, 401},
		{"nope", nil, 401},
		{a.AccessToken, map[string]string{"Origin": "https://evil.example"}, 403},
	} {
		hdr := make(map[string][]string)
		for k, v := range tc.hdr {
			hdr[k] = []string{v}
		}
		_, err := dialErr(t, e.url, tc.token, hdr)
		var de *dialError
		if !errors.As(err, &de) || de.status != tc.status {
			t.Errorf("token %q hdr %v: got %v, want HTTP %d", tc.token, tc.hdr, err, tc.status)
		}
	}
	// The header works as well as the query parameter.
	hdr := map[string][]string{"Authorization": {"Bearer " + a.AccessToken}}
	if _, err := dialErr(t, e.url, "", hdr); err != nil {
		t.Fatalf("bearer header: %v", err)
	}
}

func TestPresenceInProfiles(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		a, b, _ := e.pair()
		e.befriend(a, b)
		stranger := e.loginTest("+79991234004", "333333")
		b1 := dial(t, e.url, b.AccessToken)
		a1 := dial(t, e.url, a.AccessToken)
		// The server records presence after the upgrade, before it reads
		// the first frame: an answered frame means b is online.
		b1.roundTrip("online")
		r := e.want(e.do("GET", "/v1/users/"+b.User.ID, a.AccessToken, nil), 200)
		if r.field(t, "online") != true || r.field(t, "last_seen") != nil {
			t.Fatalf("partner online: got %s", r.body)
		}
		r = e.want(e.do("GET", "/v1/users/"+b.User.ID, stranger.AccessToken, nil), 200)
		if r.field(t, "online") != nil || r.field(t, "last_seen") != nil {
			t.Fatalf("a stranger sees presence: %s", r.body)
		}
		b1.close()
		a1.waitFor("offline", func(f map[string]any) bool {
			return f["type"] == "presence" && f["user_id"] == b.User.ID && f["online"] == false
		})
		r = e.want(e.do("GET", "/v1/users/"+b.User.ID, a.AccessToken, nil), 200)
		if r.field(t, "online") != false || r.field(t, "last_seen") == nil {
			t.Fatalf("partner offline: got %s, want online false and last_seen", r.body)
		}
	})
}

func TestRESTSendIsRateLimited(t *testing.T) {
	// The limiter's clock stands still, so the burst is counted exactly
	// however slowly the sends go.
	frozen := time.Now()
	e := newEnvConfig(t, nil, func(c *Config) { c.now = func() time.Time { return frozen } })
	a, _, id := e.pair()
	if n := e.untilLimited(400, 201, func(i int) response {
		return e.do("POST", "/v1/dialogs/"+id+"/messages", a.AccessToken, map[string]any{"client_id": fmt.Sprint("f-", i), "text": "flood"})
	}); n < 200 {
		t.Fatalf("limited after %d sends, want the burst of 200 allowed", n)
	}
}
