package media

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"

	"github.com/korobka/korobka/chat"
)

func serve(t *testing.T, h http.Handler, method, target string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(method, target, nil)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

func TestHandlerServesAvatar(t *testing.T) {
	s := newTestStore(t, Limits{})
	key := save(t, s, encode(t, "png", pattern(300, 300)))
	h := s.Handler()
	for _, target := range []string{chat.AvatarURL(key), chat.AvatarThumbURL(key)} {
		want, err := os.ReadFile(filepath.Join(s.dir, target[len(URLPrefix):]))
		if err != nil {
			t.Fatal(err)
		}
		for _, method := range []string{http.MethodGet, http.MethodHead} {
			rec := serve(t, h, method, target)
			if rec.Code != http.StatusOK {
				t.Fatalf("%s %s: got status %d, want 200", method, target, rec.Code)
			}
			for name, want := range map[string]string{
				"Content-Type":           "image/jpeg",
				"X-Content-Type-Options": "nosniff",
				"Cache-Control":          "public, max-age=31536000, immutable",
			} {
				if got := rec.Header().Get(name); got != want {
					t.Errorf("%s %s: got %s %q, want %q", method, target, name, got, want)
				}
			}
			wantBody := want
			if method == http.MethodHead {
				wantBody = nil
			}
			if !bytes.Equal(rec.Body.Bytes(), wantBody) {
				t.Errorf("%s %s: got %d body bytes, want %d", method, target, rec.Body.Len(), len(wantBody))
			}
		}
	}
}

func TestHandlerRefuses(t *testing.T) {
	s := newTestStore(t, Limits{})
	key := save(t, s, encode(t, "png", pattern(10, 10)))
	outside := filepath.Dir(s.dir)
	write := func(name string, data string) {
		t.Helper()
		if err := os.WriteFile(name, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(filepath.Join(outside, "secret.jpg"), "secret")
	write(filepath.Join(s.dir, "avatars", ".tmp-123.jpg"), "half written")
	write(filepath.Join(s.dir, "page.html"), "<script>alert(1)</script>")
	write(filepath.Join(s.dir, "image.svg"), "<svg/>")
	if err := os.Mkdir(filepath.Join(s.dir, "folder.jpg"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(outside, "secret.jpg"), filepath.Join(s.dir, "link.jpg")); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name   string
		method string
		target string
		want   int
	}{
		{"root", "GET", "/media/", http.StatusNotFound},
		{"directory", "GET", "/media/avatars/", http.StatusNotFound},
		{"directory without slash", "GET", "/media/avatars", http.StatusNotFound},
		{"directory with image name", "GET", "/media/folder.jpg", http.StatusNotFound},
		{"missing", "GET", "/media/avatars/0123.jpg", http.StatusNotFound},
		{"dot dot", "GET", "/media/../secret.jpg", http.StatusNotFound},
		{"dot dot inside", "GET", "/media/avatars/../../secret.jpg", http.StatusNotFound},
		{"encoded dot dot", "GET", "/media/avatars/%2e%2e/%2e%2e/secret.jpg", http.StatusNotFound},
		{"encoded slash", "GET", "/media/..%2fsecret.jpg", http.StatusNotFound},
		{"double slash", "GET", "/media//" + key + ".jpg", http.StatusNotFound},
		{"dotfile", "GET", "/media/avatars/.tmp-123.jpg", http.StatusNotFound},
		{"html", "GET", "/media/page.html", http.StatusNotFound},
		{"svg", "GET", "/media/image.svg", http.StatusNotFound},
		{"symlink outside", "GET", "/media/link.jpg", http.StatusNotFound},
		{"other prefix", "GET", "/static/" + key + ".jpg", http.StatusNotFound},
		{"post", "POST", "/media/" + key + ".jpg", http.StatusMethodNotAllowed},
		{"delete", "DELETE", "/media/" + key + ".jpg", http.StatusMethodNotAllowed},
	}
	h := s.Handler()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := serve(t, h, tt.method, tt.target)
			if rec.Code != tt.want {
				t.Errorf("%s %s: got status %d, want %d", tt.method, tt.target, rec.Code, tt.want)
			}
			if got := rec.Header().Get("X-Content-Type-Options"); got != "nosniff" {
				t.Errorf("got nosniff header %q, want %q", got, "nosniff")
			}
			if got := rec.Header().Get("Cache-Control"); got != "" {
				t.Errorf("got Cache-Control %q on an error, want none", got)
			}
			if bytes.Contains(rec.Body.Bytes(), []byte("secret")) {
				t.Error("body leaks the file outside the folder")
			}
		})
	}
}
