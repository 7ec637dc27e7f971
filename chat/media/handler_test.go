package media

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/korobka/korobka/chat"
)

// testNow is the handler's clock in tests: 10:30, so URLs signed now
// expire at 12:00.
func testNow() time.Time { return time.Date(2026, 5, 1, 10, 30, 0, 0, time.UTC) }

func testSigner(t testing.TB) *chat.MediaSigner {
	t.Helper()
	s, err := chat.NewMediaSigner([]byte("0123456789abcdef0123456789abcdef"))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

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
	h := s.Handler(testSigner(t), testNow)
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
	h := s.Handler(testSigner(t), testNow)
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

// TestAttachmentsServedOnlySigned: an attachment's files answer only a URL
// the server signed for its key, unaltered and unexpired, with a private
// cache that ends with the URL; the bare path that used to serve them, a
// forged or altered signature, another key's signature and an expired URL
// answer 403 (before the file is even looked for), a deleted file 404.
func TestAttachmentsServedOnlySigned(t *testing.T) {
	s := newTestStore(t, Limits{})
	signer := testSigner(t)
	h := s.Handler(signer, testNow)
	ctx := context.Background()
	m, err := s.SaveUpload(ctx, bytes.NewReader(encode(t, "png", pattern(40, 30))), "cat.png")
	if err != nil {
		t.Fatal(err)
	}
	other, err := s.SaveUpload(ctx, bytes.NewReader([]byte("notes")), "notes.txt")
	if err != nil {
		t.Fatal(err)
	}
	now := testNow()
	q := signer.Query(m.Key, chat.MediaScope{Dialog: 17}, now)
	for _, target := range []string{
		"/media/" + m.Key + ".jpg?" + q,
		"/media/" + m.Key + "_thumb.jpg?" + q,
		"/media/" + m.Key + ".jpg?" + signer.Query(m.Key, chat.MediaScope{Owner: 5}, now),
		// Signed in the previous hour: valid until the end of this one.
		"/media/" + m.Key + ".jpg?" + signer.Query(m.Key, chat.MediaScope{Dialog: 17}, now.Add(-time.Hour)),
	} {
		rec := serve(t, h, http.MethodGet, target)
		if rec.Code != 200 || rec.Header().Get("Content-Type") != "image/jpeg" || rec.Header().Get("X-Content-Type-Options") != "nosniff" {
			t.Fatalf("GET %s: %d %v", target, rec.Code, rec.Header())
		}
		if cc := rec.Header().Get("Cache-Control"); !strings.HasPrefix(cc, "private, max-age=") || strings.Contains(cc, "public") || strings.Contains(cc, "immutable") {
			t.Errorf("GET %s: Cache-Control %q, want private until expiry", target, cc)
		}
	}

	forged, _ := chat.NewMediaSigner([]byte("another secret, thirty-two bytes"))
	replace := func(q, old, new string) string { return strings.Replace(q, old, new, 1) }
	sig := q[strings.Index(q, "sig=")+4:]
	flipped := []byte(sig)
	flipped[0] ^= 1
	for _, tc := range []struct {
		name, target, code string
	}{
		{"unsigned, the old path", "/media/" + m.Key + ".jpg", "invalid_media_url"},
		{"unsigned thumbnail", "/media/" + m.Key + "_thumb.jpg", "invalid_media_url"},
		{"another dialog", "/media/" + m.Key + ".jpg?" + replace(q, "dialog=17", "dialog=18"), "invalid_media_url"},
		{"owner for dialog", "/media/" + m.Key + ".jpg?" + replace(q, "dialog=", "owner="), "invalid_media_url"},
		{"later expiry", "/media/" + m.Key + ".jpg?" + replace(q, "exp=", "exp=1"), "invalid_media_url"},
		{"altered signature", "/media/" + m.Key + ".jpg?" + replace(q, sig, string(flipped)), "invalid_media_url"},
		{"another key's signature", "/media/" + other.Key + ".bin?" + q, "invalid_media_url"},
		{"another secret", "/media/" + m.Key + ".jpg?" + forged.Query(m.Key, chat.MediaScope{Dialog: 17}, now), "invalid_media_url"},
		{"extra parameter", "/media/" + m.Key + ".jpg?" + q + "&x=1", "invalid_media_url"},
		{"repeated parameter", "/media/" + m.Key + ".jpg?" + q + "&dialog=17", "invalid_media_url"},
		{"expired", "/media/" + m.Key + ".jpg?" + signer.Query(m.Key, chat.MediaScope{Dialog: 17}, now.Add(-2*time.Hour)), "media_url_expired"},
		{"missing file, checked first", "/media/uploads/0123456789abcdef0123456789abcdef.jpg", "invalid_media_url"},
	} {
		rec := serve(t, h, http.MethodGet, tc.target)
		if rec.Code != http.StatusForbidden || strings.TrimSpace(rec.Body.String()) != tc.code || rec.Header().Get("Cache-Control") != "" {
			t.Errorf("%s: GET %s: %d %q %v, want 403 %s", tc.name, tc.target, rec.Code, rec.Body, rec.Header(), tc.code)
		}
	}

	// Once the files are deleted, the signed URL answers 404.
	if err := s.DeleteUpload(ctx, m.Key); err != nil {
		t.Fatal(err)
	}
	if rec := serve(t, h, http.MethodGet, "/media/"+m.Key+".jpg?"+q); rec.Code != 404 {
		t.Errorf("deleted: got %d, want 404", rec.Code)
	}
}

// TestCopyUpload: a copy has its own key and files; deleting either
// leaves the other whole.
func TestCopyUpload(t *testing.T) {
	s := newTestStore(t, Limits{})
	ctx := context.Background()
	for _, data := range [][]byte{encode(t, "png", pattern(40, 30)), []byte("notes")} {
		m, err := s.SaveUpload(ctx, bytes.NewReader(data), "x")
		if err != nil {
			t.Fatal(err)
		}
		c, err := s.CopyUpload(ctx, m.Key)
		if err != nil || c == m.Key || !strings.HasPrefix(c, uploadPrefix+"/") {
			t.Fatalf("CopyUpload(%s) = %q, %v", m.Key, c, err)
		}
		if err := s.DeleteUpload(ctx, m.Key); err != nil {
			t.Fatal(err)
		}
		for _, suffix := range map[bool][]string{true: {".jpg", "_thumb.jpg"}, false: {".bin", ".json"}}[m.Kind == chat.UploadImage] {
			if _, err := os.Stat(filepath.Join(s.dir, c+suffix)); err != nil {
				t.Errorf("copy %s after the original's deletion: %v", suffix, err)
			}
		}
	}
	if _, err := s.CopyUpload(ctx, "uploads/0123456789abcdef"); !errors.Is(err, chat.ErrNotFound) {
		t.Errorf("CopyUpload of a missing key: %v, want not found", err)
	}
	if _, err := s.CopyUpload(ctx, "avatars/../x"); chat.ErrorOf(err).Code != "invalid_media_key" {
		t.Errorf("CopyUpload of a bad key: %v, want invalid_media_key", err)
	}
}
