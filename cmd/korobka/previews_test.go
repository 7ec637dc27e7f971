package main

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/korobka/korobka/chat/chattest"
)

// previewSites are the two local servers of the preview tests: a fixture
// site the server is allowed to fetch, and a forbidden one on loopback
// that stands for the server's own network and must never be reached.
type previewSites struct {
	fixture, forbidden *httptest.Server
	forbiddenHits      atomic.Int64
}

func newPreviewSites(t *testing.T) *previewSites {
	t.Helper()
	s := &previewSites{}
	var img bytes.Buffer
	m := image.NewRGBA(image.Rect(0, 0, 40, 30))
	for x := range 40 {
		for y := range 30 {
			m.Set(x, y, color.RGBA{uint8(x * 6), uint8(y * 8), 200, 255})
		}
	}
	if err := png.Encode(&img, m); err != nil {
		t.Fatal(err)
	}
	s.fixture = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/article":
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			fmt.Fprint(w, `<!doctype html><html><head><title>Fallback</title>
<meta property="og:site_name" content="Газета">
<meta property="og:title" content="Запуск  &amp; новости">
<meta property="og:description" content="Что нового в этом месяце&#x202E;: всё.">
<meta property="og:image" content="/img.png">
</head><body><p>text</p></body></html>`)
		case "/plain":
			w.Header().Set("Content-Type", "text/html")
			fmt.Fprint(w, `<html><head><title>Just a title</title></head><body></body></html>`)
		case "/img.png":
			w.Header().Set("Content-Type", "image/png")
			w.Write(img.Bytes())
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(s.fixture.Close)
	s.forbidden = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.forbiddenHits.Add(1)
		w.Header().Set("Content-Type", "text/html")
		fmt.Fprint(w, `<html><head><title>internal admin</title></head></html>`)
	}))
	t.Cleanup(s.forbidden.Close)
	return s
}

func (s *previewSites) fixtureHost() string { return strings.TrimPrefix(s.fixture.URL, "http://") }

func (s *previewSites) forbiddenPort() string {
	_, p, _ := net.SplitHostPort(strings.TrimPrefix(s.forbidden.URL, "http://"))
	return p
}

// loopbackResolver makes every name resolve to 127.0.0.1, as a hostile
// DNS answer would.
type loopbackResolver struct{}

func (loopbackResolver) LookupNetIP(context.Context, string, string) ([]netip.Addr, error) {
	return []netip.Addr{netip.MustParseAddr("127.0.0.1")}, nil
}

// previewBackends runs fn on both backends with previews on, the fixture
// site allowed and names resolving to loopback.
func previewBackends(t *testing.T, fn func(t *testing.T, e *env, s *previewSites)) {
	adjust := func(c *Config) { c.outboundResolver = loopbackResolver{} }
	run := func(t *testing.T, vars map[string]string) {
		s := newPreviewSites(t)
		vars["KOROBKA_LINK_PREVIEWS"] = "on"
		vars["KOROBKA_OUTBOUND_ALLOW"] = s.fixtureHost()
		fn(t, newEnvConfig(t, vars, adjust), s)
	}
	t.Run("sqlite+memory", func(t *testing.T) { run(t, map[string]string{}) })
	t.Run("mysql+redis", func(t *testing.T) {
		run(t, map[string]string{
			"KOROBKA_MYSQL_DSN":    chattest.MySQLDSN(t),
			"KOROBKA_REDIS_URL":    chattest.RedisURL(t),
			"KOROBKA_REDIS_PREFIX": chattest.RedisPrefix(t),
		})
	})
}

type previewMsg struct {
	Seq      int64  `json:"seq"`
	Change   int64  `json:"change"`
	ClientID string `json:"client_id"`
	Deleted  bool   `json:"deleted"`
	Preview  *struct {
		URL         string `json:"url"`
		SiteName    string `json:"site_name"`
		Title       string `json:"title"`
		Description string `json:"description"`
		Image       *struct {
			URL      string `json:"url"`
			ThumbURL string `json:"thumb_url"`
			Width    int    `json:"width"`
		} `json:"image"`
	} `json:"preview"`
}

// history reads a dialog's messages by client id.
func (e *env) previewHistory(token, dialogID string) map[string]previewMsg {
	e.t.Helper()
	var h struct{ Messages []previewMsg }
	e.want(e.do("GET", "/v1/dialogs/"+dialogID+"/messages?limit=200", token, nil), 200).json(e.t, &h)
	out := map[string]previewMsg{}
	for _, m := range h.Messages {
		out[m.ClientID] = m
	}
	return out
}

// waitHandled waits until the preview workers handled n jobs in all.
func (e *env) waitHandled(n int64) {
	e.t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for e.app.svc.PreviewStats().Handled < n {
		if time.Now().After(deadline) {
			e.t.Fatalf("preview jobs handled: %d, want %d", e.app.svc.PreviewStats().Handled, n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestLinkPreviews(t *testing.T) {
	previewBackends(t, func(t *testing.T, e *env, s *previewSites) {
		a, b, id := e.pair()
		b1 := dial(t, e.url, b.AccessToken)
		bChat := dial(t, e.url, b.AccessToken)
		bChat.watch("chat", map[string]any{"dialog_id": id}, "ru", "light")
		link := s.fixture.URL + "/article"

		sent := e.want(e.do("POST", "/v1/dialogs/"+id+"/messages", a.AccessToken,
			map[string]any{"client_id": "p-1", "text": "смотри " + link + " !"}), 201)
		if sent.field(t, "preview") != nil {
			t.Fatalf("the send answered with a preview: %s", sent.body)
		}
		change := int64(sent.field(t, "change").(float64))

		// The preview arrives as a change of the message.
		f := b1.waitFor("the message's preview", func(f map[string]any) bool {
			return messageWith("p-1")(f) && str(f, "message", "preview", "title") != ""
		})
		if got := str(f, "message", "preview", "title"); got != "Запуск & новости" {
			t.Errorf("title %q", got)
		}
		if got := str(f, "message", "preview", "description"); got != "Что нового в этом месяце: всё." {
			t.Errorf("description %q (a bidi override must be dropped)", got)
		}
		if got := str(f, "message", "preview", "site_name"); got != "Газета" {
			t.Errorf("site_name %q", got)
		}
		if got := str(f, "message", "preview", "url"); got != link {
			t.Errorf("url %q, want %q", got, link)
		}
		// A watched chat replaces the bubble with one that has the card.
		node := "msg-" + str(f, "message", "id")
		p := bChat.waitFor("bubble with the card", patchOp("chat:"+id, "replace", node))
		bubble := findOp(t, p, "chat:"+id, "replace", node)["node"]
		if !strings.Contains(fmt.Sprint(bubble), "open_url") || !strings.Contains(fmt.Sprint(bubble), "Запуск & новости") {
			t.Errorf("replaced bubble %v, want the link card", bubble)
		}
		h := e.previewHistory(a.AccessToken, id)
		m := h["p-1"]
		if m.Preview == nil || m.Preview.Image == nil || m.Change <= change {
			t.Fatalf("history: got %+v, want a preview with an image as a later change than %d", m, change)
		}
		img := e.getMedia(m.Preview.Image.URL)
		if img.status != 200 || img.header.Get("Content-Type") != "image/jpeg" || m.Preview.Image.Width != 40 {
			t.Fatalf("preview image: %d %s, width %d", img.status, img.header.Get("Content-Type"), m.Preview.Image.Width)
		}
		// A device that was away gets it from its change cursor.
		var since struct{ Messages []previewMsg }
		e.want(e.do("GET", "/v1/dialogs/"+id+"/messages?since="+strconv.FormatInt(change, 10), b.AccessToken, nil), 200).json(t, &since)
		if len(since.Messages) != 1 || since.Messages[0].Preview == nil {
			t.Fatalf("since %d: got %+v, want the message with its preview", change, since.Messages)
		}

		// Opting out, over REST and over the WebSocket: no job at all.
		optedOut := map[string]int64{}
		r := e.want(e.do("POST", "/v1/dialogs/"+id+"/messages", a.AccessToken,
			map[string]any{"client_id": "p-2", "text": link, "preview": false}), 201)
		optedOut["p-2"] = int64(r.field(t, "change").(float64))
		a1 := dial(t, e.url, a.AccessToken)
		a1.send(map[string]any{"type": "send", "id": "w", "dialog_id": id, "client_id": "p-3", "text": link, "preview": false})
		optedOut["p-3"], _ = strconv.ParseInt(str(a1.waitFor("reply", replyTo("w")), "message", "change"), 10, 64)
		// A page with a title only, once the cache serves the article.
		e.want(e.do("POST", "/v1/dialogs/"+id+"/messages", a.AccessToken,
			map[string]any{"client_id": "p-4", "text": s.fixture.URL + "/plain"}), 201)
		e.want(e.do("POST", "/v1/dialogs/"+id+"/messages", a.AccessToken,
			map[string]any{"client_id": "p-5", "text": "again " + link}), 201)
		e.waitHandled(3)
		h = e.previewHistory(a.AccessToken, id)
		for c, change := range optedOut {
			if h[c].Preview != nil || h[c].Change != change || change == 0 {
				t.Errorf("%s opted out: got %+v, want no preview and change %d", c, h[c], change)
			}
		}
		if p := h["p-4"].Preview; p == nil || p.Title != "Just a title" || p.Image != nil || p.SiteName != "127.0.0.1" {
			t.Errorf("title-only page: got %+v", p)
		}
		if p := h["p-5"].Preview; p == nil || p.Image == nil || p.Image.URL == m.Preview.Image.URL {
			t.Errorf("cached page: got %+v, want its own image copy", p)
		}

		// Deleting the message removes its preview and the image's files.
		e.want(e.do("DELETE", "/v1/dialogs/"+id+"/messages/"+strconv.FormatInt(m.Seq, 10), a.AccessToken, nil), 200)
		if h := e.previewHistory(a.AccessToken, id); h["p-1"].Preview != nil {
			t.Errorf("deleted message keeps its preview: %+v", h["p-1"])
		}
		if r := e.getMedia(m.Preview.Image.URL); r.status != 404 {
			t.Errorf("deleted message's preview image: got %d, want 404", r.status)
		}
		if r := e.getMedia(h["p-5"].Preview.Image.URL); r.status != 200 {
			t.Errorf("another message's copy: got %d, want 200", r.status)
		}
	})
}

// TestLinkPreviewsRefuseInternalAddresses: links to loopback, its
// IPv4-mapped form or a name that resolves there get no preview, reach
// nothing and change nothing.
func TestLinkPreviewsRefuseInternalAddresses(t *testing.T) {
	previewBackends(t, func(t *testing.T, e *env, s *previewSites) {
		a, _, id := e.pair()
		port := s.forbiddenPort()
		links := []string{
			"http://127.0.0.1:" + port + "/admin",
			"http://[::ffff:127.0.0.1]:" + port + "/admin",
			"http://internal.example.com:" + port + "/admin", // resolves to 127.0.0.1
			"http://169.254.169.254/latest/meta-data/",
			"http://10.0.0.1/",
		}
		var last int64
		for i, l := range links {
			r := e.want(e.do("POST", "/v1/dialogs/"+id+"/messages", a.AccessToken,
				map[string]any{"client_id": "r-" + strconv.Itoa(i), "text": "look " + l}), 201)
			last = int64(r.field(t, "change").(float64))
		}
		e.waitHandled(int64(len(links)))
		if n := s.forbiddenHits.Load(); n != 0 {
			t.Fatalf("the forbidden server was reached %d times", n)
		}
		h := e.previewHistory(a.AccessToken, id)
		for i := range links {
			m := h["r-"+strconv.Itoa(i)]
			if m.Preview != nil || m.Change != last-int64(len(links)-1-i) {
				t.Errorf("%s: got %+v, want no preview and no change", links[i], m)
			}
		}
		var since struct{ Messages []previewMsg }
		e.want(e.do("GET", "/v1/dialogs/"+id+"/messages?since="+strconv.FormatInt(last, 10), a.AccessToken, nil), 200).json(t, &since)
		if len(since.Messages) != 0 {
			t.Errorf("changes after the sends: %+v", since.Messages)
		}
	})
}

// TestLinkPreviewsOff: KOROBKA_LINK_PREVIEWS=off fetches nothing.
func TestLinkPreviewsOff(t *testing.T) {
	s := newPreviewSites(t)
	e := newEnv(t, map[string]string{"KOROBKA_OUTBOUND_ALLOW": s.fixtureHost()}) // previews off, as tests default
	a, _, id := e.pair()
	e.want(e.do("POST", "/v1/dialogs/"+id+"/messages", a.AccessToken,
		map[string]any{"client_id": "o-1", "text": s.fixture.URL + "/article"}), 201)
	if st := e.app.svc.PreviewStats(); st.Handled != 0 || st.Dropped != 0 {
		t.Fatalf("previews off: %+v", st)
	}
}
