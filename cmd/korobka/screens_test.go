package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

func TestLintCommand(t *testing.T) {
	var out, errOut bytes.Buffer
	none := func(string) string { return "" }
	if err := run(context.Background(), []string{"korobka", "lint"}, none, &out, &errOut); err != nil {
		t.Fatalf("embedded screens: got %v\n%s", err, out.String())
	}
	// A copy of the screens with a broken file fails with a position.
	dir := t.TempDir()
	copyDir(t, "../../screens", dir)
	bad := "screen: login\nroot:\n  type: column\n  children:\n    - type: blink\n"
	if err := os.WriteFile(filepath.Join(dir, "login.yaml"), []byte(bad), 0o644); err != nil {
		t.Fatal(err)
	}
	out.Reset()
	err := run(context.Background(), []string{"korobka", "lint", dir}, none, &out, &errOut)
	if err != errLint {
		t.Fatalf("got %v, want a lint failure", err)
	}
	if !regexp.MustCompile(`login\.yaml:5:\d+: .*blink`).MatchString(out.String()) {
		t.Fatalf("got %q, want login.yaml:5:col: about blink", out.String())
	}
}

func TestRenderCommand(t *testing.T) {
	var out bytes.Buffer
	args := []string{"korobka", "render", "chat", "--data", "../../screens/fixtures/chat.json", "--lang", "ru", "--theme", "dark"}
	if err := run(context.Background(), args, func(string) string { return "" }, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	var layout struct {
		Screen, Theme string
		Root          map[string]any
	}
	if err := json.Unmarshal(out.Bytes(), &layout); err != nil {
		t.Fatalf("output is not JSON: %v\n%s", err, out.String())
	}
	if layout.Screen != "chat" || !strings.Contains(layout.Theme, "dark") || layout.Root == nil {
		t.Fatalf("got screen %q theme %q, want the dark chat layout", layout.Screen, layout.Theme)
	}
	if !strings.Contains(out.String(), "{{ 7*7 }}") {
		t.Fatal("fixture text {{ 7*7 }} did not render literally")
	}
	if err := run(context.Background(), []string{"korobka", "render", "chat"}, func(string) string { return "" }, &out, io.Discard); err != errUsage {
		t.Fatalf("render without --data: got %v, want usage error", err)
	}
}

func TestScreensEndpoint(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		// Public screens need no token; the rest do.
		r := e.want(e.do("GET", "/v1/screens/login", "", nil), 200)
		if r.field(t, "screen") != "login" || r.header.Get("ETag") == "" || !strings.Contains(r.header.Get("Vary"), "Accept-Language") {
			t.Fatalf("login: got %s %v", r.body, r.header)
		}
		e.wantErr(e.do("GET", "/v1/screens/chat_list", "", nil), 401, "missing_token")
		e.wantErr(e.do("GET", "/v1/screens/nope", "", nil), 404, "unknown_screen")

		a, b, id := e.pair()
		e.want(e.do("PATCH", "/v1/me", b.AccessToken, map[string]any{"first_name": "{{ 7*7 }}", "last_name": "${user.id}"}), 200)
		e.wantErr(e.do("GET", "/v1/screens/chat", a.AccessToken, nil), 400, "missing_param")
		c := e.loginTest("+79991234003", "333333")
		e.wantErr(e.do("GET", "/v1/screens/chat?dialog_id="+id, c.AccessToken, nil), 404, "not_found")

		e.want(e.do("POST", "/v1/dialogs/"+id+"/messages", b.AccessToken, map[string]any{"client_id": "s1", "text": "<img src=x onerror=alert(1)>"}), 201)
		list := e.screen("/v1/screens/chat_list", a.AccessToken, "")
		if list.status != 200 || !bytes.Contains(list.body, []byte("{{ 7*7 }} ${user.id}")) {
			t.Fatalf("chat_list: got %d %s, want the partner's name rendered literally", list.status, list.body)
		}
		chat := e.screen("/v1/screens/chat?dialog_id="+id, a.AccessToken, "")
		if chat.status != 200 || !bytes.Contains(chat.body, []byte(`\u003cimg src=x onerror=alert(1)\u003e`)) && !bytes.Contains(chat.body, []byte(`<img src=x onerror=alert(1)>`)) {
			t.Fatalf("chat: got %d %s, want the message text", chat.status, chat.body)
		}
		etag := chat.header.Get("ETag")
		if r := e.screen("/v1/screens/chat?dialog_id="+id, a.AccessToken, etag); r.status != 304 || len(r.body) != 0 {
			t.Fatalf("If-None-Match: got %d, want 304 with no body", r.status)
		}
		// New data, new ETag.
		e.want(e.do("POST", "/v1/dialogs/"+id+"/messages", b.AccessToken, map[string]any{"client_id": "s2", "text": "more"}), 201)
		if r := e.screen("/v1/screens/chat?dialog_id="+id, a.AccessToken, etag); r.status != 200 || r.header.Get("ETag") == etag {
			t.Fatalf("after a new message: got %d with ETag %s, want 200 and a new ETag", r.status, r.header.Get("ETag"))
		}
		// A read receipt, an edit and the partner's new name each change
		// the ETag (the tick, the text, the title).
		e.want(e.do("POST", "/v1/dialogs/"+id+"/messages", a.AccessToken, map[string]any{"client_id": "a1", "text": "mine"}), 201)
		cur := e.screen("/v1/screens/chat?dialog_id="+id, a.AccessToken, "").header.Get("ETag")
		for _, change := range []func(){
			func() { e.want(e.do("POST", "/v1/dialogs/"+id+"/read", b.AccessToken, map[string]any{"seq": 3}), 200) },
			func() {
				e.want(e.do("PATCH", "/v1/dialogs/"+id+"/messages/1", b.AccessToken, map[string]any{"text": "edited"}), 200)
			},
			func() {
				e.want(e.do("PATCH", "/v1/me", b.AccessToken, map[string]any{"first_name": "Борис"}), 200)
			},
		} {
			change()
			r := e.screen("/v1/screens/chat?dialog_id="+id, a.AccessToken, cur)
			if r.status != 200 || r.header.Get("ETag") == cur {
				t.Fatalf("after a change: got %d with ETag %s, want 200 and a new ETag", r.status, r.header.Get("ETag"))
			}
			cur = r.header.Get("ETag")
		}
		if r := e.screen("/v1/screens/chat_list", a.AccessToken, list.header.Get("ETag")); r.status != 200 || !bytes.Contains(r.body, []byte("Борис")) {
			t.Fatalf("chat_list after changes: got %d, want 200 with the new name", r.status)
		}

		// The language changes the output and the ETag.
		ru := e.screenLang("/v1/screens/chat_list", a.AccessToken, "ru")
		if ru.header.Get("ETag") == list.header.Get("ETag") || ru.header.Get("Content-Language") != "ru" {
			t.Fatalf("ru: got ETag %s Content-Language %q, want a different ETag and ru", ru.header.Get("ETag"), ru.header.Get("Content-Language"))
		}
		// A business screen reads its seeded content collection.
		tariffs := e.screen("/v1/screens/tariffs", a.AccessToken, "")
		if tariffs.status != 200 || !bytes.Contains(tariffs.body, []byte(`"screen":"tariffs"`)) {
			t.Fatalf("tariffs: got %d %s", tariffs.status, tariffs.body)
		}
	})
}

func (e *env) screen(path, token, etag string) response {
	e.t.Helper()
	return e.screenReq(path, token, etag, "en")
}

func (e *env) screenLang(path, token, lang string) response {
	e.t.Helper()
	return e.screenReq(path, token, "", lang)
}

func (e *env) screenReq(path, token, etag, lang string) response {
	e.t.Helper()
	req, _ := http.NewRequest("GET", e.url+path, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Accept-Language", lang)
	if etag != "" {
		req.Header.Set("If-None-Match", etag)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	return response{res.StatusCode, res.Header, body}
}

func copyDir(t *testing.T, from, to string) {
	t.Helper()
	err := filepath.WalkDir(from, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(from, p)
		dst := filepath.Join(to, rel)
		if d.IsDir() {
			return os.MkdirAll(dst, 0o755)
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(dst, data, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// korobka lint with no folder, run inside a screens folder, lints that
// folder; KOROBKA_SCREENS pointing nowhere is named in the error.
func TestLintFindsTheScreensFolder(t *testing.T) {
	none := func(string) string { return "" }
	dir := t.TempDir()
	copyDir(t, "../../screens", dir)
	bad := "screen: login\nroot:\n  type: column\n  children:\n    - type: blink\n"
	if err := os.WriteFile(filepath.Join(dir, "login.yaml"), []byte(bad), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Chdir(dir)
	var out, errOut bytes.Buffer
	if err := run(context.Background(), []string{"korobka", "lint"}, none, &out, &errOut); err != errLint {
		t.Fatalf("lint in a broken screens folder: got %v, want a lint failure\n%s", err, out.String())
	}
	if !strings.Contains(out.String(), "login.yaml:5:") || !strings.Contains(errOut.String(), "this folder") {
		t.Errorf("got %q / %q, want the folder's login.yaml linted", out.String(), errOut.String())
	}
	for _, where := range []string{"/nonexistent/screens", filepath.Join(dir, "login.yaml")} {
		err := run(context.Background(), []string{"korobka", "lint"},
			func(k string) string { return map[string]string{"KOROBKA_SCREENS": where}[k] }, io.Discard, io.Discard)
		if err == nil || !strings.Contains(err.Error(), "KOROBKA_SCREENS") || !strings.Contains(err.Error(), where) {
			t.Errorf("KOROBKA_SCREENS=%s: got %v, want an error naming the variable and the path", where, err)
		}
	}
	err := run(context.Background(), []string{"korobka", "render", "--screens", "/nonexistent/screens", "--data",
		"x.json", "chat"}, none, io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "/nonexistent/screens") {
		t.Errorf("render --screens nowhere: got %v, want an error naming the folder", err)
	}
}

// The screen name of korobka render may come before, between or after the
// flags.
func TestRenderArgumentsInAnyOrder(t *testing.T) {
	dir := t.TempDir()
	copyDir(t, "../../screens", dir)
	fx := filepath.Join(dir, "fixtures", "chat.json")
	for _, args := range [][]string{
		{"chat", "--data", fx, "--screens", dir, "--lang", "ru"},
		{"--screens", dir, "chat", "--data", fx, "--lang", "ru"},
		{"--screens", dir, "--data", fx, "--lang", "ru", "chat"},
		{"--lang=ru", "--screens", dir, "chat", "--data=" + fx},
	} {
		var out bytes.Buffer
		err := run(context.Background(), append([]string{"korobka", "render"}, args...), func(string) string { return "" }, &out, io.Discard)
		if err != nil || !strings.Contains(out.String(), `"screen": "chat"`) {
			t.Errorf("render %v: %v\n%.200s", args, err, out.String())
		}
	}
	for _, args := range [][]string{
		{"chat", "login", "--data", fx},
		{"--data", fx},
	} {
		if err := run(context.Background(), append([]string{"korobka", "render"}, args...), func(string) string { return "" }, io.Discard, io.Discard); err != errUsage {
			t.Errorf("render %v: got %v, want a usage error", args, err)
		}
	}
}

// A screens folder carries a collection of its own (schema, seed, screen,
// fixture) and its pictures: the server seeds the collection from the
// folder, renders the screen with it and serves the pictures at /assets/.
func TestScreensFolderCarriesCollectionsAndImages(t *testing.T) {
	dir := t.TempDir()
	copyDir(t, "../../screens", dir)
	write := func(name, data string) {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("content/menu.schema.json", `{"type": "object", "required": ["id", "name", "photo"], "additionalProperties": false,
  "properties": {"id": {"type": "string"}, "name": {"type": "string"}, "photo": {"type": "string"}}}`)
	write("content/menu.yaml", "collection: menu\nitems:\n  - id: soup\n    name: Borscht\n    photo: /assets/menu/soup.svg\n")
	write("images/menu/soup.svg", `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 4 4"><circle cx="2" cy="2" r="2"/></svg>`)
	write("menu.yaml", `screen: menu
data:
  menu: { source: content.menu }
root:
  type: list
  id: menu
  for: d in menu.items
  item: { type: row, children: [{ type: image, src: "{{ d.photo }}", aspect: 1 }, { type: text, text: "{{ d.name }}" }] }
`)
	write("fixtures/menu.json", `{"params": {}, "viewer": "u1", "data": {"menu": {"items": [{"id": "soup", "name": "Borscht", "photo": "/assets/menu/soup.svg"}]}}}`)
	if err := run(context.Background(), []string{"korobka", "lint", dir}, func(string) string { return "" }, io.Discard, io.Discard); err != nil {
		t.Fatalf("lint of the folder: %v", err)
	}
	e := newEnv(t, map[string]string{"KOROBKA_SCREENS": dir})
	tk := e.loginTest("+79990000001", "111111")
	r := e.want(e.do("GET", "/v1/screens/menu", tk.AccessToken, nil), 200)
	if !strings.Contains(string(r.body), `"text":"Borscht"`) || !strings.Contains(string(r.body), `"src":"/assets/menu/soup.svg"`) {
		t.Errorf("menu screen lacks the seeded dish: %.400s", r.body)
	}
	img := e.want(e.do("GET", "/assets/menu/soup.svg", "", nil), 200)
	if img.header.Get("Content-Type") != "image/svg+xml" || !strings.Contains(string(img.body), "<circle") {
		t.Errorf("GET /assets/menu/soup.svg: %s %.100s", img.header.Get("Content-Type"), img.body)
	}
	e.want(e.do("GET", "/assets/logo.svg", "", nil), 200)
	e.want(e.do("GET", "/assets/menu/../content/menu.yaml", "", nil), 404)
}

// KOROBKA_BRAND serves every screen in the brand's theme, with its logo
// at /assets/.
func TestServeWithBrand(t *testing.T) {
	e := newEnv(t, map[string]string{"KOROBKA_BRAND": "meridian"})
	r := e.want(e.do("GET", "/v1/screens/login", "", nil), 200)
	if !strings.Contains(string(r.body), `"theme":"meridian-light"`) || !strings.Contains(string(r.body), `"/assets/meridian/logo.svg"`) {
		t.Errorf("login with KOROBKA_BRAND=meridian: %.300s", r.body)
	}
	logo := e.want(e.do("GET", "/assets/meridian/logo.svg", "", nil), 200)
	if logo.header.Get("Content-Type") != "image/svg+xml" {
		t.Errorf("meridian's logo: %s", logo.header.Get("Content-Type"))
	}
	var out bytes.Buffer
	args := []string{"korobka", "render", "tariffs", "--brand", "meridian", "--data", "../../screens/fixtures/tariffs.json"}
	if err := run(context.Background(), args, func(string) string { return "" }, &out, io.Discard); err != nil || !strings.Contains(out.String(), `"theme": "meridian-light"`) {
		t.Errorf("render --brand meridian: %v %.200s", err, out.String())
	}
}

// A page of a screen's list: the next page of messages before a cursor,
// and 400 invalid_param for a list the screen does not have or a cursor
// that is not one.
func TestScreenPages(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		a, _, id := e.pair()
		for i := 1; i <= 55; i++ {
			e.want(e.do("POST", "/v1/dialogs/"+id+"/messages", a.AccessToken, map[string]any{"client_id": fmt.Sprint("m", i), "text": fmt.Sprint("m", i)}), 201)
		}
		type layout struct {
			Root struct {
				Children []struct {
					ID   string `json:"id"`
					Next *struct {
						Cursor string `json:"cursor"`
					} `json:"next"`
					// Each item is a column around its message's bubble
					// (or system line): the text is one level down.
					Children []struct {
						Children []struct {
							Text string `json:"text"`
						} `json:"children"`
					} `json:"children"`
				} `json:"children"`
			} `json:"root"`
		}
		text := func(item struct {
			Children []struct {
				Text string `json:"text"`
			} `json:"children"`
		}) string {
			if len(item.Children) != 1 {
				return fmt.Sprintf("<%d children>", len(item.Children))
			}
			return item.Children[0].Text
		}
		first := e.want(e.screen("/v1/screens/chat?dialog_id="+id, a.AccessToken, ""), 200)
		var got layout
		first.json(t, &got)
		if n := got.Root.Children[1].Next; n == nil || n.Cursor != "6" {
			t.Fatalf("first page's load_more %+v, want cursor 6 (the oldest seq shown)", n)
		}
		page := e.want(e.screen("/v1/screens/chat?dialog_id="+id+"&more=messages&cursor=6", a.AccessToken, ""), 200)
		got = layout{}
		page.json(t, &got)
		list := got.Root.Children[1]
		if list.ID != "messages" || len(list.Children) != 5 || text(list.Children[0]) != "m1" || text(list.Children[4]) != "m5" || list.Next != nil {
			t.Fatalf("page before 6: %+v, want m1..m5 and no next", list)
		}
		if page.header.Get("ETag") == first.header.Get("ETag") {
			t.Error("a page has the first page's ETag")
		}
		for _, q := range []string{"&more=dialog&cursor=6", "&more=nope&cursor=6", "&more=messages&cursor=x", "&cursor=6", "&more=messages"} {
			e.wantErr(e.screen("/v1/screens/chat?dialog_id="+id+q, a.AccessToken, ""), 400, "invalid_param")
		}
	})
}
