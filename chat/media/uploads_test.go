package media

import (
	"bytes"
	"context"
	"errors"
	"image/jpeg"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/korobka/korobka/chat"
)

func TestSaveUploadImage(t *testing.T) {
	s := newTestStore(t, Limits{})
	for _, tc := range []struct {
		format       string
		w, h         int
		wantW, wantH int
	}{
		{"png", 4096, 1024, 2048, 512}, // fitted into 2048
		{"gif", 100, 50, 100, 50},      // never enlarged
		{"jpeg", 1000, 3000, 682, 2048},
	} {
		m, err := s.SaveUpload(context.Background(), bytes.NewReader(encode(t, tc.format, pattern(tc.w, tc.h))), "x")
		if err != nil {
			t.Fatalf("%s: %v", tc.format, err)
		}
		if m.Kind != chat.UploadImage || m.Mime != "image/jpeg" || m.Width != tc.wantW || m.Height != tc.wantH ||
			!strings.HasPrefix(m.Key, "uploads/") {
			t.Fatalf("%s %dx%d: got %+v, want a %dx%d JPEG", tc.format, tc.w, tc.h, m, tc.wantW, tc.wantH)
		}
		full, err := os.ReadFile(filepath.Join(s.dir, m.Key+".jpg"))
		if err != nil || int64(len(full)) != m.Size {
			t.Fatalf("%s: full image %d bytes (%v), want %d", tc.format, len(full), err, m.Size)
		}
		th, err := os.Open(filepath.Join(s.dir, m.Key+"_thumb.jpg"))
		if err != nil {
			t.Fatal(err)
		}
		cfg, err := jpeg.DecodeConfig(th)
		th.Close()
		if err != nil || max(cfg.Width, cfg.Height) != min(320, max(tc.wantW, tc.wantH)) {
			t.Errorf("%s: thumbnail %+v (%v), want its long side 320 or less", tc.format, cfg, err)
		}
		if err := s.DeleteUpload(context.Background(), m.Key); err != nil {
			t.Fatal(err)
		}
		if _, err := os.Stat(filepath.Join(s.dir, m.Key+".jpg")); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s: after DeleteUpload: %v", tc.format, err)
		}
	}
}

func TestSaveUploadFile(t *testing.T) {
	s := newTestStore(t, Limits{})
	data := []byte("just some notes\n")
	m, err := s.SaveUpload(context.Background(), bytes.NewReader(data), `"quoted"; name.txt`)
	if err != nil {
		t.Fatal(err)
	}
	if m.Kind != chat.UploadFile || m.Mime != "text/plain; charset=utf-8" || m.Size != int64(len(data)) {
		t.Fatalf("got %+v, want a text file", m)
	}
	h := s.Handler(testSigner(t), testNow)
	url := "/media/" + m.Key + ".bin?" + testSigner(t).Query(m.Key, chat.MediaScope{Dialog: 7}, testNow())
	rec := serve(t, h, http.MethodGet, url)
	if rec.Code != 200 || !bytes.Equal(rec.Body.Bytes(), data) {
		t.Fatalf("GET: %d %q", rec.Code, rec.Body.Bytes())
	}
	for name, want := range map[string]string{
		"Content-Type":            "text/plain; charset=utf-8",
		"Content-Disposition":     "attachment; filename*=UTF-8''%22quoted%22%3B%20name.txt",
		"X-Content-Type-Options":  "nosniff",
		"Content-Security-Policy": "sandbox",
		"Cache-Control":           "private, max-age=5400", // until 12:00, the end of the next hour
	} {
		if got := rec.Header().Get(name); got != want {
			t.Errorf("%s: got %q, want %q", name, got, want)
		}
	}
	// The sidecar is not served, and a .bin without one is not either.
	if rec := serve(t, h, http.MethodGet, "/media/"+m.Key+".json?"+testSigner(t).Query(m.Key, chat.MediaScope{Dialog: 7}, testNow())); rec.Code != 404 {
		t.Errorf("sidecar: got %d, want 404", rec.Code)
	}
	if err := os.Remove(filepath.Join(s.dir, m.Key+".json")); err != nil {
		t.Fatal(err)
	}
	if rec := serve(t, h, http.MethodGet, url); rec.Code != 404 {
		t.Errorf("no sidecar: got %d, want 404", rec.Code)
	}
	// A .bin outside uploads/ is not a file the store writes.
	if err := os.WriteFile(filepath.Join(s.dir, "avatars", "x.bin"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	if rec := serve(t, h, http.MethodGet, "/media/avatars/x.bin"); rec.Code != 404 {
		t.Errorf("avatars/x.bin: got %d, want 404", rec.Code)
	}
}

func TestSaveUploadRefuses(t *testing.T) {
	s := newTestStore(t, Limits{})
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		data []byte
		code string
	}{
		{"empty", nil, "missing_file"},
		{"broken png", encode(t, "png", pattern(50, 50))[:60], "invalid_image"},
		{"over 25 MiB", bytes.Repeat([]byte{0}, chat.MaxUploadFileSize+1), "file_too_large"},
		{"over 25 MiB image", append(encode(t, "png", pattern(10, 10)), make([]byte, chat.MaxUploadFileSize)...), "file_too_large"},
	} {
		_, err := s.SaveUpload(ctx, bytes.NewReader(tc.data), "x")
		var ce *chat.Error
		if !errors.As(err, &ce) || ce.Code != tc.code {
			t.Errorf("%s: got %v, want %s", tc.name, err, tc.code)
		}
	}
	// Nothing was left behind, not even temp files.
	left, _ := os.ReadDir(filepath.Join(s.dir, "uploads"))
	if len(left) != 0 {
		t.Errorf("uploads/ holds %d entries after refusals, want 0", len(left))
	}
}
