package main

import (
	"bufio"
	"context"
	"database/sql"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/korobka/korobka/screens"
)

// get sends a GET without following redirects.
func get(t *testing.T, url string, hdr map[string]string) response {
	t.Helper()
	req, err := http.NewRequest("GET", url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return response{res.StatusCode, res.Header, body}
}

// makeAdmin gives a user the admin role; roles have no API yet.
func makeAdmin(t *testing.T, dataDir, userID string) {
	t.Helper()
	db, err := sql.Open("sqlite", filepath.Join(dataDir, "korobka.db")+"?_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(`UPDATE users SET role = 'admin' WHERE id = ?`, userID); err != nil {
		t.Fatal(err)
	}
}

func TestPreviewAccess(t *testing.T) {
	data := t.TempDir()
	e := newEnv(t, map[string]string{"KOROBKA_DATA": data})
	user := e.loginTest("+79990000001", "111111")
	admin := e.loginTest("+79990000002", "222222")
	makeAdmin(t, data, admin.User.ID)

	for _, api := range []string{"screens", "source?name=chat", "render?name=chat", "events"} {
		e.wantErr(e.do("GET", "/preview/api/"+api, "", nil), 401, "missing_token")
		e.wantErr(e.do("GET", "/preview/api/"+api, user.AccessToken, nil), 403, "forbidden")
		sep := "?"
		if strings.Contains(api, "?") {
			sep = "&"
		}
		e.wantErr(e.do("GET", "/preview/api/"+api+sep+"access_token="+user.AccessToken, "", nil), 403, "forbidden")
	}
	e.want(e.do("GET", "/preview/api/screens", admin.AccessToken, nil), 200)
	e.want(e.do("GET", "/preview/api/source?name=chat&access_token="+admin.AccessToken, "", nil), 200)
	e.wantErr(e.do("GET", "/preview/api/nope", admin.AccessToken, nil), 404, "not_found")

	dev := newEnv(t, map[string]string{"KOROBKA_DEV": "1"})
	dev.want(dev.do("GET", "/preview/api/screens", "", nil), 200)
}

func TestPreviewAPI(t *testing.T) {
	e := newEnv(t, map[string]string{"KOROBKA_DEV": "true"})

	var list struct {
		Screens []struct {
			Name     string   `json:"name"`
			Fixtures []string `json:"fixtures"`
		} `json:"screens"`
		Langs []string `json:"langs"`
	}
	e.want(e.do("GET", "/preview/api/screens", "", nil), 200).json(t, &list)
	if strings.Join(list.Langs, ",") != "en,ru" {
		t.Errorf("langs %v, want [en ru]", list.Langs)
	}
	found := false
	for _, s := range list.Screens {
		if s.Name == "chat" {
			found = strings.Join(s.Fixtures, ",") == "chat,chat.empty,chat.unread"
		}
	}
	if !found || len(list.Screens) < 10 {
		t.Errorf("screens %+v, want every screen with chat's fixtures [chat chat.empty chat.unread]", list.Screens)
	}

	src := e.want(e.do("GET", "/preview/api/source?name=chat", "", nil), 200)
	want, _ := screens.FS.Open("chat.yaml")
	wantSrc, _ := io.ReadAll(want)
	if string(src.body) != string(wantSrc) || src.header.Get("Content-Type") != "text/plain; charset=utf-8" {
		t.Errorf("source: got %q (%s), want chat.yaml as text/plain", src.body, src.header.Get("Content-Type"))
	}
	e.wantErr(e.do("GET", "/preview/api/source?name=../go", "", nil), 404, "unknown_screen")
	e.wantErr(e.do("GET", "/preview/api/source?name=nope", "", nil), 404, "unknown_screen")

	type node = map[string]any
	var walk func(n any, f func(node))
	walk = func(n any, f func(node)) {
		switch x := n.(type) {
		case node:
			f(x)
			for _, v := range x {
				walk(v, f)
			}
		case []any:
			for _, v := range x {
				walk(v, f)
			}
		}
	}
	types := func(body []byte) map[string]int {
		var l node
		if err := json.Unmarshal(body, &l); err != nil {
			t.Fatalf("render: %v: %s", err, body)
		}
		out := map[string]int{}
		walk(l["root"], func(n node) {
			if typ, ok := n["type"].(string); ok {
				out[typ]++
			}
		})
		return out
	}

	// The fixture's data, the locale, the theme and the capabilities all
	// reach the layout.
	r := e.want(e.do("GET", "/preview/api/render?name=chat&lang=ru&theme=dark&caps=composer@1,video@1&fixture=chat", "", nil), 200)
	if r.field(t, "screen") != "chat" || !strings.Contains(r.field(t, "theme").(string), "dark") || r.header.Get("Content-Language") != "ru" {
		t.Errorf("render: got screen %v theme %v lang %s, want chat, dark, ru", r.field(t, "screen"), r.field(t, "theme"), r.header.Get("Content-Language"))
	}
	if n := types(r.body); n["composer"] != 1 || n["message_bubble"] < 2 {
		t.Errorf("render with composer@1: node types %v, want a composer and the fixture's bubbles", n)
	}
	r = e.want(e.do("GET", "/preview/api/render?name=chat&lang=en&theme=light&caps=&fixture=chat.empty", "", nil), 200)
	if n := types(r.body); n["composer"] != 0 || n["message_bubble"] != 0 || !strings.Contains(string(r.body), "Say hello!") {
		t.Errorf("render of chat.empty without composer: node types %v, want the fallback and the empty text", n)
	}
	// No fixture named: the screen's own.
	e.want(e.do("GET", "/preview/api/render?name=profile", "", nil), 200)

	e.wantErr(e.do("GET", "/preview/api/render?name=nope", "", nil), 404, "unknown_screen")
	e.wantErr(e.do("GET", "/preview/api/render?name=chat&fixture=profile", "", nil), 404, "unknown_fixture")
	e.wantErr(e.do("GET", "/preview/api/render?name=chat&fixture=chat.nope", "", nil), 404, "unknown_fixture")
	e.wantErr(e.do("GET", "/preview/api/render?name=chat&fixture=chat/../../x", "", nil), 404, "unknown_fixture")
	e.wantErr(e.do("GET", "/preview/api/render?name=chat&theme=blue", "", nil), 400, "invalid_param")

	// The embedded screens never reload; the stream still opens.
	ev := openEvents(t, e.url+"/preview/api/events")
	ev.close()
}

// events reads a text/event-stream in the background.
type events struct {
	t      *testing.T
	ch     chan sseEvent
	cancel context.CancelFunc
	done   chan struct{}
}

type sseEvent struct {
	name string
	data string
}

// openEvents connects and returns once the server has subscribed (its
// first line arrived).
func openEvents(t *testing.T, url string) *events {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, err := http.NewRequestWithContext(ctx, "GET", url, nil)
	if err != nil {
		t.Fatal(err)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	if res.StatusCode != 200 || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/event-stream") {
		res.Body.Close()
		cancel()
		t.Fatalf("events: got %d %s, want a 200 event stream", res.StatusCode, res.Header.Get("Content-Type"))
	}
	ev := &events{t: t, ch: make(chan sseEvent, 64), cancel: cancel, done: make(chan struct{})}
	ready := make(chan struct{})
	go func() {
		defer close(ev.done)
		defer res.Body.Close()
		sc := bufio.NewScanner(res.Body)
		var cur sseEvent
		first := true
		for sc.Scan() {
			line := sc.Text()
			if first {
				first = false
				close(ready)
			}
			switch {
			case strings.HasPrefix(line, "event: "):
				cur.name = strings.TrimPrefix(line, "event: ")
			case strings.HasPrefix(line, "data: "):
				cur.data += strings.TrimPrefix(line, "data: ")
			case line == "" && cur.name != "":
				select {
				case ev.ch <- cur:
				default:
				}
				cur = sseEvent{}
			}
		}
	}()
	t.Cleanup(ev.close)
	select {
	case <-ready:
	case <-time.After(10 * time.Second):
		t.Fatal("events: no first line within 10s")
	}
	return ev
}

func (ev *events) close() {
	ev.cancel()
	<-ev.done
}

// diagnostic is a lint or render failure as the preview reports it.
type diagnostic struct {
	File    string `json:"file"`
	Line    int    `json:"line"`
	Col     int    `json:"col"`
	Message string `json:"message"`
}

// next waits for a reload event that satisfies ok.
func (ev *events) next(ok func(applied bool, diags []diagnostic) bool) {
	ev.t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		select {
		case e := <-ev.ch:
			var body struct {
				Applied     bool         `json:"applied"`
				Diagnostics []diagnostic `json:"diagnostics"`
			}
			if e.name != "reload" || json.Unmarshal([]byte(e.data), &body) != nil || body.Diagnostics == nil {
				ev.t.Fatalf("event %q %s, want reload with applied and diagnostics", e.name, e.data)
			}
			if ok(body.Applied, body.Diagnostics) {
				return
			}
		case <-deadline:
			ev.t.Fatal("no matching reload event within 10s")
		}
	}
}

// TestHotReload edits a watched screens folder: a good file shows on the
// next request and in a reload event; a broken one reaches the preview as
// diagnostics while the previous version keeps serving.
func TestHotReload(t *testing.T) {
	dir := t.TempDir()
	if err := os.CopyFS(dir, screens.FS); err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, map[string]string{"KOROBKA_SCREENS": dir, "KOROBKA_DEV": "1"})
	login := filepath.Join(dir, "login.yaml")
	orig, err := os.ReadFile(login)
	if err != nil {
		t.Fatal(err)
	}
	before := e.want(e.do("GET", "/v1/screens/login", "", nil), 200)
	ev := openEvents(t, e.url+"/preview/api/events")

	const heading = "- { type: text, text: { t: login.title }, style: large_title }"
	if !strings.Contains(string(orig), heading) {
		t.Fatalf("login.yaml no longer has %q; update the test", heading)
	}
	edited := strings.Replace(string(orig), heading, `- { type: text, text: "Welcome, designer", style: large_title }`, 1)
	if err := os.WriteFile(login, []byte(edited), 0o644); err != nil {
		t.Fatal(err)
	}
	ev.next(func(applied bool, d []diagnostic) bool { return applied && len(d) == 0 })
	after := e.want(e.do("GET", "/v1/screens/login", "", nil), 200)
	if !strings.Contains(string(after.body), "Welcome, designer") || after.header.Get("ETag") == before.header.Get("ETag") {
		t.Fatalf("after the edit: ETag %s (was %s), body %.300s; want the new text and a new ETag",
			after.header.Get("ETag"), before.header.Get("ETag"), after.body)
	}
	if r := e.want(e.do("GET", "/preview/api/render?name=login&lang=en", "", nil), 200); !strings.Contains(string(r.body), "Welcome, designer") {
		t.Errorf("preview render after the edit: %.300s, want the new text", r.body)
	}

	broken := strings.Replace(edited, "type: button", "type: buton", 1)
	if err := os.WriteFile(login, []byte(broken), 0o644); err != nil {
		t.Fatal(err)
	}
	ev.next(func(applied bool, d []diagnostic) bool {
		return !applied && len(d) > 0 && d[0].File == "login.yaml" && d[0].Line > 1 && strings.Contains(d[0].Message, "buton")
	})
	still := e.want(e.do("GET", "/v1/screens/login", "", nil), 200)
	if string(still.body) != string(after.body) {
		t.Errorf("a broken file replaced the served screen: %.300s", still.body)
	}
	var diags struct {
		Diagnostics []diagnostic `json:"diagnostics"`
	}
	e.want(e.do("GET", "/preview/api/render?name=chat&fixture=chat", "", nil), 200).json(t, &diags)
	if len(diags.Diagnostics) == 0 || diags.Diagnostics[0].File != "login.yaml" {
		t.Errorf("preview render while broken: %+v, want login.yaml's diagnostics", diags)
	}

	// Fixed again: served, and the preview renders.
	if err := os.WriteFile(login, orig, 0o644); err != nil {
		t.Fatal(err)
	}
	ev.next(func(applied bool, d []diagnostic) bool { return applied })
	e.want(e.do("GET", "/preview/api/render?name=chat&fixture=chat", "", nil), 200).field(t, "root")
}

func TestDevSetting(t *testing.T) {
	for _, tc := range []struct {
		env  string
		args []string
		want bool
		bad  bool
	}{
		{"", nil, false, false},
		{"1", nil, true, false},
		{"true", nil, true, false},
		{"0", nil, false, false},
		{"", []string{"--dev"}, true, false},
		{"1", []string{"--dev=false"}, false, false},
		{"yes please", nil, false, true},
	} {
		cfg, err := parseConfig("serve", tc.args, func(k string) string {
			if k == "KOROBKA_DEV" {
				return tc.env
			}
			return ""
		}, io.Discard)
		if tc.bad {
			if err == nil || !strings.Contains(err.Error(), "KOROBKA_DEV") {
				t.Errorf("KOROBKA_DEV=%q: got %v, want an error naming KOROBKA_DEV", tc.env, err)
			}
			continue
		}
		if err != nil || cfg.Dev != tc.want {
			t.Errorf("KOROBKA_DEV=%q %v: got Dev %v, %v; want %v", tc.env, tc.args, cfg.Dev, err, tc.want)
		}
	}
}
