package assets

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/gorilla/websocket"

	"github.com/korobka/korobka/assets/browsertest"
)

const (
	xssText    = "<img src=x onerror=alert(1)>"
	sizeBudget = 100 * 1024
)

// TestWebSize keeps the shell small enough to read and to load on a slow
// phone: no build step means what we ship is what we wrote.
func TestWebSize(t *testing.T) {
	var js, all, icons, preview int64
	err := fs.WalkDir(Web, "web", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		// Icons load one by one, only those a screen shows: they have a
		// budget of their own.
		if strings.HasPrefix(path, "web/icons/") {
			icons += info.Size()
			return nil
		}
		// The designer preview (/preview/) reuses render.js but is no
		// part of what a phone loads, like admin/: a budget of its own.
		if strings.HasPrefix(path, "web/preview.") {
			preview += info.Size()
			return nil
		}
		all += info.Size()
		if strings.HasSuffix(path, ".js") {
			js += info.Size()
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if js >= sizeBudget {
		t.Errorf("JavaScript under web/ is %d bytes, want < %d", js, sizeBudget)
	}
	if all >= sizeBudget {
		t.Errorf("web/ is %d bytes in all, want < %d", all, sizeBudget)
	}
	if icons >= 64*1024 {
		t.Errorf("web/icons is %d bytes, want < 64 KiB", icons)
	}
	if preview >= 16*1024 {
		t.Errorf("web/preview.* is %d bytes, want < 16 KiB", preview)
	}
	t.Logf("web/: %d bytes of the shell's JavaScript, %d of the shell in all, %d of icons and %d of the preview", js, all, icons, preview)
}

// fakeAPI is the part of korobka the shell talks to, answering with the
// renderer's golden layouts and a scripted WebSocket.
type fakeAPI struct {
	t       *testing.T
	mu      sync.Mutex
	screens []*http.Request // headers and queries of GET /v1/screens/*
	frames  []map[string]any
	wsToken string
	served  map[int]int               // status -> count, for /v1/screens
	posts   map[string]map[string]any // last JSON body per POST path
	renders []string                  // queries of /preview/api/render
	reload  chan struct{}             // a send makes /preview/api/events say reload
}

func newFakeAPI(t *testing.T) (*fakeAPI, *httptest.Server) {
	f := &fakeAPI{t: t, served: map[int]int{}, posts: map[string]map[string]any{}, reload: make(chan struct{}, 1)}
	srv := httptest.NewServer(f.handler())
	t.Cleanup(srv.Close)
	return f, srv
}

func (f *fakeAPI) handler() http.Handler {
	web, err := fs.Sub(Web, "web")
	if err != nil {
		f.t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/app/", http.StripPrefix("/app/", http.FileServerFS(web)))
	mux.HandleFunc("GET /v1/screens/{name}", f.screen)
	mux.HandleFunc("GET /v1/ws", f.ws)
	// The open chat's partner and their presence (ws.js loadPresence).
	mux.HandleFunc("GET /v1/dialogs/{id}", func(w http.ResponseWriter, r *http.Request) {
		f.reply(w, http.StatusOK, []byte(`{"id":"`+r.PathValue("id")+`","kind":"direct","title":"Anna Petrova","members":[{"id":"u1"},{"id":"u3"}],"last_message":null,"unread":0}`))
	})
	mux.HandleFunc("GET /v1/users/{id}", func(w http.ResponseWriter, r *http.Request) {
		f.reply(w, http.StatusOK, []byte(`{"id":"`+r.PathValue("id")+`","first_name":"Anna","last_name":"Petrova","online":false,"last_seen":"2025-03-14T17:30:00Z"}`))
	})
	mux.HandleFunc("POST /v1/auth/otp", f.post(`{"phone":"+79161234567","expires_in":300,"code_length":6}`))
	mux.HandleFunc("POST /v1/auth/verify", f.post(`{"access_token":"test-access","refresh_token":"test-refresh","expires_in":900,"user":{"id":"u1","first_name":"","last_name":"","avatar_url":"","avatar_thumb_url":"","phone":"+79161234567"},"new_user":true}`))
	mux.HandleFunc("POST /v1/auth/refresh", f.post(`{"access_token":"test-access-2","refresh_token":"test-refresh-2","expires_in":900,"user":{"id":"u1","first_name":"","last_name":"","avatar_url":"","avatar_thumb_url":"","phone":"+79161234567"},"new_user":false}`))
	// Avatars and the logo: any small valid image, so no 404 reaches the console.
	img := func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "image/svg+xml")
		fmt.Fprint(w, `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 8 8"><circle cx="4" cy="4" r="4" fill="#7a8"/></svg>`)
	}
	mux.HandleFunc("GET /media/", img)
	mux.HandleFunc("GET /assets/", img)

	// The designer preview: the same files, preview.html as the index.
	mux.HandleFunc("GET /preview/{$}", func(w http.ResponseWriter, r *http.Request) {
		http.ServeFileFS(w, r, web, "preview.html")
	})
	mux.Handle("GET /preview/", http.StripPrefix("/preview/", http.FileServerFS(web)))
	mux.HandleFunc("GET /preview/api/screens", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"screens":[{"name":"chat","fixtures":["chat.empty"]},{"name":"login","fixtures":[]},{"name":"broken","fixtures":[]}],"langs":["en","ru"]}`)
	})
	mux.HandleFunc("GET /preview/api/source", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		name := r.URL.Query().Get("name")
		if name == "broken" {
			fmt.Fprint(w, "screen: broken\nroot:\n  type: buton\n")
			return
		}
		http.ServeFile(w, r, filepath.Join("..", "screens", filepath.Base(name)+".yaml"))
	})
	mux.HandleFunc("GET /preview/api/render", f.previewRender)
	mux.HandleFunc("GET /preview/api/events", f.previewEvents)
	return mux
}

// post answers a POST with a fixed body and keeps what was sent.
func (f *fakeAPI) post(answer string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var body map[string]any
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
			http.Error(w, `{"error":{"code":"invalid_json","message":"bad json"}}`, http.StatusBadRequest)
			return
		}
		f.mu.Lock()
		f.posts[r.URL.Path] = body
		f.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, answer)
	}
}

func (f *fakeAPI) previewRender(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	f.mu.Lock()
	f.renders = append(f.renders, r.URL.RawQuery)
	f.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	if q.Get("name") == "broken" {
		// 200, not 4xx: the preview worked, the screen has lint errors (and
		// Chromium logs every 4xx as a console error).
		fmt.Fprint(w, `{"diagnostics":[{"file":"broken.yaml","line":3,"col":9,"message":"unknown component \"buton\""}]}`)
		return
	}
	name := q.Get("name")
	if fx := q.Get("fixture"); fx != "" {
		name = fx
	}
	body, err := os.ReadFile(filepath.Join("..", "renderer", "testdata", "golden", filepath.Base(name)+"."+q.Get("lang")+"."+q.Get("theme")+".json"))
	if err != nil {
		w.WriteHeader(http.StatusNotFound)
		fmt.Fprint(w, `{"error":{"code":"unknown_screen","message":"No such screen."}}`)
		return
	}
	w.Write(body)
}

func (f *fakeAPI) previewEvents(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	w.(http.Flusher).Flush()
	for {
		select {
		case <-r.Context().Done():
			return
		case <-f.reload:
			fmt.Fprint(w, "event: reload\ndata: {\"applied\":true,\"diagnostics\":[]}\n\n")
			w.(http.Flusher).Flush()
		}
	}
}

func (f *fakeAPI) screen(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	f.screens = append(f.screens, r.Clone(context.Background()))
	f.mu.Unlock()
	name := r.PathValue("name")
	if !strings.HasPrefix(r.Header.Get("Authorization"), "Bearer test-access") && name != "login" && name != "otp" {
		f.reply(w, http.StatusUnauthorized, []byte(`{"error":{"code":"missing_token","message":"Sign in."}}`))
		return
	}
	theme := r.URL.Query().Get("theme")
	if theme != "dark" {
		theme = "light"
	}
	body, err := os.ReadFile(filepath.Join("..", "renderer", "testdata", "golden", name+".en."+theme+".json"))
	if err != nil {
		f.reply(w, http.StatusNotFound, []byte(`{"error":{"code":"unknown_screen","message":"No such screen."}}`))
		return
	}
	if name == "chat" {
		body = withXSSMessage(f.t, body)
	}
	sum := sha256.Sum256(body)
	etag := `"` + hex.EncodeToString(sum[:8]) + `"`
	w.Header().Set("ETag", etag)
	if r.Header.Get("If-None-Match") == etag {
		f.reply(w, http.StatusNotModified, nil)
		return
	}
	f.reply(w, http.StatusOK, body)
}

func (f *fakeAPI) reply(w http.ResponseWriter, status int, body []byte) {
	f.mu.Lock()
	f.served[status]++
	f.mu.Unlock()
	if body != nil {
		w.Header().Set("Content-Type", "application/json")
	}
	w.WriteHeader(status)
	w.Write(body)
}

// withXSSMessage adds a message whose text is markup to the chat layout's
// list, as a hostile user would send it.
func withXSSMessage(t *testing.T, body []byte) []byte {
	var l map[string]any
	if err := json.Unmarshal(body, &l); err != nil {
		t.Fatal(err)
	}
	root := l["root"].(map[string]any)
	for _, c := range root["children"].([]any) {
		if n := c.(map[string]any); n["id"] == "messages" {
			n["children"] = append(n["children"].([]any), map[string]any{
				"type": "message_bubble", "id": "msg-xss", "text": xssText, "own": false,
				"time": "08:59", "style": "bubble_other", "children": []any{},
			})
		}
	}
	out, err := json.Marshal(l)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// wsScript is what the fake server sends once the shell has synced: two
// message events (one from the partner, one from the viewer's other
// device), the patch drawing them, receipts, typing and presence.
var wsScript = []string{
	`{"type":"message","message":{"id":"d17.150","dialog_id":"d17","seq":150,"sender_id":"u2","client_id":"a","text":"<img src=x onerror=alert(1)>","attachments":[],"created_at":"2025-03-01T09:00:00Z","status":"sent"}}`,
	`{"type":"message","message":{"id":"d17.151","dialog_id":"d17","seq":151,"sender_id":"u1","client_id":"b","text":"from my phone","attachments":[],"created_at":"2025-03-01T09:01:00Z","status":"sent"}}`,
	`{"type":"patch","screen":"chat:d17","ops":[
	  {"op":"insert","into":"messages","at":"end","node":{"type":"message_bubble","id":"msg-d17.150","own":false,"time":"09:00","style":"bubble_other",
	    "text":"<img src=x onerror=alert(1)> click","spans":[{"text":"<img src=x onerror=alert(1)> "},{"text":"click","kind":"url","action":{"type":"open_url","url":"javascript:alert(2)"}}]}},
	  {"op":"insert","into":"messages","at":"end","node":{"type":"message_bubble","id":"msg-d17.151","own":true,"status":"sent","time":"09:01","style":"bubble_own","text":"from my phone"}},
	  {"op":"remove","id":"msg-m149"}]}`,
	`{"type":"status","dialog_id":"d17","user_id":"u2","delivered_seq":151,"read_seq":151}`,
	`{"type":"presence","user_id":"u2","online":true,"last_seen":null}`,
	`{"type":"typing","dialog_id":"d17","user_id":"u2"}`,
}

func (f *fakeAPI) ws(w http.ResponseWriter, r *http.Request) {
	up := websocket.Upgrader{CheckOrigin: func(*http.Request) bool { return true }}
	c, err := up.Upgrade(w, r, nil)
	if err != nil {
		return
	}
	defer c.Close()
	f.mu.Lock()
	f.wsToken = r.URL.Query().Get("access_token")
	f.mu.Unlock()
	for {
		var fr map[string]any
		if err := c.ReadJSON(&fr); err != nil {
			return
		}
		f.mu.Lock()
		f.frames = append(f.frames, fr)
		f.mu.Unlock()
		if fr["type"] == "auth" {
			if err := c.WriteJSON(map[string]any{"type": "reply", "id": fr["id"], "expires_in": 900}); err != nil {
				return
			}
			continue
		}
		if fr["type"] != "sync" {
			continue
		}
		if err := c.WriteJSON(map[string]any{"type": "reply", "id": fr["id"]}); err != nil {
			return
		}
		for _, s := range wsScript {
			if err := c.WriteMessage(websocket.TextMessage, []byte(s)); err != nil {
				return
			}
		}
	}
}

func (f *fakeAPI) frame(typ string, ok func(map[string]any) bool) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, fr := range f.frames {
		if fr["type"] == typ && ok(fr) {
			return true
		}
	}
	return false
}

// alertHook runs before the shell in every document: alerts are recorded,
// not shown, so an injected alert(1) is seen by the test.
const alertHook = `
window.__alerts = [];
window.alert = (m) => window.__alerts.push(String(m));
`

// signedIn signs the shell in as user u1.
const signedIn = `
if (!localStorage.getItem('korobka.session')) {
  localStorage.setItem('korobka.session', JSON.stringify({access_token: 'test-access',
    refresh_token: 'test-refresh', expires_at: Date.now() + 3600e3, user: {id: 'u1'}}));
}`

// newBrowser starts a browser whose every console error, uncaught
// exception or log error (CSP violations, failed loads) fails the test:
// the happy path is clean.
func newBrowser(t *testing.T, boot string) *browsertest.Browser {
	t.Helper()
	b := browsertest.New(t, "shell", boot, 90*time.Second)
	b.Poll = 10 * time.Second
	b.FailOnProblems()
	return b
}

// TestWebShellInBrowser opens a chat as a signed-in user and checks what
// users see: bubbles, markup shown as text, live patches, receipts,
// typing, both themes and the ETag cache.
func TestWebShellInBrowser(t *testing.T) {
	api, srv := newFakeAPI(t)
	b := newBrowser(t, alertHook+signedIn)
	waitFor := b.WaitFor
	do := b.Do
	evalString := func(expr string) string { return browsertest.Eval[string](b, expr) }
	evalInt := func(expr string) int { return browsertest.Eval[int](b, expr) }

	do("open chat", chromedp.Navigate(srv.URL+"/app/#/chat?dialog_id=d17"))

	// The chat screen draws its bubbles, ticks and spans from the golden.
	waitFor("chat bubbles", `document.querySelectorAll('.k-message-bubble').length >= 50`)
	waitFor("read ticks from layout", `!!document.querySelector('[data-kid="msg-m100"] .k-ticks[data-status="read"]')`)
	waitFor("phone span is a tel: link", `!!document.querySelector('[data-kid="msg-m101"] a.k-link[href="tel:+79991234567"]')`)

	// Markup in a message is text: no img, no handler, no alert.
	if xss := evalString(`document.querySelector('[data-kid="msg-xss"] .k-body').textContent`); xss != xssText {
		t.Errorf("xss bubble text = %q, want %q", xss, xssText)
	}

	// The WebSocket: sync on connect, then the patch inserts the new
	// bubbles and removes one; receipts and typing reach the screen.
	waitFor("patch inserted a bubble", `!!document.querySelector('[data-kid="msg-d17.150"]')`)
	waitFor("patch removed a bubble", `!document.querySelector('[data-kid="msg-m149"]')`)
	waitFor("status event turned ticks read", `!!document.querySelector('[data-kid="msg-d17.151"] .k-ticks[data-status="read"]')`)
	waitFor("typing indicator", `document.querySelector('.k-nav-bar .k-subtitle').textContent === 'typing…'`)
	patched := evalString(`document.querySelector('[data-kid="msg-d17.150"] .k-body').textContent`)
	if want := xssText + " click"; patched != want {
		t.Errorf("patched bubble text = %q, want %q", patched, want)
	}
	if unsafe := evalInt(`document.querySelectorAll('#screen img[src="x"], [onerror], a[href^="javascript"]').length`); unsafe != 0 {
		t.Errorf("%d unsafe elements (img src=x, onerror, javascript: links) in the page, want 0", unsafe)
	}
	if alerts := evalInt(`window.__alerts.length`); alerts != 0 {
		t.Errorf("window.alert called %d times, want 0", alerts)
	}

	deadline := time.Now().Add(5 * time.Second)
	for !(api.frame("delivered", func(f map[string]any) bool { return f["dialog_id"] == "d17" && f["seq"] == 151.0 }) &&
		api.frame("read", func(f map[string]any) bool { return f["dialog_id"] == "d17" && f["seq"].(float64) >= 150 }) &&
		api.frame("state", func(f map[string]any) bool { return f["state"] == "foreground" })) {
		if time.Now().After(deadline) {
			api.mu.Lock()
			t.Fatalf("want delivered (seq 151) and read (seq >= 150) frames for d17 and state foreground; got %v", api.frames)
		}
		time.Sleep(20 * time.Millisecond)
	}
	api.mu.Lock()
	if api.wsToken != "test-access" {
		t.Errorf("WebSocket access_token = %q, want test-access", api.wsToken)
	}
	first := api.screens[0]
	api.mu.Unlock()
	shell := first.Header.Get("X-Korobka-Shell")
	for _, c := range []string{"message_bubble@1", "composer@1", "video@1", "file@1", "web@1", "tabs@1"} {
		if !strings.Contains(shell, c) {
			t.Errorf("X-Korobka-Shell = %q, want it to list %s", shell, c)
		}
	}
	if !strings.HasPrefix(shell, "web/1 (components: ") {
		t.Errorf("X-Korobka-Shell = %q, want web/1 (components: ...)", shell)
	}
	if al := first.Header.Get("Accept-Language"); !strings.HasPrefix(al, "en") {
		t.Errorf("Accept-Language = %q, want en first", al)
	}
	if q, h := first.URL.Query().Get("theme"), first.Header.Get("X-Korobka-Theme"); q != "light" || h != "light" {
		t.Errorf("theme query %q, header %q; want light and light", q, h)
	}
	// The device's zone goes with every request and every watch.
	zone := evalString(`Intl.DateTimeFormat().resolvedOptions().timeZone`)
	if tz := first.Header.Get("X-Korobka-TZ"); zone == "" || tz != zone {
		t.Errorf("X-Korobka-TZ = %q, want the browser's zone %q", tz, zone)
	}
	if !api.frame("watch", func(f map[string]any) bool { return f["tz"] == zone }) {
		t.Errorf("no watch frame with tz %q", zone)
	}
	// Lengths in the shell count characters as the server does (grapheme
	// clusters): two initials of flags are two flags, not one and a half.
	do("count graphemes", chromedp.Evaluate[chromedp.Void](`import('/app/render.js').then((m) => {
		window.__chars = m.firstChars('\u{1F1F7}\u{1F1FA}\u{1F1FA}\u{1F1F8}x', 2) + '|' + m.charCount('\u{1F468}\u200d\u{1F469}\u200d\u{1F467}e\u0301');
	}), undefined`))
	waitFor("graphemes counted", `window.__chars === '\u{1F1F7}\u{1F1FA}\u{1F1FA}\u{1F1F8}|2'`)

	dir := os.Getenv("KOROBKA_ARTIFACTS")
	if dir == "" {
		dir = t.TempDir()
	}
	b.Screenshot(filepath.Join(dir, "web-chat-light.png"))

	// Dark: the shell follows prefers-color-scheme by requesting the dark
	// layout, whose colours then paint the screen.
	b.SetScheme("dark")
	waitFor("dark theme applied", `document.documentElement.dataset.theme === 'dark' &&
		getComputedStyle(document.querySelector('.ks-screen')).backgroundColor === 'rgb(14, 16, 20)'`)
	b.Screenshot(filepath.Join(dir, "web-chat-dark.png"))

	// Back to light: the layout is cached, so the request revalidates (304).
	b.SetScheme("light")
	waitFor("light theme applied", `document.documentElement.dataset.theme === 'light' && document.querySelectorAll('.k-message-bubble').length >= 50`)
	api.mu.Lock()
	n304 := api.served[http.StatusNotModified]
	api.mu.Unlock()
	if n304 == 0 {
		t.Errorf("no 304 answered; want the shell to revalidate its cached layout with If-None-Match")
	}

	// Back on the first screen goes home (the chat list), not out of the app.
	do("back", chromedp.Click(chromedp.CSS(`.k-nav-bar button`)))
	waitFor("chat list", `location.hash === '#/chat_list' && !!document.querySelector('.k-row[data-kid^="dialog-"]')`)
}

// TestWebShellLogin walks the server-driven login: phone, code, then the
// chat list with the tokens from verify and the WebSocket open.
func TestWebShellLogin(t *testing.T) {
	api, srv := newFakeAPI(t)
	b := newBrowser(t, alertHook)

	b.Do("open app", chromedp.Navigate(srv.URL+"/app/"))
	b.WaitFor("login screen", `location.hash === '#/login' && !!document.querySelector('input[data-name="phone"]')`)
	b.Do("request code",
		chromedp.SendKeys(chromedp.CSS(`input[data-name="phone"]`), "+7 (916) 123-45-67"),
		chromedp.Click(chromedp.CSS(`button.k-primary`)),
	)
	b.WaitFor("otp screen", `location.hash === '#/otp?phone=%2B79161234567' && !!document.querySelector('input[data-name="code"]')`)
	b.Do("verify",
		chromedp.SendKeys(chromedp.CSS(`input[data-name="code"]`), "111111"),
		chromedp.Click(chromedp.CSS(`button.k-primary`)),
	)
	// verify says new_user: the shell asks for a name first; "later"
	// goes on to the chat list.
	b.WaitFor("welcome", `location.hash === '#/welcome' && !!document.querySelector('input[data-name="first_name"]')`)
	b.Do("later", chromedp.Click(chromedp.CSS(`#screen button.k-plain`)))
	b.WaitFor("chat list", `location.hash === '#/chat_list' && !!document.querySelector('.k-row[data-kid^="dialog-"]')`)
	if tok := browsertest.Eval[string](b, `JSON.parse(localStorage.getItem('korobka.session')).access_token`); tok != "test-access" {
		t.Errorf("stored access token = %q, want test-access", tok)
	}

	api.mu.Lock()
	defer api.mu.Unlock()
	if got := api.posts["/v1/auth/otp"]["phone"]; got != "+79161234567" {
		t.Errorf("otp phone = %v, want +79161234567 (formatting stripped)", got)
	}
	verify := api.posts["/v1/auth/verify"]
	if verify["code"] != "111111" || verify["phone"] == "" || verify["phone"] == nil {
		t.Errorf("verify body = %v, want code 111111 and the phone from extra", verify)
	}
	last := api.screens[len(api.screens)-1]
	if got := last.Header.Get("Authorization"); got != "Bearer test-access" {
		t.Errorf("chat_list Authorization = %q, want Bearer test-access", got)
	}
}

// TestPreview opens the designer preview: a screen with a fixture, locale,
// theme and capabilities from the hash, its YAML beside it, lint errors
// in place of a broken screen, and live reload.
func TestPreview(t *testing.T) {
	api, srv := newFakeAPI(t)
	b := newBrowser(t, alertHook)

	b.Do("open preview", chromedp.Navigate(srv.URL+"/preview/#name=chat&fixture=chat.empty&lang=en&theme=dark&caps=composer"))
	b.WaitFor("empty chat in the phone", `document.getElementById('p-frame').textContent.includes('Say hello!') &&
		document.getElementById('p-frame').dataset.theme === 'dark'`)
	b.WaitFor("yaml source", `document.querySelector('#p-source .p-line')?.textContent === 'screen: chat'`)
	api.mu.Lock()
	q := api.renders[len(api.renders)-1]
	api.mu.Unlock()
	for _, want := range []string{"name=chat", "fixture=chat.empty", "lang=en", "theme=dark", "caps=composer%401"} {
		if !strings.Contains(q, want) {
			t.Errorf("render query %q lacks %s", q, want)
		}
	}

	b.Do("pick the broken screen", chromedp.Evaluate[chromedp.Void](`(() => {
		const s = document.getElementById('p-screen'); s.value = 'broken'; s.dispatchEvent(new Event('change')); })()`))
	b.WaitFor("diagnostics in place", `document.querySelector('#p-frame .p-problems')?.textContent.includes('broken.yaml:3:9: unknown component "buton"') &&
		document.querySelectorAll('#p-source .p-line')[2]?.classList.contains('p-err')`)

	b.WaitFor("event stream open", `document.getElementById('p-status').textContent === 'live reload on'`)
	api.reload <- struct{}{}
	b.WaitFor("reloaded", `document.getElementById('p-status').textContent.startsWith('reloaded')`)
}

// TestWebShellRenewsSocketToken: a minute before the socket's access token
// expires, the shell refreshes the tokens and hands the fresh one to the
// open socket with an auth frame, so the server does not close it.
func TestWebShellRenewsSocketToken(t *testing.T) {
	f, srv := newFakeAPI(t)
	// The stored token has 62 s left: the renewal is due in 2 s.
	b := newBrowser(t, alertHook+`
if (!localStorage.getItem('korobka.session')) {
  localStorage.setItem('korobka.session', JSON.stringify({access_token: 'test-access',
    refresh_token: 'test-refresh', expires_at: Date.now() + 62e3, user: {id: 'u1'}}));
}`)
	b.Do("open chat", chromedp.Navigate(srv.URL+"/app/#/chat?dialog_id=d17"))
	deadline := time.Now().Add(30 * time.Second)
	for !f.frame("auth", func(fr map[string]any) bool { return fr["access_token"] == "test-access-2" }) {
		if time.Now().After(deadline) {
			f.mu.Lock()
			t.Fatalf("no auth frame with the refreshed token; frames %v", f.frames)
		}
		time.Sleep(20 * time.Millisecond)
	}
	f.mu.Lock()
	refreshed := f.posts["/v1/auth/refresh"]
	f.mu.Unlock()
	if refreshed["refresh_token"] != "test-refresh" {
		t.Errorf("refresh sent %v, want the stored refresh token", refreshed)
	}
}
