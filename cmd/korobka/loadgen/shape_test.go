package loadgen

import (
	"bytes"
	"context"
	"io"
	"math"
	"os"
	"strings"
	"testing"
	"time"
)

// publishersConfig is shortConfig in the publishers shape: 3 publishers
// with 4 dialogs each (12 subscribers) and 2 idle sockets.
func publishersConfig(url string) Config {
	cfg := shortConfig(url)
	cfg.Pairs, cfg.Publishers, cfg.DialogsPerUser = 0, 3, 4
	return cfg
}

// TestRunPublishersAgainstFake checks the many-dialogs shape end to end
// against the fake: who sends, into which dialogs, how evenly, and that
// every count (per dialog and in all) adds up.
func TestRunPublishersAgainstFake(t *testing.T) {
	tests := []struct {
		name   string
		adjust func(*Config)
	}{
		{"closed loop", func(*Config) {}},
		{"closed loop with receipts", func(c *Config) { c.Delivered = true; c.ReadShare = 0.5 }},
		{"paced with read receipts only", func(c *Config) { c.Rate = 600; c.ReadShare = 0.25 }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeServer(t, 0, 0)
			cfg := publishersConfig(f.URL)
			tt.adjust(&cfg)
			var out bytes.Buffer
			res, err := Run(context.Background(), cfg, &out)
			if err != nil {
				t.Fatalf("Run: %v\n%s", err, out.String())
			}
			defer func() {
				if t.Failed() {
					t.Logf("summary:\n%s", out.String())
				}
			}()
			checks := []struct {
				name      string
				got, want int64
			}{
				{"users", int64(res.Users), 3 + 12 + 2},
				{"dialogs", int64(res.Dialogs), 12},
				{"subscribers", int64(res.Subscribers), 12},
				{"active conns", int64(res.ActiveConns), 15},
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
				{"receipts seen by the fake", f.receipts.Load(), res.Receipts},
				{"reads seen by the fake", f.reads.Load(), res.ReadReceipts},
			}
			if cfg.Delivered {
				checks = append(checks, struct {
					name      string
					got, want int64
				}{"receipts", res.Receipts, res.Delivered})
			}
			for _, c := range checks {
				if c.got != c.want {
					t.Errorf("%s: got %d, want %d", c.name, c.got, c.want)
				}
			}
			// Each of the 12 receiving sides marks read every 1/share-th
			// message from a phase of its own, so it is within one read of
			// its share.
			if want := cfg.ReadShare * float64(res.Delivered); math.Abs(float64(res.ReadReceipts)-want) >= 12 {
				t.Errorf("read receipts: got %d, want %.0f give or take one per dialog", res.ReadReceipts, want)
			}
			if res.Delivered < 12 {
				t.Fatalf("got %d delivered, too few to have used every dialog", res.Delivered)
			}

			// Only publishers sent, each into its own 4 dialogs, round-robin:
			// their counts differ by at most one.
			perDialog, perSender := f.counts()
			if len(perSender) != 3 {
				t.Errorf("got %d users sending, want the 3 publishers: %v", len(perSender), perSender)
			}
			for p := range 3 {
				pub := f.userID(phone(defaultPhonePrefix, p))
				var lo, hi, sum int64 = 1 << 62, 0, 0
				for k := range 4 {
					sub := f.userID(phone(defaultPhonePrefix, 3+p*4+k))
					n := perDialog[f.dialogID(pub, sub)]
					lo, hi, sum = min(lo, n), max(hi, n), sum+n
				}
				if lo == 0 || hi-lo > 1 || sum != perSender[pub] {
					t.Errorf("publisher %d: its dialogs got %d..%d messages (sum %d of its %d), want all used, within one of each other",
						p, lo, hi, sum, perSender[pub])
				}
			}
			if !strings.Contains(out.String(), "| korobka | 3 publishers x 4 dialogs (12 subscribers)") {
				t.Errorf("summary lacks the table row:\n%s", out.String())
			}
		})
	}
}

// TestRunReportsLostMessage drops one acknowledged message on its way to
// the receiver, in both shapes: the run must name it undelivered, see the
// hole it leaves in its dialog, and fail.
func TestRunReportsLostMessage(t *testing.T) {
	for _, shape := range []struct {
		name string
		cfg  func(string) Config
	}{{"pairs", shortConfig}, {"publishers", publishersConfig}} {
		t.Run(shape.name, func(t *testing.T) {
			f := newFakeServer(t, 0, 0)
			f.loseAt = 5
			cfg := shape.cfg(f.URL)
			cfg.drainTimeout = 200 * time.Millisecond // the lost message never lands
			var out bytes.Buffer
			res, err := Run(context.Background(), cfg, &out)
			if err != nil {
				t.Fatal(err)
			}
			// A few rounds over every dialog after the lost message.
			if f.stored.Load() < 60 {
				t.Fatalf("the fake stored %d messages, too few for the lost one to be followed in its dialog", f.stored.Load())
			}
			if res.Undelivered != 1 || res.Gaps != 1 || res.Duplicates != 0 || res.Unanswered != 0 {
				t.Errorf("got undelivered %d, gaps %d, duplicates %d, unanswered %d; want 1, 1, 0, 0",
					res.Undelivered, res.Gaps, res.Duplicates, res.Unanswered)
			}
			if res.Healthy() {
				t.Error("got Healthy() true, want false")
			}
			if !strings.Contains(out.String(), "BROKEN: 0 duplicates, 1 gaps, 1 undelivered") {
				t.Errorf("the table row does not report the loss:\n%s", out.String())
			}
		})
	}
}

// TestRunPublishersReportsDuplicateGapAndSilence is
// TestRunReportsDuplicateGapAndSilence in the many-dialogs shape: each
// fault is counted once, in its own dialog.
func TestRunPublishersReportsDuplicateGapAndSilence(t *testing.T) {
	f := newFakeServer(t, 5, 9)
	f.dropAt = 12
	cfg := publishersConfig(f.URL)
	cfg.drainTimeout = 100 * time.Millisecond // the swallowed send never lands
	res, err := Run(context.Background(), cfg, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if f.stored.Load() < 60 {
		t.Fatalf("the fake stored %d messages, too few to inject at 5, 9 and 12 and follow them", f.stored.Load())
	}
	if res.Duplicates != 1 || res.Gaps != 1 || res.Unanswered != 1 || res.Undelivered != 0 {
		t.Errorf("got duplicates %d, gaps %d, unanswered %d, undelivered %d; want 1, 1, 1, 0",
			res.Duplicates, res.Gaps, res.Unanswered, res.Undelivered)
	}
}

func TestTableRow(t *testing.T) {
	closed := Result{Label: "SQLite + memory", Publishers: 1000, DialogsPerUser: 10, Subscribers: 10000,
		DeliveredReceipts: true, ReadShare: 0.25, Idle: 2000, DeliveredPerSec: 6650.4}
	paced := Result{Label: "SQLite + memory", Pairs: 1000, Rate: 5000, SentPerSec: 5000.2, DeliveredPerSec: 4999.6,
		Latency: Latency{Count: 10, P99: 91234 * time.Microsecond}}
	broken := paced
	broken.Undelivered, broken.Gaps = 2, 1
	for _, tt := range []struct {
		r    Result
		want string
	}{
		{closed, "| SQLite + memory | 1,000 publishers x 10 dialogs (10,000 subscribers), delivered + 25% read receipts, 2,000 idle | 6,650 msg/s | — | ok |\n"},
		{paced, "| SQLite + memory | 1,000 pairs | — | 91.2ms at 5,000 msg/s (5,000 sent/s, 5,000 delivered/s) | ok |\n"},
		{broken, "| SQLite + memory | 1,000 pairs | — | 91.2ms at 5,000 msg/s (5,000 sent/s, 5,000 delivered/s) | BROKEN: 0 duplicates, 1 gaps, 2 undelivered, 0 unanswered |\n"},
	} {
		if got := tt.r.TableRow(); got != tt.want {
			t.Errorf("got  %q\nwant %q", got, tt.want)
		}
	}
	if got := (Result{ServerCPU: 0.5, DeliveredPerSec: 2000}).ServerCPUPerMessage(); got != 250*time.Microsecond {
		t.Errorf("ServerCPUPerMessage: got %s, want 250µs", got)
	}
	if got := thousands(1234567.5); got != "1,234,568" {
		t.Errorf("thousands: got %q", got)
	}
}

// TestRunTwiceOnOneServer runs the same users again, as repeated bench
// runs against one server do: the dialogs exist and hold the first run's
// messages, and the second run's seqs continue from their last one.
func TestRunTwiceOnOneServer(t *testing.T) {
	f := newFakeServer(t, 0, 0)
	cfg := publishersConfig(f.URL)
	for run := range 2 {
		res, err := Run(context.Background(), cfg, io.Discard)
		if err != nil {
			t.Fatal(err)
		}
		if res.Delivered == 0 || !res.Healthy() || res.Stray != 0 {
			t.Errorf("run %d: got delivered %d, healthy %v, stray %d; want >0, true, 0", run, res.Delivered, res.Healthy(), res.Stray)
		}
	}
}

func TestReadCPU(t *testing.T) {
	if _, err := readCPU(os.Getpid()); err != nil {
		t.Errorf("readCPU(self): %v", err)
	}
	if _, err := readCPU(1 << 30); err == nil {
		t.Error("readCPU of a pid that cannot exist: got no error")
	}
}

// TestRunPublisherWithManyDialogs gives one publisher more dialogs than a
// user may open at once: its subscribers open them.
func TestRunPublisherWithManyDialogs(t *testing.T) {
	f := newFakeServer(t, 0, 0)
	cfg := publishersConfig(f.URL)
	cfg.Publishers, cfg.DialogsPerUser, cfg.Rate = 1, fakeDialogBurst+10, 200
	res, err := Run(context.Background(), cfg, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if res.Dialogs != fakeDialogBurst+10 || res.Delivered == 0 || !res.Healthy() {
		t.Errorf("got %d dialogs, %d delivered, healthy %v; want %d, >0, true", res.Dialogs, res.Delivered, res.Healthy(), fakeDialogBurst+10)
	}
}

// groupsConfig is publishersConfig with half of each publisher's 6
// dialogs groups of 4: 2 publishers, 12 subscribers, 6 direct dialogs and
// 6 groups, each group with 3 of its publisher's subscribers.
func groupsConfig(url string) Config {
	cfg := publishersConfig(url)
	cfg.Publishers, cfg.DialogsPerUser, cfg.GroupShare, cfg.GroupSize = 2, 6, 0.5, 4
	return cfg
}

// TestRunGroupsAgainstFake mixes direct dialogs and groups: every member
// of a group but its publisher receives each message, and the accounting
// holds per receiving member.
func TestRunGroupsAgainstFake(t *testing.T) {
	f := newFakeServer(t, 0, 0)
	cfg := groupsConfig(f.URL)
	cfg.Delivered = true
	var out bytes.Buffer
	res, err := Run(context.Background(), cfg, &out)
	if err != nil {
		t.Fatalf("Run: %v\n%s", err, out.String())
	}
	defer func() {
		if t.Failed() {
			t.Logf("summary:\n%s", out.String())
		}
	}()
	if res.Dialogs != 12 || res.Groups != 6 || res.GroupSize != 4 || res.Users != 2+12+2 || res.ActiveConns != 14 {
		t.Errorf("got %d dialogs, %d groups of %d, %d users, %d active; want 12, 6 of 4, 16, 14",
			res.Dialogs, res.Groups, res.GroupSize, res.Users, res.ActiveConns)
	}
	if !res.Healthy() || res.Stray != 0 || len(res.Errors) != 0 || res.Replies != res.Sent || f.stored.Load() != res.Sent {
		t.Errorf("got healthy %v, stray %d, errors %v, replies %d of %d sent, %d stored", res.Healthy(), res.Stray, res.Errors, res.Replies, res.Sent, f.stored.Load())
	}
	// Deliveries: one per direct message, three per group message.
	if res.Delivered != f.deliveries.Load() || res.Receipts != res.Delivered {
		t.Errorf("got %d delivered and %d receipts, want the fake's %d deliveries", res.Delivered, res.Receipts, f.deliveries.Load())
	}
	perDialog, _ := f.counts()
	var want int64
	for id, n := range perDialog {
		if strings.HasPrefix(id, "g") {
			want += 3 * n
		} else {
			want += n
		}
	}
	if res.Delivered != want {
		t.Errorf("got %d delivered, want %d from the per-dialog counts %v", res.Delivered, want, perDialog)
	}
	var groups int
	for id, n := range perDialog {
		if strings.HasPrefix(id, "g") {
			groups++
		}
		if n == 0 {
			t.Errorf("dialog %s got no message", id)
		}
	}
	if groups != 6 || len(perDialog) != 12 {
		t.Errorf("messages went to %d dialogs, %d of them groups; want 12 and 6", len(perDialog), groups)
	}
	if !strings.Contains(out.String(), "2 publishers x 6 dialogs, 3 of them groups of 4 (12 subscribers)") {
		t.Errorf("summary lacks the groups in its shape:\n%s", out.String())
	}
}

// TestRunGroupsReportLostMessage loses one group member's copy of a
// message: one undelivered and one gap, though the other members got it.
func TestRunGroupsReportLostMessage(t *testing.T) {
	f := newFakeServer(t, 0, 0)
	cfg := groupsConfig(f.URL)
	cfg.drainTimeout = 200 * time.Millisecond
	f.loseAt, f.loseInGroup = 20, true // a later round than the first
	res, err := Run(context.Background(), cfg, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	f.mu.Lock()
	groupMsgs := f.groupMsgs
	f.mu.Unlock()
	if groupMsgs < 20+3*6 {
		t.Fatalf("the fake stored %d group messages, too few for the lost one to be followed in its group", groupMsgs)
	}
	if res.Undelivered != 1 || res.Gaps != 1 || res.Duplicates != 0 || res.Healthy() {
		t.Errorf("got undelivered %d, gaps %d, duplicates %d, healthy %v; want 1, 1, 0, false", res.Undelivered, res.Gaps, res.Duplicates, res.Healthy())
	}
}

// TestRunRetriesTransientSetupFailures: a login that meets a 500 is tried
// again and counted; one that keeps failing stops the run.
func TestRunRetriesTransientSetupFailures(t *testing.T) {
	f := newFakeServer(t, 0, 0)
	f.failOTP = 5
	res, err := Run(context.Background(), publishersConfig(f.URL), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if res.SetupRetries == 0 || res.SetupRetries != f.otpFailed.Load() || !res.Healthy() {
		t.Errorf("got %d retries (the fake failed %d code requests), healthy %v; want them equal and >0, true",
			res.SetupRetries, f.otpFailed.Load(), res.Healthy())
	}

	f = newFakeServer(t, 0, 0)
	f.failOTP = 1
	_, err = Run(context.Background(), publishersConfig(f.URL), io.Discard)
	if err == nil || !strings.Contains(err.Error(), "HTTP 500") {
		t.Errorf("got %v, want the run to stop on HTTP 500", err)
	}
}

// TestRunAnswersPingsDuringSetup: with slow handshakes the first
// connections open long before the last, and must answer the server's
// pings all along or be dropped before the traffic starts.
func TestRunAnswersPingsDuringSetup(t *testing.T) {
	f := newFakeServer(t, 0, 0)
	// A connection silent for 0.6 s is dropped; setup takes over 1.7 s.
	f.pingEvery, f.dialDelay = 200*time.Millisecond, 100*time.Millisecond
	cfg := publishersConfig(f.URL)
	cfg.Logins = 1 // 17 handshakes one after another
	res, err := Run(context.Background(), cfg, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if res.ConnsLost != 0 || res.Delivered == 0 || !res.Healthy() {
		t.Errorf("got %d connections lost, %d delivered, healthy %v, errors %v; want 0, >0, true", res.ConnsLost, res.Delivered, res.Healthy(), res.Errors)
	}
}

// TestReadShareWithFewMessagesPerDialog: 40 dialogs that get one message
// each still mark a quarter of them read, not none.
func TestReadShareWithFewMessagesPerDialog(t *testing.T) {
	f := newFakeServer(t, 0, 0)
	cfg := publishersConfig(f.URL)
	cfg.Publishers, cfg.DialogsPerUser, cfg.Idle = 1, 40, 0
	cfg.Rate, cfg.Duration, cfg.Warmup = 200, 200*time.Millisecond, 0 // about one message per dialog
	cfg.ReadShare = 0.25
	res, err := Run(context.Background(), cfg, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if want := cfg.ReadShare * float64(res.Delivered); res.Delivered == 0 || math.Abs(float64(res.ReadReceipts)-want) > 2 {
		t.Errorf("got %d read receipts for %d messages, want about %.0f", res.ReadReceipts, res.Delivered, want)
	}
}
