package httpapi

import (
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/korobka/korobka/chat/live"
	"github.com/korobka/korobka/renderer"
	"github.com/korobka/korobka/screens"
)

// webServer serves the static surface alone: the shell, its assets and the
// preview page need no chat service.
type webServer struct{ url string }

func newWebServer(t *testing.T) webServer {
	t.Helper()
	eng, _, err := renderer.Load(screens.FS)
	if err != nil {
		t.Fatal(err)
	}
	images, err := fs.Sub(screens.FS, "images")
	if err != nil {
		t.Fatal(err)
	}
	h, err := NewServer(Deps{Preview: live.NewPreview(live.Fixed{Engine: eng}, screens.FS), Images: images})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return webServer{url: srv.URL}
}

type response struct {
	status int
	header http.Header
	body   []byte
}

// get fetches url without following redirects.
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

func TestWebShellFiles(t *testing.T) {
	e := newWebServer(t)
	for _, tc := range []struct{ path, location string }{
		{"/", "/app/"},
		{"/app", "/app/"},
		{"/preview", "/preview/"},
	} {
		r := get(t, e.url+tc.path, nil)
		if r.status/100 != 3 || r.header.Get("Location") != tc.location {
			t.Errorf("GET %s: got %d to %q, want a redirect to %s", tc.path, r.status, r.header.Get("Location"), tc.location)
		}
	}

	index := get(t, e.url+"/app/", nil)
	if index.status != 200 || !strings.Contains(string(index.body), `<script type="module" src="app.js">`) {
		t.Fatalf("GET /app/: got %d %.200s, want index.html", index.status, index.body)
	}
	meta := cspMeta.FindSubmatch(index.body)
	if meta == nil {
		t.Fatal("index.html has no CSP meta tag")
	}
	for k, want := range map[string]string{
		"Content-Type":            "text/html; charset=utf-8",
		"Cache-Control":           "no-cache",
		"X-Content-Type-Options":  "nosniff",
		"Content-Security-Policy": string(meta[1]) + "; frame-ancestors 'none'",
	} {
		if got := index.header.Get(k); got != want {
			t.Errorf("GET /app/ %s = %q, want %q", k, got, want)
		}
	}
	etag := index.header.Get("ETag")
	if !strings.HasPrefix(etag, `"`) {
		t.Fatalf("GET /app/ ETag = %q, want a strong ETag", etag)
	}
	if r := get(t, e.url+"/app/", map[string]string{"If-None-Match": etag}); r.status != http.StatusNotModified {
		t.Errorf("GET /app/ with If-None-Match: got %d, want 304", r.status)
	}

	for file, typ := range map[string]string{
		"app.js":       "text/javascript; charset=utf-8",
		"style.css":    "text/css; charset=utf-8",
		"icon.svg":     "image/svg+xml",
		"index.html":   "text/html; charset=utf-8",
		"preview.html": "text/html; charset=utf-8",
	} {
		r := get(t, e.url+"/app/"+file, nil)
		if r.status != 200 || r.header.Get("Content-Type") != typ || r.header.Get("ETag") == "" ||
			r.header.Get("Cache-Control") != "no-cache" || r.header.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("GET /app/%s: got %d %v, want 200 %s with ETag, no-cache and nosniff", file, r.status, r.header, typ)
		}
	}
	// The screens folder's images/: the logo, pictures of content.
	for _, p := range []string{"/assets/logo.svg", "/assets/logo-dark.svg", "/assets/samples/news-launch.svg"} {
		r := get(t, e.url+p, nil)
		if r.status != 200 || r.header.Get("Content-Type") != "image/svg+xml" || r.header.Get("ETag") == "" {
			t.Errorf("GET %s: got %d %s, want the image with an ETag", p, r.status, r.header.Get("Content-Type"))
			continue
		}
		if n := get(t, e.url+p, map[string]string{"If-None-Match": r.header.Get("ETag")}); n.status != http.StatusNotModified {
			t.Errorf("GET %s with If-None-Match: got %d, want 304", p, n.status)
		}
	}
	for _, p := range []string{"/assets/app.js", "/assets/../theme.yaml", "/assets/%2e%2e/theme.yaml", "/assets/nope.svg", "/app/nope.js", "/app/../go.mod", "/app/%2e%2e/go.mod", "/app/web/app.js"} {
		if r := get(t, e.url+p, nil); r.status != 404 {
			t.Errorf("GET %s: got %d, want 404", p, r.status)
		}
	}
	page := get(t, e.url+"/preview/", nil)
	if page.status != 200 || !strings.Contains(string(page.body), `src="preview.js"`) || page.header.Get("Content-Security-Policy") == "" {
		t.Errorf("GET /preview/: got %d %.100s, want preview.html with a CSP", page.status, page.body)
	}
	if r := get(t, e.url+"/preview/render.js", nil); r.status != 200 {
		t.Errorf("GET /preview/render.js: got %d, want the shell's module", r.status)
	}
}
