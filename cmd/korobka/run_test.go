package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/korobka/korobka/chat"
)

func TestMain(m *testing.M) {
	// The crash test re-runs this binary as a server it can kill -9.
	if os.Getenv("KOROBKA_TEST_CHILD") == "serve" {
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		err := run(ctx, []string{"korobka", "serve"}, os.Getenv, os.Stdout, os.Stderr)
		stop()
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	goleak.VerifyTestMain(m,
		// The HTTP client's idle connections and modernc's SQLite
		// finalisers outlive single tests by design.
		goleak.IgnoreTopFunction("net/http.(*persistConn).readLoop"),
		goleak.IgnoreTopFunction("net/http.(*persistConn).writeLoop"),
		goleak.IgnoreTopFunction("internal/poll.runtime_pollWait"),
	)
}

// freeAddr returns a loopback address that was free a moment ago.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// TestRunServesAndShutsDown runs the real program on the embedded default,
// as the README's first command does, and stops it as a signal would.
func TestRunServesAndShutsDown(t *testing.T) {
	addr := freeAddr(t)
	env := map[string]string{
		"KOROBKA_ADDR":        addr,
		"KOROBKA_DATA":        t.TempDir(),
		"KOROBKA_TEST_PHONES": "+79990000001:111111",
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"korobka", "serve"}, func(k string) string { return env[k] }, io.Discard, io.Discard)
	}()
	base := "http://" + addr
	waitHealthy(t, base, done)

	for _, path := range []string{"/readyz", "/metrics"} {
		res, err := http.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != 200 {
			t.Fatalf("GET %s: got %d %s", path, res.StatusCode, body)
		}
		if path == "/metrics" && !strings.Contains(string(body), `korobka_http_requests_total{method="GET",route="/healthz",status="200"}`) {
			t.Fatalf("metrics lack the request counter:\n%s", body)
		}
	}
	for _, step := range []struct{ path, body string }{
		{"/v1/auth/otp", `{"phone":"+79990000001"}`},
		{"/v1/auth/verify", `{"phone":"+79990000001","code":"111111"}`},
	} {
		res, err := http.Post(base+step.path, "application/json", strings.NewReader(step.body))
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != 200 {
			t.Fatalf("login, %s: got %d, want 200", step.path, res.StatusCode)
		}
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("run returned %v after shutdown", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("run did not return after its context ended")
	}
}

func waitHealthy(t *testing.T, base string, done <-chan error) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case err := <-done:
			t.Fatalf("run exited early: %v", err)
		default:
		}
		res, err := http.Get(base + "/healthz")
		if err == nil {
			res.Body.Close()
			if res.StatusCode == 200 {
				return
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatal("server did not become healthy")
}

func TestConfigErrorsNameTheVariable(t *testing.T) {
	cases := []struct {
		env  map[string]string
		args []string
		want string
	}{
		{map[string]string{"KOROBKA_ADDR": "nonsense"}, nil, "KOROBKA_ADDR"},
		{map[string]string{"KOROBKA_MYSQL_DSN": "not a dsn"}, nil, "KOROBKA_MYSQL_DSN"},
		{map[string]string{"KOROBKA_REDIS_URL": "http://x"}, nil, "KOROBKA_REDIS_URL"},
		{map[string]string{"KOROBKA_TEST_PHONES": "+79990000001:12"}, nil, "KOROBKA_TEST_PHONES"},
		{map[string]string{"KOROBKA_TEST_PHONES": "7999*:111111"}, nil, "KOROBKA_TEST_PHONES"},
		{map[string]string{"KOROBKA_REGION": "XX"}, nil, "KOROBKA_REGION"},
		{map[string]string{"KOROBKA_SMS_PROVIDER": "pigeon"}, nil, "KOROBKA_SMS_PROVIDER"},
		{map[string]string{"KOROBKA_SMS_PROVIDER": "smsru"}, nil, "KOROBKA_SMSRU_API_ID"},
		{map[string]string{"KOROBKA_ACCESS_TTL": "forever"}, nil, "KOROBKA_ACCESS_TTL"},
		{map[string]string{"KOROBKA_TRUSTED_PROXIES": "10.0.0.0/8,nope"}, nil, "KOROBKA_TRUSTED_PROXIES"},
		{map[string]string{"KOROBKA_LOG_LEVEL": "loud"}, nil, "KOROBKA_LOG_LEVEL"},
		{map[string]string{"KOROBKA_MEDIA_SECRET": "too short"}, nil, "KOROBKA_MEDIA_SECRET"},
		{map[string]string{"KOROBKA_METRICS_ADDR": "9090"}, nil, "KOROBKA_METRICS_ADDR"},
		{map[string]string{"KOROBKA_MAX_SOCKETS_PER_USER": "0"}, nil, "KOROBKA_MAX_SOCKETS_PER_USER"},
		{map[string]string{"KOROBKA_GROUP_MAX_MEMBERS": "1"}, nil, "KOROBKA_GROUP_MAX_MEMBERS"},
		{map[string]string{"KOROBKA_GROUP_MAX_PER_USER": "many"}, nil, "KOROBKA_GROUP_MAX_PER_USER"},
		{map[string]string{"KOROBKA_MAX_SOCKETS_PER_USER": "ten"}, nil, "KOROBKA_MAX_SOCKETS_PER_USER"},
		{map[string]string{"KOROBKA_COMMIT_LANES": "-1"}, nil, "KOROBKA_COMMIT_LANES"},
		{map[string]string{"KOROBKA_COMMIT_LANES": "65"}, nil, "KOROBKA_COMMIT_LANES"},
		{map[string]string{"KOROBKA_COMMIT_LANES": "many"}, nil, "KOROBKA_COMMIT_LANES"},
		{map[string]string{"KOROBKA_WS_RATE": "-1"}, nil, "KOROBKA_WS_RATE"},
		{map[string]string{"KOROBKA_PRESENCE_GRACE": "-1s"}, nil, "KOROBKA_PRESENCE_GRACE"},
		{map[string]string{"KOROBKA_PRESENCE_GRACE": "2m"}, nil, "KOROBKA_PRESENCE_GRACE"},
		{map[string]string{"KOROBKA_WS_BURST": "0"}, nil, "KOROBKA_WS_BURST"},
		{map[string]string{"KOROBKA_WS_HANDSHAKES_PER_ADDR": "many"}, nil, "KOROBKA_WS_HANDSHAKES_PER_ADDR"},
		{map[string]string{"KOROBKA_OUTBOUND_ALLOW": "localhost:8081"}, nil, "KOROBKA_OUTBOUND_ALLOW"},
		{map[string]string{"KOROBKA_MAX_VIDEO_BYTES": "1000"}, nil, "KOROBKA_MAX_VIDEO_BYTES"},
		{map[string]string{"KOROBKA_MAX_VIDEO_BYTES": "200MiB"}, nil, "KOROBKA_MAX_VIDEO_BYTES"},
		{map[string]string{"KOROBKA_MAX_VIDEO_BYTES": "8589934592"}, nil, "KOROBKA_MAX_VIDEO_BYTES"},
		{nil, []string{"--addr", "nonsense"}, "KOROBKA_ADDR"},
		{map[string]string{"KOROBKA_SCREENS": "/nonexistent/screens"}, nil, "KOROBKA_SCREENS: \"/nonexistent/screens\" does not exist"},
		{map[string]string{"KOROBKA_SCREENS": "."}, nil, "KOROBKA_SCREENS: \".\" is not a screens folder"},
		{nil, []string{"--screens", "/nonexistent/screens"}, "KOROBKA_SCREENS"},
		{map[string]string{"KOROBKA_BRAND": "acme"}, nil, "KOROBKA_BRAND: brand \"acme\": no themes/acme/theme.yaml"},
	}
	for _, c := range cases {
		_, err := parseConfig("serve", c.args, func(k string) string { return c.env[k] }, io.Discard)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("env %v args %v: got %v, want an error naming %s", c.env, c.args, err, c.want)
		}
	}
	// Flags win over the environment.
	cfg, err := parseConfig("serve", []string{"--addr", ":9999"}, func(k string) string {
		return map[string]string{"KOROBKA_ADDR": ":7777"}[k]
	}, io.Discard)
	if err != nil || cfg.Addr != ":9999" {
		t.Fatalf("got %q, %v; want the flag's :9999", cfg.Addr, err)
	}
}

func TestRunUsage(t *testing.T) {
	var out, errOut bytes.Buffer
	if err := run(context.Background(), []string{"korobka", "help"}, func(string) string { return "" }, &out, &errOut); err != nil || !strings.Contains(out.String(), "korobka serve") {
		t.Fatalf("help: got %v %q", err, out.String())
	}
	if err := run(context.Background(), []string{"korobka", "frobnicate"}, func(string) string { return "" }, &out, &errOut); err == nil {
		t.Fatal("unknown command: got nil error")
	}
}

func TestMigrateCommand(t *testing.T) {
	env := map[string]string{"KOROBKA_DATA": t.TempDir()}
	getenv := func(k string) string { return env[k] }
	var out bytes.Buffer
	if err := run(context.Background(), []string{"korobka", "migrate"}, getenv, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "applied") {
		t.Fatalf("first migrate printed %q, want the applied migrations", out.String())
	}
	out.Reset()
	if err := run(context.Background(), []string{"korobka", "migrate"}, getenv, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "up to date") {
		t.Fatalf("second migrate printed %q, want up to date", out.String())
	}
}

func TestAdminCommand(t *testing.T) {
	data := t.TempDir()
	env := map[string]string{"KOROBKA_DATA": data, "KOROBKA_TEST_PHONES": "+79990000001:111111"}
	getenv := func(k string) string { return env[k] }
	ctx := context.Background()
	var out bytes.Buffer
	// role needs a registered number; create makes one.
	if err := run(ctx, []string{"korobka", "admin", "role", "+79990000001", "admin"}, getenv, &out, io.Discard); err == nil {
		t.Fatal("role for an unknown number: got nil error")
	}
	if err := run(ctx, []string{"korobka", "admin", "create", "--phone", "8 999 000-00-01"}, getenv, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "+79990000001") || !strings.Contains(out.String(), "admin") {
		t.Fatalf("got %q", out.String())
	}
	cfg, err := parseConfig("serve", nil, getenv, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	a, err := openApp(ctx, cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.svc.RequestCode(ctx, "+79990000001", "127.0.0.1"); err != nil {
		t.Fatal(err)
	}
	auth, err := a.svc.Verify(ctx, "+79990000001", "111111", "127.0.0.1", "test")
	if err != nil {
		t.Fatal(err)
	}
	p, err := a.svc.Authenticate(ctx, auth.AccessToken)
	if err != nil || p.Role != chat.RoleAdmin {
		t.Fatalf("the created admin logs in as %q, %v; want admin", p.Role, err)
	}
	// A role change ends the user's sessions.
	out.Reset()
	if err := run(ctx, []string{"korobka", "admin", "role", "+79990000001", "operator"}, getenv, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	if _, err := a.svc.Authenticate(ctx, auth.AccessToken); err == nil {
		t.Fatal("a session from before the role change still works")
	}
	entries, err := a.store.Audit(ctx, chat.AuditFilter{TargetID: auth.User.ID}, 10)
	if err != nil || len(entries) != 2 || entries[0].Action != "user.role" || entries[1].Action != "user.create_admin" {
		t.Fatalf("audit: %+v, %v; want the role change and the creation", entries, err)
	}
	a.close()
	for _, args := range [][]string{
		{"korobka", "admin", "role", "+79990000001", "king"}, {"korobka", "admin", "role", "+79990000001"},
		{"korobka", "admin", "role", "nope", "admin"}, {"korobka", "admin", "create"}, {"korobka", "admin"},
		{"korobka", "admin", "create", "--phone", "nope"}, {"korobka", "role", "+79990000001", "admin"},
	} {
		if err := run(ctx, args, getenv, io.Discard, io.Discard); err == nil {
			t.Errorf("%v: got nil error", args)
		}
	}
}
