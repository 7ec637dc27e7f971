package loadgen

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// shortConfig is a run small and short enough for a unit test; the waits
// that production keeps long are cut to milliseconds.
func shortConfig(url string) Config {
	return Config{
		URL: url, Pairs: 4, Idle: 2, Duration: 300 * time.Millisecond, Warmup: 50 * time.Millisecond,
		Code: "111111", drainTimeout: 5 * time.Second, rssSettle: 20 * time.Millisecond,
	}
}

func TestRunAgainstFake(t *testing.T) {
	tests := []struct {
		name   string
		adjust func(*Config)
	}{
		{"closed loop", func(*Config) {}},
		{"closed loop with receipts and RSS", func(c *Config) {
			c.Delivered = true
			c.ServerPID = os.Getpid() // the fake runs in this process
		}},
		{"paced", func(c *Config) { c.Rate = 400; c.Window = 4 }},
		{"paced with receipts", func(c *Config) { c.Rate = 2000; c.Delivered = true; c.BodySize = 40 }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeServer(t, 0, 0)
			cfg := shortConfig(f.URL)
			tt.adjust(&cfg)
			var out bytes.Buffer
			res, err := Run(context.Background(), cfg, &out)
			if err != nil {
				t.Fatalf("Run: %v\n%s", err, out.String())
			}
			if res.Delivered == 0 {
				t.Fatalf("got 0 delivered messages, want some\n%s", out.String())
			}
			checks := []struct {
				name      string
				got, want int64
			}{
				{"users", int64(res.Users), 10},
				{"dialogs", int64(res.Dialogs), 4},
				{"active conns", int64(res.ActiveConns), 8},
				{"idle conns", int64(res.IdleConns), 2},
				{"conns lost", int64(res.ConnsLost), 0},
				{"duplicates", res.Duplicates, 0},
				{"gaps", res.Gaps, 0},
				{"undelivered", res.Undelivered, 0},
				{"unanswered", res.Unanswered, 0},
				{"stray", res.Stray, 0},
				{"replies", res.Replies, res.Sent},
				{"stored by the fake", f.stored.Load(), res.Sent},
				{"delivered", res.Delivered, res.Replies},
				{"errors", int64(len(res.Errors)), 0},
			}
			if cfg.Delivered {
				checks = append(checks,
					struct {
						name      string
						got, want int64
					}{"receipts", res.Receipts, res.Delivered},
					struct {
						name      string
						got, want int64
					}{"receipts seen by the fake", f.receipts.Load(), res.Receipts})
			}
			for _, c := range checks {
				if c.got != c.want {
					t.Errorf("%s: got %d, want %d", c.name, c.got, c.want)
				}
			}
			if res.Latency.Count == 0 || res.AckLatency.Count == 0 {
				t.Errorf("got latency samples %d/%d, want some of each", res.Latency.Count, res.AckLatency.Count)
			}
			if cfg.ServerPID > 0 && (res.ServerRSSBefore == 0 || res.ServerRSSAfter == 0) {
				t.Errorf("got RSS %d -> %d, want both read", res.ServerRSSBefore, res.ServerRSSAfter)
			}
			if !strings.Contains(out.String(), "duplicates 0  gaps 0") {
				t.Errorf("summary lacks the integrity line:\n%s", out.String())
			}
			if t.Failed() {
				t.Logf("summary:\n%s", out.String())
			}
		})
	}
}

func TestRunJSON(t *testing.T) {
	f := newFakeServer(t, 0, 0)
	cfg := shortConfig(f.URL)
	cfg.JSON = true
	var out bytes.Buffer
	res, err := Run(context.Background(), cfg, &out)
	if err != nil {
		t.Fatal(err)
	}
	var got Result
	if err := json.Unmarshal(out.Bytes(), &got); err != nil {
		t.Fatalf("output is not one JSON Result: %v\n%s", err, out.String())
	}
	if got.Sent != res.Sent || got.Delivered != res.Delivered || got.Latency != res.Latency {
		t.Errorf("got %+v from JSON, want %+v", got, res)
	}
}

func TestRunReportsDuplicateGapAndSilence(t *testing.T) {
	f := newFakeServer(t, 5, 9)
	f.dropAt = 12
	cfg := shortConfig(f.URL)
	cfg.drainTimeout = 100 * time.Millisecond // the swallowed send never lands
	res, err := Run(context.Background(), cfg, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if f.stored.Load() < 12 {
		t.Fatalf("the fake stored %d messages, too few to inject at 5, 9 and 12", f.stored.Load())
	}
	if res.Duplicates != 1 || res.Gaps != 1 || res.Unanswered != 1 {
		t.Errorf("got duplicates %d, gaps %d, unanswered %d; want 1, 1, 1", res.Duplicates, res.Gaps, res.Unanswered)
	}
	if res.Undelivered != 0 {
		t.Errorf("got undelivered %d, want 0", res.Undelivered)
	}
	if res.Healthy() {
		t.Error("got Healthy() true, want false")
	}
}

// TestRunCountsRefusedSends checks that error replies free their window
// slot without stalling the closed loop or skewing the other counts.
func TestRunCountsRefusedSends(t *testing.T) {
	for _, rate := range []int{0, 1000} {
		f := newFakeServer(t, 0, 0)
		f.rejectEvery = 7
		cfg := shortConfig(f.URL)
		cfg.Rate = rate
		var out bytes.Buffer
		res, err := Run(context.Background(), cfg, &out)
		if err != nil {
			t.Fatal(err)
		}
		refused := res.Errors["rate_limited"]
		if refused == 0 || refused != f.rejected.Load() {
			t.Errorf("rate %d: got %d rate_limited, want the fake's %d (>0)", rate, refused, f.rejected.Load())
		}
		if res.Sent != res.Replies+refused || res.Delivered != res.Replies || !res.Healthy() {
			t.Errorf("rate %d: got sent %d, replies %d, refused %d, delivered %d, healthy %v",
				rate, res.Sent, res.Replies, refused, res.Delivered, res.Healthy())
		}
		if !strings.Contains(out.String(), "hint") {
			t.Errorf("rate %d: summary lacks the rate-limit hint:\n%s", rate, out.String())
		}
	}
}

func TestRunStopsOnCancel(t *testing.T) {
	f := newFakeServer(t, 0, 0)
	cfg := shortConfig(f.URL)
	cfg.Duration = 50 * time.Minute // only the cancel can end it in time
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		for f.stored.Load() < 100 && ctx.Err() == nil {
			time.Sleep(time.Millisecond)
		}
		cancel()
	}()
	res, err := Run(ctx, cfg, io.Discard)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("got error %v, want context.Canceled", err)
	}
	if res.Sent == 0 {
		t.Error("got 0 sent in the partial result, want the traffic so far")
	}
}

func TestRunLoginRefused(t *testing.T) {
	f := newFakeServer(t, 0, 0)
	cfg := shortConfig(f.URL)
	cfg.Code = "222222"
	_, err := Run(context.Background(), cfg, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "invalid_code") || !strings.Contains(err.Error(), "KOROBKA_TEST_PHONES") {
		t.Fatalf("got %v, want an invalid_code error that names KOROBKA_TEST_PHONES", err)
	}
}

func TestCheckLoopback(t *testing.T) {
	tests := []struct {
		url string
		ok  bool
	}{
		{"http://127.0.0.1:8080", true},
		{"http://127.1.2.3", true},
		{"https://localhost:8443/base", true},
		{"http://LOCALHOST:1", true},
		{"http://[::1]:8080", true},
		{"http://10.0.0.1:8080", false},
		{"http://192.168.1.10", false},
		{"http://example.com", false},
		{"http://localhost.example.com", false},
		{"http://127.0.0.1.nip.io", false},
		{"http://[::ffff:10.0.0.1]:80", false},
		{"http://0.0.0.0:8080", false},
		{"ftp://127.0.0.1", false},
		{"127.0.0.1:8080", false},
		{"", false},
	}
	for _, tt := range tests {
		_, err := checkLoopback(tt.url)
		if (err == nil) != tt.ok {
			t.Errorf("checkLoopback(%q): got error %v, want ok=%v", tt.url, err, tt.ok)
		}
	}
	// Run itself refuses before any network traffic.
	_, err := Run(context.Background(), Config{URL: "http://10.1.2.3:8080", Pairs: 1, Duration: time.Second, Code: "1"}, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "not a loopback address") {
		t.Errorf("Run with a remote URL: got %v, want a loopback error", err)
	}
}

func TestParseFlags(t *testing.T) {
	cfg, err := ParseFlags(strings.Fields(
		"-url http://[::1]:9000 -pairs 50 -idle 1000 -rate 5000 -duration 30s -warmup 5s -size 200 "+
			"-phone-prefix +7998 -code 123456 -delivered -server-pid 42 -json -logins 8 -window 4"), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	want := Config{
		URL: "http://[::1]:9000", Pairs: 50, Idle: 1000, Rate: 5000, Duration: 30 * time.Second,
		Warmup: 5 * time.Second, BodySize: 200, PhonePrefix: "+7998", Code: "123456", Delivered: true,
		ServerPID: 42, JSON: true, Logins: 8, Window: 4, DialogsPerUser: 1, Label: "korobka",
		drainTimeout: defaultDrain, rssSettle: defaultRSSSettle,
	}
	if cfg != want {
		t.Errorf("got %+v, want %+v", cfg, want)
	}

	// The publishers shape replaces the default pairs; -subscribers sets
	// the dialogs per publisher.
	for _, tt := range []struct {
		args string
		want Config
	}{
		{"-code 1 -publishers 200 -subscribers 10000 -label sqlite", Config{Publishers: 200, DialogsPerUser: 50, Label: "sqlite"}},
		{"-code 1 -publishers 3 -dialogs-per-user 4 -read-share 0.25", Config{Publishers: 3, DialogsPerUser: 4, ReadShare: 0.25, Label: "korobka"}},
		{"-code 1 -publishers 3 -dialogs-per-user 4 -storm 0.5", Config{Publishers: 3, DialogsPerUser: 4, Storm: 0.5, Label: "korobka"}},
		{"-code 1 -publishers 2 -subscribers 8 -dialogs-per-user 4 -idle 5", Config{Publishers: 2, DialogsPerUser: 4, Idle: 5, Label: "korobka"}},
		{"-code 1 -pairs 0 -idle 5", Config{DialogsPerUser: 1, Idle: 5, Label: "korobka"}},
		{"-code 1 -publishers 10 -dialogs-per-user 9 -idle-share 0.5", Config{Publishers: 10, DialogsPerUser: 9, Idle: 100, Label: "korobka"}},
		{"-code 1 -pairs 10 -idle-share 0.2", Config{Pairs: 10, DialogsPerUser: 1, Idle: 5, Label: "korobka"}},
		{"-code 1 -publishers 2 -dialogs-per-user 6 -group-share 0.5 -group-size 4", Config{Publishers: 2, DialogsPerUser: 6, GroupShare: 0.5, GroupSize: 4, Label: "korobka"}},
		{"-code 1 -publishers 2 -dialogs-per-user 10 -group-share 0.2", Config{Publishers: 2, DialogsPerUser: 10, GroupShare: 0.2, GroupSize: 5, Label: "korobka"}},
	} {
		cfg, err := ParseFlags(strings.Fields(tt.args), io.Discard)
		if err != nil {
			t.Errorf("ParseFlags(%q): %v", tt.args, err)
			continue
		}
		got := Config{Pairs: cfg.Pairs, Publishers: cfg.Publishers, DialogsPerUser: cfg.DialogsPerUser,
			Idle: cfg.Idle, ReadShare: cfg.ReadShare, Label: cfg.Label, GroupShare: cfg.GroupShare, GroupSize: cfg.GroupSize, Storm: cfg.Storm}
		if got != tt.want {
			t.Errorf("ParseFlags(%q): got %+v, want %+v", tt.args, got, tt.want)
		}
	}

	cfg, err = ParseFlags([]string{"-code", "111111"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.URL != defaultURL || cfg.Pairs != defaultPairs || cfg.Duration != defaultDuration ||
		cfg.BodySize != defaultBodySize || cfg.PhonePrefix != defaultPhonePrefix || cfg.Window != defaultWindow {
		t.Errorf("got defaults %+v", cfg)
	}

	bad := []string{
		"-url http://8.8.8.8:80 -code 1",
		"-code 1 -pairs -1",
		"-code 1 -pairs 0",
		"-code 1 -duration 0s",
		"-code 1 -duration 2h",
		"-code 1 -rate -5",
		"-code 1 -size 0",
		"-code 1 -window 0",
		"-code 1 -phone-prefix 7999",
		"-code 1 -phone-prefix +79991234567",
		"-code 1 -pairs 60000 -phone-prefix +7999999",
		"-pairs 1",
		"-code 1 -nosuchflag",
		"-code 1 -pairs 5 -publishers 5",
		"-code 1 -pairs 5 -dialogs-per-user 3",
		"-code 1 -dialogs-per-user 3",
		"-code 1 -publishers 3 -dialogs-per-user 0",
		"-code 1 -publishers 3 -dialogs-per-user 501",
		"-code 1 -publishers 3 -subscribers 10",
		"-code 1 -publishers 3 -subscribers 0",
		"-code 1 -subscribers 10",
		"-code 1 -publishers 2 -subscribers 10 -dialogs-per-user 4",
		"-code 1 -read-share 1.5",
		"-code 1 -idle 5 -idle-share 0.5",
		"-code 1 -pairs 5 -group-share 0.5",
		"-code 1 -pairs 5 -storm 0.5",
		"-code 1 -publishers 2 -dialogs-per-user 6 -storm 1.5",
		"-code 1 -publishers 2 -dialogs-per-user 6 -storm -0.1",
		"-code 1 -publishers 2 -dialogs-per-user 10 -group-share 0.01",
		"-code 1 -publishers 2 -dialogs-per-user 6 -group-share 0.5 -group-size 8",
		"-code 1 -publishers 2 -dialogs-per-user 6 -group-share 0.5 -group-size 1",
		"-code 1 -publishers 2 -dialogs-per-user 6 -group-size 3",
		"-code 1 -publishers 2 -dialogs-per-user 6 -group-share 1.5",
		"-code 1 -idle-share 1",
		"-code 1 -idle-share -0.5",
		"-code 1 -read-share -0.1",
		"-code 1 -publishers 100000 -dialogs-per-user 10",
		"-code 1 extra",
	}
	for _, args := range bad {
		var stderr bytes.Buffer
		if _, err := ParseFlags(strings.Fields(args), &stderr); err == nil {
			t.Errorf("ParseFlags(%q): got no error, want one", args)
		} else if stderr.Len() == 0 {
			t.Errorf("ParseFlags(%q): printed nothing to stderr", args)
		}
	}
}

func TestPhone(t *testing.T) {
	for _, tt := range []struct {
		prefix string
		i      int
		want   string
	}{
		{"+7999", 0, "+79990000001"},
		{"+7999", 1234566, "+79991234567"},
		{"+79", 41, "+79000000042"},
	} {
		if got := phone(tt.prefix, tt.i); got != tt.want {
			t.Errorf("phone(%q, %d): got %q, want %q", tt.prefix, tt.i, got, tt.want)
		}
	}
}

// TestRunStorm: -storm drops every subscriber's socket after the warm-up;
// each reconnects and resumes with a sync from the last seq it saw, so the
// messages sent while it was away come back (the fake replays them) and
// the run stays healthy, with the storm reported.
func TestRunStorm(t *testing.T) {
	f := newFakeServer(t, 0, 0)
	cfg := shortConfig(f.URL)
	cfg.Pairs, cfg.Idle = 0, 0
	cfg.Publishers, cfg.DialogsPerUser, cfg.Storm = 2, 3, 1
	cfg.Rate, cfg.Window = 200, 4
	var out bytes.Buffer
	res, err := Run(context.Background(), cfg, &out)
	if err != nil {
		t.Fatalf("Run: %v\n%s", err, out.String())
	}
	if !res.Healthy() || res.Delivered == 0 {
		t.Errorf("a storm run: healthy %v, delivered %d; want healthy with traffic\n%s", res.Healthy(), res.Delivered, out.String())
	}
	if res.Storm == nil || res.Storm.Sockets != 6 || res.Storm.Time <= 0 || res.Storm.Cached != -1 {
		t.Fatalf("storm result %+v, want 6 sockets resumed, a duration, and no /metrics read", res.Storm)
	}
	if got := f.syncs.Load(); got != 6 {
		t.Errorf("the fake saw %d syncs, want 6", got)
	}
	if !strings.Contains(out.String(), "storm     6 sockets") {
		t.Errorf("summary lacks the storm line:\n%s", out.String())
	}
}
