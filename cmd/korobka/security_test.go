package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"
)

// The end-to-end tests of the limits and defences in docs/operations.md,
// "Security": each drives the real server as an attacker would.

// doHeader is e.do with extra request headers; values of one name are sent
// as separate header lines, in order.
func (e *env) doHeader(method, path, token string, body any, hdr http.Header) response {
	e.t.Helper()
	var rd io.Reader
	if body != nil {
		data, err := json.Marshal(body)
		if err != nil {
			e.t.Fatal(err)
		}
		rd = bytes.NewReader(data)
	}
	req, err := http.NewRequest(method, e.url+path, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for k, vs := range hdr {
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	data, err := io.ReadAll(res.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	if err := theContract(e.t).ValidateHTTP(method, req.URL.Path, res.StatusCode, res.Header, data); err != nil {
		e.t.Errorf("%s %s: the answer breaks schemas/openapi.yaml: %v\n%.300s", method, path, err, data)
	}
	return response{res.StatusCode, res.Header, data}
}

// TestClientAddressFromTrustedHopsOnly: the per-address login limit (10
// code requests at once) counts the client the trusted proxies saw, and a
// client that writes X-Real-IP or X-Forwarded-For itself, or steps through
// the addresses of its IPv6 /64, stays in one bucket.
func TestClientAddressFromTrustedHopsOnly(t *testing.T) {
	const perAddress = 10 // docs/api.md: 10 codes at once per client address
	phone := 0
	// codesUntilLimited requests codes for fresh numbers with the headers
	// of attempt i and returns how many were sent before the first 429.
	codesUntilLimited := func(e *env, hdr func(i int) http.Header) int {
		t.Helper()
		return e.untilLimited(3*perAddress, 200, func(i int) response {
			phone++
			return e.doHeader("POST", "/v1/auth/otp", "", map[string]string{"phone": fmt.Sprintf("+7916%07d", phone)}, hdr(i))
		})
	}
	spoofs := map[string]func(i int) http.Header{
		"X-Real-IP": func(i int) http.Header {
			return http.Header{"X-Real-Ip": {fmt.Sprintf("198.51.100.%d", i)}}
		},
		"own X-Forwarded-For line": func(i int) http.Header {
			return http.Header{"X-Forwarded-For": {fmt.Sprintf("198.51.100.%d", i), "203.0.113.1"}}
		},
		"left X-Forwarded-For entries": func(i int) http.Header {
			return http.Header{"X-Forwarded-For": {fmt.Sprintf("198.51.100.%d, 203.0.113.2", i)}}
		},
		"addresses of one IPv6 /64": func(i int) http.Header {
			return http.Header{"X-Forwarded-For": {fmt.Sprintf("2001:db8:7:7::%x", i+1)}}
		},
	}
	// Behind a trusted proxy: the test client stands in for the proxy on
	// 127.0.0.1, which appends the client it saw to X-Forwarded-For.
	t.Run("trusted proxy", func(t *testing.T) {
		backendsWith(t, map[string]string{"KOROBKA_TRUSTED_PROXIES": "127.0.0.1"}, func(t *testing.T, e *env) {
			for name, hdr := range spoofs {
				if n := codesUntilLimited(e, hdr); n != perAddress {
					t.Errorf("%s: %d codes before 429, want %d", name, n, perAddress)
				}
			}
			// Clients the proxy tells apart are limited apart.
			for i := range perAddress + 1 {
				e.want(e.doHeader("POST", "/v1/auth/otp", "", map[string]string{"phone": fmt.Sprintf("+7916%07d", 900+i)},
					http.Header{"X-Forwarded-For": {fmt.Sprintf("192.0.2.%d", i+1)}}), 200)
			}
		})
	})
	t.Run("no trusted proxy", func(t *testing.T) {
		backendsWith(t, nil, func(t *testing.T, e *env) {
			n := codesUntilLimited(e, func(i int) http.Header {
				return http.Header{
					"X-Real-Ip":       {fmt.Sprintf("198.51.100.%d", i)},
					"X-Forwarded-For": {fmt.Sprintf("198.51.100.%d", i)},
				}
			})
			if n != perAddress {
				t.Errorf("%d codes before 429 with forged headers, want %d", n, perAddress)
			}
		})
	})
}

// metricSeries returns the korobka_http_* series lines of a /metrics page.
func metricSeries(t *testing.T, base string) []string {
	t.Helper()
	res, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	if res.StatusCode != 200 {
		t.Fatalf("GET /metrics: %d %s", res.StatusCode, body)
	}
	var series []string
	for _, line := range strings.Split(string(body), "\n") {
		if strings.HasPrefix(line, "korobka_http_") {
			series = append(series, line)
		}
	}
	return series
}

// TestMetricsLabelsStayBounded: requests with invented methods, paths and
// headers add no series; every label value is one the server chose.
func TestMetricsLabelsStayBounded(t *testing.T) {
	e := newEnv(t, nil)
	junk := func(i int) {
		for _, path := range []string{fmt.Sprintf("/junk-%d", i), fmt.Sprintf("/v1/dialogs/%d/x", i), "/healthz", "/v1/me"} {
			req, _ := http.NewRequest(fmt.Sprintf("M%d", i), e.url+path, nil)
			req.Header.Set("X-Forwarded-For", fmt.Sprintf("10.0.0.%d", i))
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
		}
	}
	// The first junk request of each shape may add the series it folds
	// into (and the first GET /metrics its own); the next 199 must add
	// none.
	metricSeries(t, e.url)
	junk(0)
	before := metricSeries(t, e.url)
	for i := 1; i < 200; i++ {
		junk(i)
	}
	after := metricSeries(t, e.url)
	if len(after) != len(before) {
		t.Errorf("199 junk requests grew the series from %d to %d lines", len(before), len(after))
	}
	for _, line := range after {
		if strings.Contains(line, `"M`) || strings.Contains(line, "junk") || strings.Contains(line, "/x") {
			t.Errorf("a client-chosen value became a label: %s", line)
			break
		}
	}
}

// TestMetricsOnTheirOwnAddress: with KOROBKA_METRICS_ADDR, /metrics is
// served there and not on the public address.
func TestMetricsOnTheirOwnAddress(t *testing.T) {
	addr, metricsAddr := freeAddr(t), freeAddr(t)
	env := map[string]string{
		"KOROBKA_ADDR":         addr,
		"KOROBKA_METRICS_ADDR": metricsAddr,
		"KOROBKA_DATA":         t.TempDir(),
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"korobka", "serve"}, func(k string) string { return env[k] }, io.Discard, io.Discard)
	}()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("run: %v", err)
		}
	}()
	waitHealthy(t, "http://"+addr, done)
	res, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 404 {
		t.Errorf("public GET /metrics: %d, want 404", res.StatusCode)
	}
	series := metricSeries(t, "http://"+metricsAddr)
	if !slices.ContainsFunc(series, func(s string) bool { return strings.Contains(s, `route="/healthz"`) }) {
		t.Errorf("the metrics listener lacks the public surface's series: %v", series)
	}
}

// slowRequest sends head (the request line and headers) at once, then the
// body one byte per tick, until the server closes the connection or the
// body is sent. It returns the status line the server answered ("" when it
// answered none) once the server has closed the connection.
func slowRequest(t *testing.T, base, head string, body []byte, tick time.Duration) string {
	t.Helper()
	conn, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := io.WriteString(conn, head); err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	wrote := make(chan struct{})
	go func() {
		defer close(wrote)
		tk := time.NewTicker(tick)
		defer tk.Stop()
		for i := range body {
			select {
			case <-stop:
				return
			case <-tk.C:
			}
			if _, err := conn.Write(body[i : i+1]); err != nil {
				return
			}
		}
	}()
	defer func() { close(stop); <-wrote }()
	// The test's own bound, far above the deadlines under test: a
	// connection still open then is held forever.
	conn.SetReadDeadline(time.Now().Add(20 * time.Second))
	answer, err := io.ReadAll(conn)
	if ne, ok := err.(net.Error); ok && ne.Timeout() {
		t.Fatalf("the server still holds the connection of a slow client after 20 s")
	}
	status, _, _ := strings.Cut(string(answer), "\r\n")
	return status
}

// TestSlowClientsAreCutOff: a body trickling in a byte at a time is cut
// off at its deadline (JSON) or when it falls under the minimum rate
// (uploads), and oversized headers are refused, on the real listener.
func TestSlowClientsAreCutOff(t *testing.T) {
	e := newEnvConfig(t, nil, func(c *Config) {
		c.bodyTimeout = 300 * time.Millisecond
		c.uploadMinRate = 2000
		c.uploadGrace = 300 * time.Millisecond
	})
	host := strings.TrimPrefix(e.url, "http://")
	body := []byte(`{"phone":"+79990000001"}` + strings.Repeat(" ", 200))
	head := fmt.Sprintf("POST /v1/auth/otp HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n", host, len(body))
	if status := slowRequest(t, e.url, head, body, 20*time.Millisecond); !strings.Contains(status, " 408 ") {
		t.Errorf("slow JSON body answered %q, want 408 and a closed connection", status)
	}

	tk := e.loginTest("+79990000001", "111111")
	ctype, upload := multipartFile("file", "notes.txt", bytes.Repeat([]byte("x"), 4000))
	head = fmt.Sprintf("POST /v1/uploads HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\nContent-Type: %s\r\nContent-Length: %d\r\n\r\n",
		host, tk.AccessToken, ctype, len(upload))
	// 100 bytes/s against a minimum of 2000.
	if status := slowRequest(t, e.url, head, upload, 10*time.Millisecond); !strings.Contains(status, " 408 ") {
		t.Errorf("slow upload answered %q, want 408 and a closed connection", status)
	}
	// An upload at a decent rate still arrives.
	r := e.doType("POST", "/v1/uploads", tk.AccessToken, ctype, upload)
	e.want(r, 201)

	// Headers over the cap are refused before any handler runs.
	req, _ := http.NewRequest("GET", e.url+"/healthz", nil)
	req.Header.Set("X-Padding", strings.Repeat("a", 40<<10))
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
		t.Errorf("40 KiB of headers: %d, want 431", res.StatusCode)
	}
}
