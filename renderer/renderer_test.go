package renderer

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io/fs"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/korobka/korobka/schemas"
	"github.com/korobka/korobka/screens"
)

// shippedFS copies the embedded screens into a MapFS so tests can add or
// replace files.
func shippedFS(t testing.TB) fstest.MapFS {
	t.Helper()
	m := fstest.MapFS{}
	err := fs.WalkDir(screens.FS, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := fs.ReadFile(screens.FS, p)
		m[p] = &fstest.MapFile{Data: data}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func fixture(t testing.TB, name string) *Fixture {
	t.Helper()
	data, err := fs.ReadFile(screens.FS, "fixtures/"+name+".json")
	if err != nil {
		t.Fatal(err)
	}
	f, err := ParseFixture(data)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func render(t testing.TB, e *Engine, req Request, p Provider) string {
	t.Helper()
	var b bytes.Buffer
	if _, err := e.Render(context.Background(), req, p, &b); err != nil {
		t.Fatalf("Render(%s): %v", req.Screen, err)
	}
	return b.String()
}

func TestUserDataRendersLiterally(t *testing.T) {
	e := loadShipped(t)
	f := fixture(t, "user")
	out := render(t, e, f.Request("user", "en", "light"), f.Provider())
	for _, want := range []string{`"title":"{{ secret }} ${user.id}"`, `"initials":"{$"`} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %s:\n%s", want, out)
		}
	}
	f = fixture(t, "chat")
	out = render(t, e, f.Request("chat", "en", "light"), f.Provider())
	if !strings.Contains(out, `"text":"{{ 7*7 }} and ${user.id} stay literal"`) {
		t.Errorf("message text was not rendered literally")
	}
	if strings.Contains(out, `"49`) || strings.Contains(out, ` 49 `) {
		t.Errorf("user text was evaluated: output contains 49")
	}
}

func TestRequestErrors(t *testing.T) {
	e := loadShipped(t)
	p := fixture(t, "chat").Provider()
	for _, tc := range []struct {
		name string
		req  Request
		want error
	}{
		{"unknown screen", Request{Screen: "nope"}, ErrUnknownScreen},
		{"missing param", Request{Screen: "chat"}, ErrMissingParam},
		{"bad param", Request{Screen: "chat", Params: map[string]string{"dialog_id": "../etc"}}, ErrInvalidParam},
		{"long param", Request{Screen: "chat", Params: map[string]string{"dialog_id": strings.Repeat("a", 300)}}, ErrInvalidParam},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := e.Render(context.Background(), tc.req, p, &bytes.Buffer{})
			if !errors.Is(err, tc.want) {
				t.Errorf("Render: got %v, want %v", err, tc.want)
			}
			if _, err := e.ETag(context.Background(), tc.req, p); !errors.Is(err, tc.want) {
				t.Errorf("ETag: got %v, want %v", err, tc.want)
			}
		})
	}
}

// countingProvider wraps a provider and counts calls.
type countingProvider struct {
	Provider
	versions, fetches int
	bump              string
}

func (c *countingProvider) Version(ctx context.Context, q Query) (string, error) {
	c.versions++
	v, err := c.Provider.Version(ctx, q)
	return v + c.bump, err
}

func (c *countingProvider) Fetch(ctx context.Context, q Query) (any, string, error) {
	c.fetches++
	d, v, err := c.Provider.Fetch(ctx, q)
	return d, v + c.bump, err
}

func TestETag(t *testing.T) {
	e := loadShipped(t)
	f := fixture(t, "chat")
	ctx := context.Background()
	p := &countingProvider{Provider: f.Provider()}
	req := f.Request("chat", "ru", "light")
	tag, err := e.ETag(ctx, req, p)
	if err != nil {
		t.Fatal(err)
	}
	if p.fetches != 0 || p.versions != 2 {
		t.Errorf("ETag made %d fetches and %d version calls, want 0 and 2", p.fetches, p.versions)
	}
	rtag, err := e.Render(ctx, req, p, &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	if rtag != tag {
		t.Errorf("Render etag %s, ETag %s: want equal", rtag, tag)
	}
	variants := map[string]Request{}
	r := req
	r.Langs = []string{"en"}
	variants["lang"] = r
	r = req
	r.Theme = "dark"
	variants["theme"] = r
	r = req
	r.Caps = ParseShell("ios/2.3 (components: composer@1)")
	variants["caps"] = r
	r = req
	r.Viewer = "u9"
	variants["viewer"] = r
	for name, r := range variants {
		got, _ := e.ETag(ctx, r, p)
		if got == tag {
			t.Errorf("changing %s kept etag %s", name, tag)
		}
	}
	// A capability the screen does not use does not split the cache.
	r = req
	r.Caps = ParseShell("ios/2.3 (components: web@1)")
	if got, _ := e.ETag(ctx, r, p); got != tag {
		t.Errorf("unused capability changed etag: got %s, want %s", got, tag)
	}
	p.bump = "x"
	if got, _ := e.ETag(ctx, req, p); got == tag {
		t.Errorf("new data version kept etag")
	}
}

func TestCapabilityFallback(t *testing.T) {
	e := loadShipped(t)
	f := fixture(t, "chat")
	req := f.Request("chat", "en", "light")
	if out := render(t, e, req, f.Provider()); strings.Contains(out, `"type":"composer"`) || !strings.Contains(out, `"type":"input","id":"text"`) {
		t.Errorf("shell without composer: got composer or no fallback")
	}
	req.Caps = ParseShell("android/1.0 (components: composer@1, video@1, file@1)")
	out := render(t, e, req, f.Provider())
	for _, want := range []string{`"type":"composer"`, `"type":"video"`, `"type":"file"`} {
		if !strings.Contains(out, want) {
			t.Errorf("shell with %s: output lacks it", want)
		}
	}
}

func TestPluralsAndLanguages(t *testing.T) {
	e := loadShipped(t)
	f := fixture(t, "group_info")
	members := f.Data["dialog"].(map[string]any)["members"].([]any)
	for _, tc := range []struct {
		n    int
		lang string
		want string
	}{
		{1, "ru", "1 участник"}, {2, "ru", "2 участника"}, {5, "ru", "5 участников"},
		{11, "ru", "11 участников"}, {21, "ru", "21 участник"}, {22, "ru", "22 участника"},
		{1, "en", "1 member"}, {2, "en", "2 members"},
		{3, "ru-RU", "3 участника"}, {3, "de", "3 members"},
	} {
		var list []any
		for i := range tc.n {
			list = append(list, members[i%len(members)])
		}
		g := *f
		g.Data = map[string]any{"dialog": map[string]any{"id": "d1", "title": "G", "members": list}}
		out := render(t, e, Request{Screen: "group_info", Params: g.Params, Langs: []string{tc.lang}}, g.Provider())
		if !strings.Contains(out, `"`+tc.want+`"`) {
			t.Errorf("%d in %s: output lacks %q", tc.n, tc.lang, tc.want)
		}
	}
}

func TestParseAcceptLanguage(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"ru-RU,ru;q=0.9,en-US;q=0.8,en;q=0.7", "ru-ru ru en-us en"},
		{"en;q=0.5, de", "de en"},
		{"", ""},
		{"*;q=0.1, fr;q=0", ""},
		{"xx;q=abc, ja", "ja"},
	} {
		if got := strings.Join(ParseAcceptLanguage(tc.in), " "); got != tc.want {
			t.Errorf("ParseAcceptLanguage(%q): got %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestParseShell(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"ios/2.3 (components: list@2, video@1)", "ios/2.3 (components: list@2, video@1)"},
		{"android/1", "android/1 (components:)"},
		{"web/1 (components: composer, bad name@x, video@0)", "web/1 (components: composer@1)"},
		{"", " (components:)"},
	} {
		if got := ParseShell(tc.in).String(); got != tc.want {
			t.Errorf("ParseShell(%q): got %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestFragmentAndPatch(t *testing.T) {
	e := loadShipped(t)
	msg := fixture(t, "chat").Data["messages"].(map[string]any)["messages"].([]any)[0]
	v := Variant{Langs: []string{"en"}, Theme: "light"}
	own, err := e.Fragment("message_bubble", map[string]any{"m": msg, "own": true}, v)
	if err != nil {
		t.Fatal(err)
	}
	other, err := e.Fragment("message_bubble", map[string]any{"m": msg, "own": false}, v)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(own, []byte(`"status":"read"`)) || bytes.Contains(other, []byte(`"status"`)) {
		t.Errorf("ticks: own %s, other %s", own, other)
	}
	frame := AppendPatch(nil, "chat:d17",
		Insert("messages", "end", own), Replace("msg-m100", other), Remove("msg-m99"),
		Set("badge-d17", map[string]any{"text": "4"}))
	sch, err := compileSchema(schemas.FS, "layout.schema.json#/$defs/patch")
	if err != nil {
		t.Fatal(err)
	}
	if err := sch.validateJSON(frame); err != nil {
		t.Errorf("patch frame does not match $defs/patch: %v\n%s", err, frame)
	}
	var std struct {
		Type   string `json:"type"`
		Screen string `json:"screen"`
		Ops    []Op   `json:"ops"`
	}
	if err := json.Unmarshal(frame, &std); err != nil || len(std.Ops) != 4 || std.Ops[3].Props["text"] != "4" {
		t.Errorf("patch frame round trip: %v %+v", err, std)
	}
	if _, err := e.Fragment("nope", nil, v); !errors.Is(err, ErrUnknownFragment) {
		t.Errorf("unknown fragment: got %v, want %v", err, ErrUnknownFragment)
	}
	if e.VariantKey(v) == e.VariantKey(Variant{Langs: []string{"ru"}}) {
		t.Errorf("variant keys of en and ru are equal")
	}
}

func TestLiveTopics(t *testing.T) {
	e := loadShipped(t)
	got, err := e.LiveTopics(Request{Screen: "chat", Params: map[string]string{"dialog_id": "d17"}})
	if err != nil || len(got) != 1 || got[0] != "dialog:d17" {
		t.Errorf("LiveTopics: got %v, %v; want [dialog:d17]", got, err)
	}
	s, _ := e.Screen("login")
	if !s.Public {
		t.Errorf("login is not public")
	}
}

func TestLintDiagnostics(t *testing.T) {
	const good = `screen: probe
root:
  type: column
  children:
    - { type: text, text: hello }
`
	for _, tc := range []struct {
		name, src, want string
	}{
		{"unknown type", strings.Replace(good, "type: text", "type: txt", 1), `probe.yaml:5:15: unknown node type "txt"`},
		{"unknown prop", strings.Replace(good, "text: hello", "text: hello, colour: red", 1), `probe.yaml:5:34: unknown prop "colour" for text`},
		{"unknown style", strings.Replace(good, "text: hello", "text: hello, style: shiny", 1), `probe.yaml:5:41: unknown style token "shiny"`},
		{"unknown colour", strings.Replace(good, "text: hello", "text: hello, color: pink", 1), `probe.yaml:5:41: unknown colour token "pink"`},
		{"missing string", strings.Replace(good, "text: hello", "text: { t: no.such }", 1), `probe.yaml:5:32: missing string key "no.such" in strings/en.yaml`},
		{"bad expression", strings.Replace(good, "text: hello", `text: "x {{ 1 + }}"`, 1), `probe.yaml:5:`},
		{"unknown name", strings.Replace(good, "text: hello", `text: "{{ nobody }}"`, 1), `probe.yaml:5:31: expression: unknown name "nobody"`},
		{"navigate nowhere", strings.Replace(good, "text: hello", `text: hi, action: { type: navigate, screen: nowhere }`, 1), `probe.yaml:5:65: navigate to unknown screen "nowhere"`},
		{"unknown action", strings.Replace(good, "text: hello", `text: hi, action: { type: teleport }`, 1), `unknown action "teleport"`},
		{"unterminated", strings.Replace(good, "text: hello", `text: "{{ a"`, 1), `unterminated {{`},
		{"unknown icon", strings.Replace(good, "{ type: text, text: hello }", `{ type: icon, name: dot }`, 1), `probe.yaml:5:27: name must be one of `},
		{"unknown button icon", strings.Replace(good, "{ type: text, text: hello }", `{ type: button, icon: dot }`, 1), `probe.yaml:5:29: icon must be one of `},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := shippedFS(t)
			m["probe.yaml"] = &fstest.MapFile{Data: []byte(tc.src)}
			m["fixtures/probe.json"] = &fstest.MapFile{Data: []byte(`{"params":{},"viewer":"","data":{}}`)}
			d := Lint(m)
			var all []string
			for _, x := range d {
				all = append(all, x.String())
			}
			if !strings.Contains(strings.Join(all, "\n"), tc.want) {
				t.Errorf("got diagnostics:\n%s\nwant one containing %q", strings.Join(all, "\n"), tc.want)
			}
		})
	}
}

// TestHostileFilesRefused: each hostile file is refused with a clear
// diagnostic that names the bound it broke (the bounds, not a stopwatch,
// are what keep lint cheap: tests assert no timings).
func TestHostileFilesRefused(t *testing.T) {
	bomb := "a: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\nc: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\n" +
		"d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]\ne: [*d, *d, *d, *d, *d, *d, *d, *d, *d]\n"
	for _, tc := range []struct {
		name string
		file string
		data []byte
		want string
	}{
		{"alias bomb", "bomb.yaml", []byte(bomb), "anchors and aliases are not allowed"},
		{"50 MB", "huge.yaml", bytes.Repeat([]byte("# padding\n"), 5<<20), "over the 1048576 byte limit"},
		{"10000 deep flow", "deep.yaml", []byte("screen: deep\nroot: " + strings.Repeat("[", 10000) + strings.Repeat("]", 10000) + "\n"), "nesting deeper than 64"},
		{"10000 deep block", "deep2.yaml", []byte("screen: deep2\nroot:\n" + deepNodes(10000)), "nesting deeper than 64"},
		{"range loop", "loop.yaml", []byte("screen: loop\nroot: { type: text, text: \"{{ len(map(1..1000000000, # * 2)) }}\" }\n"), "not allowed"},
		{"predicate loop", "loop2.yaml", []byte("screen: loop2\nroot: { type: text, text: \"{{ all(viewer, {true}) }}\" }\n"), "not allowed"},
		{"huge expression", "loop3.yaml", []byte("screen: loop3\nroot: { type: text, text: \"{{ " + strings.Repeat("1+", 400) + "1 }}\" }\n"), "longer than 512"},
		{"fragment recursion", "fragments/rec.yaml", []byte("fragment: rec\nparams: [x]\nroot: { use: rec, with: { x: x } }\n"), `fragment "rec" uses itself`},
		{"nested loops", "nest.yaml", []byte("screen: nest\ndata: { d: { source: me } }\nroot: { type: column, for: a in d.l, item: { type: column, for: b in a, item: { type: column, for: c in b, item: { type: column, for: e in c, item: { type: text } } } } }\n"), "nest deeper than 3"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := shippedFS(t)
			m[tc.file] = &fstest.MapFile{Data: tc.data}
			d := Lint(m)
			var all []string
			for _, x := range d {
				all = append(all, x.String())
			}
			if !strings.Contains(strings.Join(all, "\n"), tc.want) {
				t.Errorf("got diagnostics:\n%s\nwant one containing %q", strings.Join(all, "\n"), tc.want)
			}
		})
	}
}

func deepNodes(n int) string {
	var b strings.Builder
	for i := range n {
		b.WriteString(strings.Repeat(" ", i+2))
		b.WriteString("type: column\n")
		b.WriteString(strings.Repeat(" ", i+2))
		b.WriteString("item:\n")
		if b.Len() > 900_000 {
			break
		}
	}
	return b.String()
}

func TestRenderBudget(t *testing.T) {
	m := shippedFS(t)
	m["wide.yaml"] = &fstest.MapFile{Data: []byte("screen: wide\ndata: { d: { source: me } }\nroot: { type: column, for: a in d.l, item: { type: column, for: b in d.l, item: { type: column, for: c in d.l, item: { type: text, text: x } } } }\n")}
	var l []any
	for range 100 {
		l = append(l, 1.0)
	}
	fx := fmtFixture(map[string]any{"d": map[string]any{"l": l}})
	m["fixtures/wide.json"] = &fstest.MapFile{Data: fx}
	// Lint renders the fixture and reports the budget error.
	d := Lint(m)
	if len(d) == 0 || !strings.Contains(d[0].Message, CodeTooLarge) {
		t.Fatalf("got %v, want a %s diagnostic", d, CodeTooLarge)
	}
}

func fmtFixture(data map[string]any) []byte {
	b, _ := json.Marshal(Fixture{Params: map[string]string{}, Data: data})
	return b
}

func TestLoadContentSeeds(t *testing.T) {
	docs, err := LoadContentSeeds(screens.FS)
	if err != nil {
		t.Fatal(err)
	}
	if got := len(docs["tariffs"]); got != 3 {
		t.Errorf("tariffs: got %d documents, want 3", got)
	}
	if got := docs["news"][0].ID; got != "launch" {
		t.Errorf("news[0].ID: got %q, want launch", got)
	}
	m := shippedFS(t)
	m["content/tariffs.yaml"] = &fstest.MapFile{Data: []byte("collection: tariffs\nitems:\n  - { id: x, title: { en: X }, price: -1, currency: RUB, period: month, features: [] }\n")}
	if _, err := LoadContentSeeds(m); err == nil || !strings.Contains(err.Error(), "content/tariffs.yaml:3:5") {
		t.Errorf("bad seed: got %v, want an error at content/tariffs.yaml:3:5", err)
	}
}
