package media

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/korobka/korobka/chat"
)

// TestAttachmentRanges: attachments are served in byte ranges so that
// players seek and downloads resume: Range gives 206 with Content-Range,
// If-Range with the current validator keeps the range and with a stale one
// gives the whole file, and a range that starts past the end is 416.
func TestAttachmentRanges(t *testing.T) {
	s := newTestStore(t, Limits{})
	data := bytes.Repeat([]byte("0123456789"), 100) // 1,000 bytes
	m, err := s.SaveUpload(context.Background(), bytes.NewReader(data), "digits.txt")
	if err != nil {
		t.Fatal(err)
	}
	h := s.Handler(testSigner(t), testNow)
	url := "/media/" + m.Key + ".bin?" + testSigner(t).Query(m.Key, chat.MediaScope{Dialog: 7}, testNow())
	get := func(headers ...string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(http.MethodGet, url, nil)
		for i := 0; i+1 < len(headers); i += 2 {
			req.Header.Set(headers[i], headers[i+1])
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec
	}
	full := get()
	etag := full.Header().Get("ETag")
	if full.Code != http.StatusOK || full.Header().Get("Accept-Ranges") != "bytes" || etag == "" || etag[0] != '"' {
		t.Fatalf("got %d %v, want 200 with Accept-Ranges and a strong ETag", full.Code, full.Header())
	}
	for _, tc := range []struct {
		name    string
		headers []string
		code    int
		body    []byte
		crange  string
	}{
		{"first bytes", []string{"Range", "bytes=0-9"}, 206, data[:10], "bytes 0-9/1000"},
		{"middle", []string{"Range", "bytes=500-599"}, 206, data[500:600], "bytes 500-599/1000"},
		{"open end", []string{"Range", "bytes=990-"}, 206, data[990:], "bytes 990-999/1000"},
		{"suffix", []string{"Range", "bytes=-5"}, 206, data[995:], "bytes 995-999/1000"},
		{"end clipped", []string{"Range", "bytes=995-5000"}, 206, data[995:], "bytes 995-999/1000"},
		{"if-range etag", []string{"Range", "bytes=0-9", "If-Range", etag}, 206, data[:10], "bytes 0-9/1000"},
		{"if-range date", []string{"Range", "bytes=0-9", "If-Range", full.Header().Get("Last-Modified")}, 206, data[:10], "bytes 0-9/1000"},
		{"if-range stale", []string{"Range", "bytes=0-9", "If-Range", `"something-else"`}, 200, data, ""},
		{"past the end", []string{"Range", "bytes=1000-1010"}, 416, nil, "bytes */1000"},
		{"far past the end", []string{"Range", "bytes=5000-"}, 416, nil, "bytes */1000"},
		{"not modified", []string{"If-None-Match", etag}, 304, nil, ""},
	} {
		rec := get(tc.headers...)
		if rec.Code != tc.code || rec.Header().Get("Content-Range") != tc.crange ||
			tc.body != nil && !bytes.Equal(rec.Body.Bytes(), tc.body) {
			t.Errorf("%s: got %d %q (%d bytes), want %d %q (%d bytes)", tc.name, rec.Code,
				rec.Header().Get("Content-Range"), rec.Body.Len(), tc.code, tc.crange, len(tc.body))
		}
		if got := rec.Header().Get("X-Content-Type-Options"); got != "nosniff" {
			t.Errorf("%s: nosniff missing", tc.name)
		}
	}
	// A range on an unsigned URL is refused before anything is read.
	req := httptest.NewRequest(http.MethodGet, "/media/"+m.Key+".bin", nil)
	req.Header.Set("Range", "bytes=0-9")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusForbidden {
		t.Errorf("unsigned range: got %d, want 403", rec.Code)
	}
}
