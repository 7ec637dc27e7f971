package loadgen

import (
	"bytes"
	"context"
	"io"
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
			// Each of the 12 links marks read every 1/share-th message it
			// receives, so it owes at most one read short of the share.
			if want := cfg.ReadShare * float64(res.Delivered); float64(res.ReadReceipts) > want || float64(res.ReadReceipts) < want-12 {
				t.Errorf("read receipts: got %d, want %.0f minus at most one per dialog", res.ReadReceipts, want)
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
			if f.stored.Load() < 100 {
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
	if f.stored.Load() < 100 {
		t.Fatalf("the fake stored %d messages, too few to inject at 5, 9 and 12", f.stored.Load())
	}
	if res.Duplicates != 1 || res.Gaps != 1 || res.Unanswered != 1 || res.Undelivered != 0 {
		t.Errorf("got duplicates %d, gaps %d, unanswered %d, undelivered %d; want 1, 1, 1, 0",
			res.Duplicates, res.Gaps, res.Unanswered, res.Undelivered)
	}
}

func TestTableRow(t *testing.T) {
	closed := Result{Label: "SQLite + memory", Publishers: 1000, DialogsPerUser: 10, Subscribers: 10000,
		DeliveredReceipts: true, ReadShare: 0.25, Idle: 2000, DeliveredPerSec: 6650.4}
	paced := Result{Label: "SQLite + memory", Pairs: 1000, Rate: 5000, DeliveredPerSec: 4999.6,
		Latency: Latency{Count: 10, P99: 91234 * time.Microsecond}}
	broken := paced
	broken.Undelivered, broken.Gaps = 2, 1
	for _, tt := range []struct {
		r    Result
		want string
	}{
		{closed, "| SQLite + memory | 1,000 publishers x 10 dialogs (10,000 subscribers), delivered + 25% read receipts, 2,000 idle | 6,650 msg/s | — | ok |\n"},
		{paced, "| SQLite + memory | 1,000 pairs | — | 91.2ms at 5,000 msg/s (5,000 delivered/s) | ok |\n"},
		{broken, "| SQLite + memory | 1,000 pairs | — | 91.2ms at 5,000 msg/s (5,000 delivered/s) | BROKEN: 0 duplicates, 1 gaps, 2 undelivered, 0 unanswered |\n"},
	} {
		if got := tt.r.TableRow(); got != tt.want {
			t.Errorf("got  %q\nwant %q", got, tt.want)
		}
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
