package main

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/korobka/korobka/cmd/korobka/loadgen"
)

// TestBenchCommand runs "korobka bench" against the real server in both
// shapes, briefly and at a rate inside the per-user frame budget: the
// generator must find every message, with no loss, duplicate or gap in
// any dialog, and the server must accept the receipts it sends.
func TestBenchCommand(t *testing.T) {
	vars := map[string]string{"KOROBKA_TEST_PHONES": "+7999*:111111", "KOROBKA_LOOPBACK_UNLIMITED": "1"}
	backendsWith(t, vars, func(t *testing.T, e *env) {
		shapes := []struct {
			name                   string
			args                   []string
			users, dialogs, active int
		}{
			{"publishers", []string{"-publishers", "3", "-dialogs-per-user", "4", "-rate", "60", "-read-share", "0.5"}, 3 + 12 + 2, 12, 15},
			{"pairs", []string{"-pairs", "3", "-rate", "60", "-read-share", "0.5"}, 6 + 2, 3, 6},
			{"groups", []string{"-publishers", "3", "-dialogs-per-user", "4", "-group-share", "0.5", "-group-size", "3", "-rate", "60", "-read-share", "0.5"}, 3 + 12 + 2, 12, 15},
		}
		for _, sh := range shapes {
			t.Run(sh.name, func(t *testing.T) {
				args := append([]string{"korobka", "bench", "-url", e.url, "-code", "111111", "-json",
					"-duration", "1s", "-warmup", "200ms", "-delivered", "-idle", "2", "-logins", "4"}, sh.args...)
				var out, errOut bytes.Buffer
				if err := run(context.Background(), args, func(string) string { return "" }, &out, &errOut); err != nil {
					t.Fatalf("bench: %v\n%s%s", err, out.String(), errOut.String())
				}
				var res loadgen.Result
				if err := json.Unmarshal(out.Bytes(), &res); err != nil {
					t.Fatalf("bench -json printed %q: %v", out.String(), err)
				}
				if res.Users != sh.users || res.Dialogs != sh.dialogs || res.ActiveConns != sh.active || res.IdleConns != 2 {
					t.Errorf("got %d users, %d dialogs, %d+%d connections; want %d, %d, %d+2",
						res.Users, res.Dialogs, res.ActiveConns, res.IdleConns, sh.users, sh.dialogs, sh.active)
				}
				// A group message reaches its two other members.
				if want := res.Replies; res.Groups > 0 && res.Delivered <= want || res.Groups == 0 && res.Delivered != want {
					t.Errorf("got %d delivered for %d replies in %d groups of %d", res.Delivered, res.Replies, res.Groups, res.GroupSize)
				}
				if res.Delivered == 0 || res.Receipts != res.Delivered || res.ReadReceipts == 0 {
					t.Errorf("got delivered %d, receipts %d, read receipts %d; want delivered = receipts > 0 and some read",
						res.Delivered, res.Receipts, res.ReadReceipts)
				}
				if len(res.Errors) > 0 || res.Stray > 0 || res.ConnsLost > 0 {
					t.Errorf("got errors %v, stray %d, connections lost %d; want none", res.Errors, res.Stray, res.ConnsLost)
				}
				if row := res.TableRow(); !strings.HasSuffix(row, "| ok |\n") {
					t.Errorf("table row %q does not end ok", row)
				}
			})
		}
	})
}
