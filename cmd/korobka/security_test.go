package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"testing"

	"github.com/korobka/korobka/chat/chattest"
)

// backendsWith is backends with extra settings for both servers.
func backendsWith(t *testing.T, vars map[string]string, fn func(t *testing.T, e *env)) {
	t.Helper()
	with := func(more map[string]string) map[string]string {
		all := map[string]string{}
		for k, v := range vars {
			all[k] = v
		}
		for k, v := range more {
			all[k] = v
		}
		return all
	}
	t.Run("sqlite+memory", func(t *testing.T) { fn(t, newEnv(t, with(nil))) })
	t.Run("mysql+redis", func(t *testing.T) {
		fn(t, newEnv(t, with(map[string]string{
			"KOROBKA_MYSQL_DSN":    chattest.MySQLDSN(t),
			"KOROBKA_REDIS_URL":    chattest.RedisURL(t),
			"KOROBKA_REDIS_PREFIX": chattest.RedisPrefix(t),
		})))
	})
}

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
