package main

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/korobka/korobka/chat"
)

// doTZ is do with an X-Korobka-TZ header ("" sends none); the answer is
// checked against the contract like every other.
func (e *env) doTZ(method, path, token, tz string, body any) response {
	e.t.Helper()
	var rd io.Reader
	if body != nil {
		data, err := json.Marshal(body)
		if err != nil {
			e.t.Fatal(err)
		}
		rd = bytes.NewReader(data)
	}
	req, err := http.NewRequest(method, e.url+path, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if tz != "" {
		req.Header.Set("X-Korobka-TZ", tz)
	}
	req.Header.Set("Accept-Language", "en")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	data, _ := io.ReadAll(res.Body)
	if err := theContract(e.t).ValidateHTTP(method, req.URL.Path, res.StatusCode, res.Header, data); err != nil {
		e.t.Errorf("%s %s: the answer breaks schemas/openapi.yaml: %v\n%.300s", method, path, err, data)
	}
	return response{res.StatusCode, res.Header, data}
}

func clockIn(t *testing.T, rfc3339, zone string) string {
	t.Helper()
	at, err := time.Parse(time.RFC3339Nano, rfc3339)
	if err != nil {
		t.Fatal(err)
	}
	loc, err := time.LoadLocation(zone)
	if err != nil {
		t.Fatal(err)
	}
	return at.In(loc).Format("15:04")
}

// Issue 10, item 7: a message written at 21:47 in Moscow shows 21:47 to a
// shell in Moscow, in the screen and in its live patches; the zone selects
// the ETag; the profile keeps the last zone; a bad zone is 400.
func TestTimesRenderInTheShellsZone(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		a, b, id := e.pair()
		m := e.want(e.doTZ("POST", "/v1/dialogs/"+id+"/messages", a.AccessToken, "Europe/Moscow",
			map[string]any{"client_id": "tz1", "text": "hello"}), 201)
		created := m.field(t, "created_at").(string)
		if !strings.HasSuffix(created, "Z") {
			t.Errorf("created_at %s: the wire stays UTC", created)
		}
		chatPath := "/v1/screens/chat?dialog_id=" + id
		moscow := e.want(e.doTZ("GET", chatPath, a.AccessToken, "Europe/Moscow", nil), 200)
		utc := e.want(e.doTZ("GET", chatPath, a.AccessToken, "", nil), 200)
		if want := `"time":"` + clockIn(t, created, "Europe/Moscow") + `"`; !bytes.Contains(moscow.body, []byte(want)) {
			t.Errorf("chat in Moscow has no %s", want)
		}
		if want := `"time":"` + clockIn(t, created, "UTC") + `"`; !bytes.Contains(utc.body, []byte(want)) {
			t.Errorf("chat without a zone (the server's UTC) has no %s", want)
		}
		if moscow.header.Get("ETag") == utc.header.Get("ETag") {
			t.Errorf("the ETag does not depend on the zone")
		}
		if v := moscow.header.Get("Vary"); !strings.Contains(v, "X-Korobka-TZ") {
			t.Errorf("Vary %q lacks X-Korobka-TZ", v)
		}

		// The profile keeps the last zone a shell sent.
		ctx := t.Context()
		aid, _ := chat.ParseID(a.User.ID)
		if u, err := e.app.store.User(ctx, aid); err != nil || u.TimeZone != "Europe/Moscow" {
			t.Errorf("a's stored zone %q, %v; want Europe/Moscow", u.TimeZone, err)
		}

		// A zone that is not one is refused on any route, before anything.
		for _, bad := range []string{"Mars/Olympus", "Local", "../../etc/passwd", strings.Repeat("A", 65)} {
			e.wantErr(e.doTZ("GET", "/v1/me", a.AccessToken, bad, nil), 400, "invalid_time_zone")
		}
		e.wantErr(e.doTZ("GET", chatPath, a.AccessToken, "Nowhere/City", nil), 400, "invalid_time_zone")
		e.wantErr(e.doTZ("POST", "/v1/auth/otp", "", "Nowhere/City", map[string]any{"phone": "+79990000009"}), 400, "invalid_time_zone")
		if u, err := e.app.store.User(ctx, aid); err != nil || u.TimeZone != "Europe/Moscow" {
			t.Errorf("a's stored zone after refused zones %q, %v", u.TimeZone, err)
		}

		// A watch names its zone: B in New York gets bubbles in New York
		// time, and B's profile keeps it.
		bc := dial(t, e.url, b.AccessToken)
		bc.send(map[string]any{"type": "watch", "id": "w1", "screen": "chat", "params": map[string]any{"dialog_id": id},
			"lang": "en", "theme": "light", "shell": webShell, "tz": "America/New_York"})
		if r := bc.waitFor("watch answer", replyTo("w1")); r["type"] != "reply" {
			t.Fatalf("watch with tz answered %v", r)
		}
		bc.send(map[string]any{"type": "watch", "id": "w2", "screen": "chat", "params": map[string]any{"dialog_id": id},
			"lang": "en", "tz": "Atlantis/Capital"})
		if r := bc.waitFor("bad watch answer", replyTo("w2")); str(r, "error", "code") != "invalid_time_zone" {
			t.Errorf("watch with a bad tz answered %v, want invalid_time_zone", r)
		}
		bc.send(map[string]any{"type": "watch", "id": "w3", "screen": "chat", "params": map[string]any{"dialog_id": id},
			"lang": "en", "theme": "light", "shell": webShell, "tz": "America/New_York"})
		bc.waitFor("watch answer", replyTo("w3"))
		m2 := e.want(e.do("POST", "/v1/dialogs/"+id+"/messages", a.AccessToken, map[string]any{"client_id": "tz2", "text": "again"}), 201)
		node := "msg-" + m2.field(t, "id").(string)
		p := bc.waitFor("bubble", patchOp("chat:"+id, "insert", node))
		ins := findOp(t, p, "chat:"+id, "insert", node)
		if got, want := str(ins, "node", "time"), clockIn(t, m2.field(t, "created_at").(string), "America/New_York"); got != want {
			t.Errorf("patched bubble time %q, want New York's %q", got, want)
		}
		bid, _ := chat.ParseID(b.User.ID)
		if u, err := e.app.store.User(ctx, bid); err != nil || u.TimeZone != "America/New_York" {
			t.Errorf("b's stored zone %q, %v; want America/New_York", u.TimeZone, err)
		}
	})
}

// KOROBKA_TIME_ZONE is the zone of shells that send none; a bad one stops
// the server at start.
func TestServerDefaultTimeZone(t *testing.T) {
	envv := map[string]string{"KOROBKA_DATA": t.TempDir(), "KOROBKA_TIME_ZONE": "Mars/Base"}
	if _, err := parseConfig("serve", nil, func(k string) string { return envv[k] }, io.Discard); err == nil || !strings.Contains(err.Error(), "KOROBKA_TIME_ZONE") {
		t.Errorf("a bad KOROBKA_TIME_ZONE: %v, want an error naming it", err)
	}
	e := newEnv(t, map[string]string{"KOROBKA_TIME_ZONE": "Asia/Tokyo"})
	a, _, id := e.pair()
	m := e.want(e.do("POST", "/v1/dialogs/"+id+"/messages", a.AccessToken, map[string]any{"client_id": "d1", "text": "hi"}), 201)
	r := e.want(e.doTZ("GET", "/v1/screens/chat?dialog_id="+id, a.AccessToken, "", nil), 200)
	if want := `"time":"` + clockIn(t, m.field(t, "created_at").(string), "Asia/Tokyo") + `"`; !bytes.Contains(r.body, []byte(want)) {
		t.Errorf("chat with the server's default zone has no %s", want)
	}
}

// Issues 10 items 8, 9 and 10 through the API: the text policy answers
// each field's code, lengths count characters, search folds.
func TestTextPolicyOverTheAPI(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		a, b, id := e.pair()
		e.wantErr(e.do("PATCH", "/v1/me", a.AccessToken, map[string]any{"first_name": "\u202eАнна"}), 400, "invalid_name")
		e.wantErr(e.do("PATCH", "/v1/me", a.AccessToken, map[string]any{"first_name": "\u200b"}), 400, "invalid_name")
		e.wantErr(e.do("POST", "/v1/dialogs/"+id+"/messages", a.AccessToken, map[string]any{"client_id": "z", "text": "\u200b"}), 400, "invalid_text")
		e.wantErr(e.do("POST", "/v1/dialogs", a.AccessToken, map[string]any{"user_id": b.User.ID, "subject": "\u200b"}), 400, "invalid_subject")
		e.wantErr(e.postUpload(a.AccessToken, "photo\u202egpj.exe", []byte("x")), 400, "invalid_file_name")
		if r := e.want(e.do("GET", "/v1/dialogs", a.AccessToken, nil), 200); len(r.field(t, "dialogs").([]any)) != 1 {
			t.Errorf("a refused subject opened a dialog: %s", r.body)
		}
		// 64 flags are 64 characters (128 code points).
		flags := strings.Repeat("🇷🇺", 64)
		if r := e.want(e.do("PATCH", "/v1/me", a.AccessToken, map[string]any{"last_name": flags}), 200); r.field(t, "last_name") != flags {
			t.Errorf("64 flags: %s", r.body)
		}
		// Search finds a decomposed, upper-case query.
		e.want(e.do("PATCH", "/v1/me", b.AccessToken, map[string]any{"first_name": "Zoe\u0308"}), 200)
		e.want(e.do("POST", "/v1/contacts/sync", a.AccessToken, map[string]any{"phones": []string{"+79990000002"}}), 200)
		r := e.want(e.do("GET", "/v1/contacts?q="+url.QueryEscape("ZOE\u0308"), a.AccessToken, nil), 200)
		if users := r.field(t, "users").([]any); len(users) != 1 || users[0].(map[string]any)["first_name"] != "Zo\u00eb" {
			t.Errorf("search ZOË (decomposed): %s", r.body)
		}
	})
}
