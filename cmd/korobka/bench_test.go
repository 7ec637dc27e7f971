package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/korobka/korobka/chat/chattest"
)

// BenchmarkLogin measures POST /v1/auth/verify end to end through the HTTP
// handler (decode, limits, code check, user upsert, session insert, encode)
// for a fresh number each time, and reports the p50 and p99 latencies
// beside the mean. The codes are requested before the timer starts.
func BenchmarkLogin(b *testing.B) {
	b.Run("sqlite+memory", func(b *testing.B) { benchLogin(b, nil) })
	b.Run("mysql+redis", func(b *testing.B) {
		benchLogin(b, map[string]string{
			"KOROBKA_MYSQL_DSN":    chattest.MySQLDSN(b),
			"KOROBKA_REDIS_URL":    chattest.RedisURL(b),
			"KOROBKA_REDIS_PREFIX": chattest.RedisPrefix(b),
		})
	})
}

func benchLogin(b *testing.B, vars map[string]string) {
	h := newBenchHandler(b, vars)
	for i := 0; i < b.N; i++ {
		if rec := benchCall(h, "POST", "/v1/auth/otp", "", fmt.Sprintf(`{"phone":"+7999%07d"}`, i)); rec.Code != 200 {
			b.Fatalf("code request: got %d %s", rec.Code, rec.Body)
		}
	}
	lat := make([]time.Duration, 0, b.N)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		body := fmt.Sprintf(`{"phone":"+7999%07d","code":"333333"}`, i)
		req := httptest.NewRequest("POST", "/v1/auth/verify", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.RemoteAddr = benchAddr
		rec := httptest.NewRecorder()
		start := time.Now()
		h.ServeHTTP(rec, req)
		lat = append(lat, time.Since(start))
		if rec.Code != 200 {
			b.Fatalf("got %d %s", rec.Code, rec.Body)
		}
	}
	b.StopTimer()
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
}

// benchAddr is where benchmark requests come from: loopback, as korobka
// bench's do, so that the server's loopback exemption lets thousands of
// logins through.
const benchAddr = "127.0.0.1:40000"

// benchCall sends one request from benchAddr straight to h.
func benchCall(h http.Handler, method, path, token, body string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	req.RemoteAddr = benchAddr
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

func newBenchHandler(b *testing.B, vars map[string]string) http.Handler {
	b.Helper()
	envv := map[string]string{
		"KOROBKA_DATA":               b.TempDir(),
		"KOROBKA_TEST_PHONES":        "+7999*:333333",
		"KOROBKA_LOOPBACK_UNLIMITED": "1",
	}
	for k, v := range vars {
		envv[k] = v
	}
	cfg, err := parseConfig("serve", nil, func(k string) string { return envv[k] }, nil)
	if err != nil {
		b.Fatal(err)
	}
	a, err := openApp(b.Context(), cfg, nil)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(a.close)
	a.start()
	h, err := a.handler(cfg)
	if err != nil {
		b.Fatal(err)
	}
	return h
}

// BenchmarkScreenChat measures GET /v1/screens/chat for a dialog with 50
// messages through the whole handler (token lookup, data fetch, ETag,
// render), and the same request answered 304 from If-None-Match.
func BenchmarkScreenChat(b *testing.B) {
	h := newBenchHandler(b, nil)
	call := func(method, path, token, body string) *httptest.ResponseRecorder {
		return benchCall(h, method, path, token, body)
	}
	login := func(phone string) (token, id string) {
		var a struct {
			AccessToken string `json:"access_token"`
			User        struct {
				ID string `json:"id"`
			} `json:"user"`
		}
		if rec := call("POST", "/v1/auth/otp", "", `{"phone":"`+phone+`"}`); rec.Code != 200 {
			b.Fatalf("code request: %d %s", rec.Code, rec.Body)
		}
		rec := call("POST", "/v1/auth/verify", "", `{"phone":"`+phone+`","code":"333333"}`)
		if err := json.Unmarshal(rec.Body.Bytes(), &a); err != nil || a.AccessToken == "" {
			b.Fatalf("login: %d %s", rec.Code, rec.Body)
		}
		return a.AccessToken, a.User.ID
	}
	ta, _ := login("+79990000001")
	_, idB := login("+79990000002")
	var d struct{ ID string }
	if err := json.Unmarshal(call("POST", "/v1/dialogs", ta, `{"user_id":"`+idB+`"}`).Body.Bytes(), &d); err != nil {
		b.Fatal(err)
	}
	for i := 0; i < 50; i++ {
		if rec := call("POST", "/v1/dialogs/"+d.ID+"/messages", ta, fmt.Sprintf(`{"client_id":"b%d","text":"message number %d with https://example.com"}`, i, i)); rec.Code != 201 {
			b.Fatalf("send: %d %s", rec.Code, rec.Body)
		}
	}
	path := "/v1/screens/chat?dialog_id=" + d.ID
	first := call("GET", path, ta, "")
	if first.Code != 200 {
		b.Fatalf("screen: %d %s", first.Code, first.Body)
	}
	etag := first.Header().Get("ETag")
	b.Run("200", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if rec := call("GET", path, ta, ""); rec.Code != 200 {
				b.Fatalf("got %d", rec.Code)
			}
		}
	})
	b.Run("304", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			req := httptest.NewRequest("GET", path, nil)
			req.Header.Set("Authorization", "Bearer "+ta)
			req.Header.Set("If-None-Match", etag)
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != 304 {
				b.Fatalf("got %d", rec.Code)
			}
		}
	})
}
