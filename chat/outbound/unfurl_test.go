package outbound_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"

	"golang.org/x/text/encoding/charmap"

	"github.com/korobka/korobka/chat"
	"github.com/korobka/korobka/chat/outbound"
)

func TestParsePage(t *testing.T) {
	cp1251, err := charmap.Windows1251.NewEncoder().String(`<html><head><meta charset="windows-1251"><title>Новости дня</title></head></html>`)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, doc, charset string
		want               outbound.Page
	}{
		{"open graph wins", `<head><title>T</title><meta name="twitter:title" content="TW"><meta property="og:title" content="OG">
			<meta name="description" content="plain"><meta name="twitter:description" content="tw desc">
			<meta property="og:site_name" content="Site"><meta property="og:image" content="/i.png"></head>`, "",
			outbound.Page{SiteName: "Site", Title: "OG", Description: "tw desc", Image: "/i.png"}},
		{"twitter card", `<meta name="twitter:title" content="TW"><meta name="twitter:image" content="https://cdn.example/x.jpg">`, "",
			outbound.Page{Title: "TW", Image: "https://cdn.example/x.jpg"}},
		{"title and description", `<html><head><TITLE> A &amp; B </TITLE><meta name="Description" content="about"></head>`, "",
			outbound.Page{Title: "A & B", Description: "about"}},
		{"first tag of a kind", `<meta property="og:title" content="one"><meta property="og:title" content="two">`, "",
			outbound.Page{Title: "one"}},
		{"stops at body", `<head><title>T</title></head><body><meta property="og:title" content="late">`, "",
			outbound.Page{Title: "T"}},
		{"meta charset", cp1251, "", outbound.Page{Title: "Новости дня"}},
		{"header charset", string(must1251(t, `<title>Привет</title>`)), "windows-1251", outbound.Page{Title: "Привет"}},
		{"not html", "\x00\x01\x02", "", outbound.Page{}},
	} {
		if got := outbound.ParsePage([]byte(tc.doc), tc.charset); got != tc.want {
			t.Errorf("%s: got %+v, want %+v", tc.name, got, tc.want)
		}
	}
}

func must1251(t *testing.T, s string) []byte {
	b, err := charmap.Windows1251.NewEncoder().Bytes([]byte(s))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestUnfurler(t *testing.T) {
	forbidden := newSite(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "image/png")
		w.Write([]byte("\x89PNG"))
	})
	fixture := newSite(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/page":
			html(`<head><meta property="og:title" content="Hello"><meta property="og:image" content="img/a.png"></head>`)(w, r)
		case "/internal-image":
			html(`<head><meta property="og:title" content="Hello"><meta property="og:image" content="`+forbidden.URL+`/x.png"></head>`)(w, r)
		case "/html-image":
			html(`<head><meta property="og:title" content="Hello"><meta property="og:image" content="/page"></head>`)(w, r)
		case "/img/a.png":
			w.Header().Set("Content-Type", "image/png")
			w.Write([]byte("\x89PNG fake"))
		default:
			http.NotFound(w, r)
		}
	})
	u := outbound.NewUnfurler(outbound.New(outbound.Config{Allow: outbound.MustAllow(fixture.hostPort())}))
	ctx := context.Background()
	got, err := u.Unfurl(ctx, fixture.URL+"/page")
	if err != nil || got.Title != "Hello" || string(got.Image) != "\x89PNG fake" || got.SiteName != "127.0.0.1" {
		t.Fatalf("page: got %+v, %v", got, err)
	}
	for _, p := range []string{"/internal-image", "/html-image"} {
		got, err := u.Unfurl(ctx, fixture.URL+p)
		if err != nil || got.Title != "Hello" || got.Image != nil {
			t.Errorf("%s: got %+v, %v; want the card without an image", p, got, err)
		}
	}
	if forbidden.hits.Load() != 0 {
		t.Error("the forbidden server was reached for an image")
	}
	if _, err := u.Unfurl(ctx, forbidden.URL); !errors.Is(err, chat.ErrLinkRefused) {
		t.Errorf("a refused page: got %v, want chat.ErrLinkRefused", err)
	}
	if _, err := u.Unfurl(ctx, fixture.URL+"/missing"); err == nil || errors.Is(err, chat.ErrLinkRefused) {
		t.Errorf("a missing page: got %v, want an error that is not a refusal", err)
	}
}

// FuzzParsePage: any bytes in any declared charset parse without panic,
// in time linear in their length.
func FuzzParsePage(f *testing.F) {
	f.Add([]byte(`<head><meta property="og:title" content="x"><title>t</title></head>`), "")
	f.Add([]byte(`<meta charset="koi8-r"><title>\xf0\xd2\xc9</title>`), "")
	f.Add([]byte("<title><title></title"), "utf-16")
	f.Fuzz(func(t *testing.T, doc []byte, cs string) {
		p := outbound.ParsePage(doc, cs)
		_ = p
	})
}

// BenchmarkParsePage reads a page of 1 MiB (the body cap) whose tags are
// in the head, and one whose head is all 1 MiB of scripts.
func BenchmarkParsePage(b *testing.B) {
	head := `<html><head><meta charset="utf-8"><title>T</title><meta property="og:title" content="OG">` +
		`<meta property="og:description" content="Описание страницы"><meta property="og:image" content="/i.png">`
	for _, tc := range []struct{ name, doc string }{
		{"tags_first", head + `</head><body>` + strings.Repeat("<p>текст абзаца</p>", 1<<20/30) + `</body></html>`},
		{"scripts_head", `<html><head>` + strings.Repeat("<script>var x = 1;</script>", 1<<20/27) + head + `</head></html>`},
	} {
		b.Run(tc.name, func(b *testing.B) {
			doc := []byte(tc.doc)
			b.SetBytes(int64(len(doc)))
			b.ReportAllocs()
			for b.Loop() {
				if p := outbound.ParsePage(doc, ""); p.Title != "OG" {
					b.Fatalf("got %+v", p)
				}
			}
		})
	}
}
