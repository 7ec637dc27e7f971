package renderer

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"testing/fstest"
	"unicode/utf8"
)

// FuzzLoadScreen feeds arbitrary bytes to the template loader as a screen
// and, when it compiles, renders it: neither may panic or hang.
//
// Run it with a bounded minimisation, e.g.
//
//	go test -run XXX -fuzz FuzzLoadScreen -fuzztime 1m -fuzzminimizetime 200x ./renderer
//
// The seeds are whole screens of a few KB; with the default of 60 s per new
// input, minimising them keeps the workers busy and the progress line shows
// 0 execs/s for minutes, which looks like a hang but is not.
func FuzzLoadScreen(f *testing.F) {
	base := shippedFS(f)
	for _, name := range []string{"chat.yaml", "login.yaml", "tariffs.yaml", "fragments/message_bubble.yaml"} {
		f.Add(base[name].Data)
	}
	f.Add([]byte("screen: fz\nroot: { type: text, text: \"{{ viewer }}\" }\n"))
	f.Add([]byte("a: &a [x]\nb: *a\n"))
	// Keep the base small: fuzz one screen against theme, strings, fragments.
	m := fstest.MapFS{}
	for name, file := range base {
		if name == "theme.yaml" || strings.HasPrefix(name, "strings/") || strings.HasPrefix(name, "fragments/") {
			m[name] = file
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		fsys := fstest.MapFS{"fz.yaml": &fstest.MapFile{Data: data}}
		for k, v := range m {
			fsys[k] = v
		}
		e, _, err := Load(fsys)
		if err != nil {
			return
		}
		for _, n := range e.Screens() {
			req := Request{Screen: n, Params: map[string]string{}, Viewer: "u1"}
			s, _ := e.Screen(n)
			for _, p := range s.Params {
				req.Params[p.Name] = "x1"
			}
			e.Render(context.Background(), req, (&Fixture{}).Provider(), &bytes.Buffer{})
		}
	})
}

// FuzzCompileExpr compiles arbitrary expressions and evaluates those that
// compile against sample data: no panic, no unbounded work.
func FuzzCompileExpr(f *testing.F) {
	for _, s := range []string{
		"m.sender_id == viewer", "own ? 'a' : 'b'", "len(x.l) >= 50 ? x.l[0].seq : ''", "a ?? b ?? 'c'",
		"1..10", "map(x.l, #)", "x.l[-1].id", "upper(trim(x.s)) + 'z'", "truncate(x.s, 3)", "by_id(x.l, 'a').id",
		"not (1 < 2) or x in x.l", "x.s contains 'a'", "let y = 1; y", "x.s matches 'a+'", "clock(x.t)",
		"-x.n % 0", "x?.s?.[0]", "[1,2]", "{a: 1}", "x.l[1:2]",
	} {
		f.Add(s)
	}
	data := map[string]any{
		"l": []any{map[string]any{"id": "a", "seq": 1.0}, 2.0, "s", nil},
		"s": " hello ", "n": 7.0, "t": "2025-01-01T10:00:00Z",
	}
	f.Fuzz(func(t *testing.T, src string) {
		sc := newScope(nil)
		for _, n := range []string{"x", "viewer", "own", "a", "b", "m"} {
			sc.declare(n)
		}
		c, err := compileExpr(src, sc)
		if err != nil {
			return
		}
		st := &state{vals: []any{data, "u1", true, nil, "b", data}}
		c.eval(st)
	})
}

// FuzzFindSpans checks linkify on any text: spans are in order, do not
// overlap, fall on rune boundaries, and a phone's target is E.164.
func FuzzFindSpans(f *testing.F) {
	for _, s := range []string{"«https://example.com»", "call +7 (999) 123-45-67!", "8 000 000 000 0", "anna@пример.рф",
		"请看https://example.com。", "www.example.org...", "(https://e.com/a_(b))", "8 916 123-45-67.5", "a@b@c.de"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		end := 0
		for _, sp := range findSpans(s, "RU", nil) {
			if sp.start < end || sp.end <= sp.start || sp.end > len(s) || !utf8.ValidString(s[sp.start:sp.end]) && utf8.ValidString(s) {
				t.Fatalf("findSpans(%q): bad span %+v after %d", s, sp, end)
			}
			if sp.kind == "phone" && (sp.target[0] != '+' || len(sp.target) > 16) {
				t.Fatalf("findSpans(%q): phone target %q", s, sp.target)
			}
			end = sp.end
		}
	})
}
