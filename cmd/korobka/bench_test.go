package main

import (
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
// handler (decode, limits, user upsert, session insert, encode) for a fresh
// number each time, and reports the p50 and p99 latencies beside the mean.
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
	lat := make([]time.Duration, 0, b.N)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		body := fmt.Sprintf(`{"phone":"+7999%07d","code":"333333"}`, i)
		req := httptest.NewRequest("POST", "/v1/auth/verify", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
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

func newBenchHandler(b *testing.B, vars map[string]string) http.Handler {
	b.Helper()
	envv := map[string]string{
		"KOROBKA_DATA":        b.TempDir(),
		"KOROBKA_TEST_PHONES": "+7999*:333333",
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
