package main

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/korobka/korobka/chat/chattest"
)

// TestKillNineLosesNothingAcknowledged streams messages into a node, kills
// it with SIGKILL mid-stream, starts it again on the same data and checks
// that every acknowledged message is there exactly once, with gapless
// seqs, and that retrying the unacknowledged ones stores each once.
func TestKillNineLosesNothingAcknowledged(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) { crashTest(t, map[string]string{"KOROBKA_DATA": t.TempDir()}) })
	t.Run("mysql+redis", func(t *testing.T) {
		crashTest(t, map[string]string{
			"KOROBKA_DATA":         t.TempDir(),
			"KOROBKA_MYSQL_DSN":    chattest.MySQLDSN(t),
			"KOROBKA_REDIS_URL":    chattest.RedisURL(t),
			"KOROBKA_REDIS_PREFIX": chattest.RedisPrefix(t),
		})
	})
}

func crashTest(t *testing.T, vars map[string]string) {
	vars["KOROBKA_ADDR"] = freeAddr(t)
	vars["KOROBKA_TEST_PHONES"] = "+79990000001:111111,+79990000002:222222"
	vars["KOROBKA_LOG_LEVEL"] = "warn"
	// One user's 16 devices flood on purpose: lift the per-user socket
	// cap and frame budget that would otherwise (rightly) stop them.
	vars["KOROBKA_MAX_SOCKETS_PER_USER"] = "16"
	vars["KOROBKA_WS_RATE"] = "100000"
	vars["KOROBKA_WS_BURST"] = "100000"
	base := "http://" + vars["KOROBKA_ADDR"]

	child := startChild(t, vars)
	e := &env{t: t, url: base}
	anna, _, id := e.pair()

	// Several devices keep a window of sends in flight; the node is
	// killed once 500 are acknowledged and more are on the wire.
	const devices, perDevice, window = 16, 150, 16
	type device struct {
		c          *wsClient
		sent, acks int
	}
	devs := make([]*device, devices)
	for i := range devs {
		devs[i] = &device{c: dial(t, base, anna.AccessToken)}
	}
	acked := map[string]string{} // client_id -> seq
	var sentIDs []string
	killed := false
	deadline := time.Now().Add(60 * time.Second)
	for !killed && time.Now().Before(deadline) {
		for d, dev := range devs {
			for ; dev.sent < perDevice && dev.sent-dev.acks < window; dev.sent++ {
				cid := fmt.Sprintf("k-%d-%d", d, dev.sent)
				if err := dev.c.conn.WriteJSON(map[string]any{"type": "send", "id": cid, "dialog_id": id,
					"client_id": cid, "text": "durable"}); err != nil {
					t.Fatal(err)
				}
				sentIDs = append(sentIDs, cid)
			}
			for _, f := range dev.c.take(typed("reply")) {
				acked[str(f, "message", "client_id")] = str(f, "message", "seq")
				dev.acks++
			}
			for _, f := range dev.c.take(typed("error")) {
				t.Fatalf("send failed before the kill: %v", f)
			}
		}
		if len(acked) >= 500 {
			if err := child.Process.Signal(syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			killed = true
			break
		}
		time.Sleep(time.Millisecond)
	}
	if !killed {
		t.Fatal("the stream ended before the node was killed")
	}
	// Replies already read off the sockets before they died are acks too.
	for _, dev := range devs {
		dev.c.waitClosed()
		for _, f := range dev.c.take(typed("reply")) {
			acked[str(f, "message", "client_id")] = str(f, "message", "seq")
		}
	}
	sent := len(sentIDs)

	startChild(t, vars)
	// Each device reconnects and resends everything it sent, acknowledged
	// or not, as a client that lost its connection would.
	for d, dev := range devs {
		c := dial(t, base, anna.AccessToken)
		for i := 0; i < dev.sent; i++ {
			cid := fmt.Sprintf("k-%d-%d", d, i)
			c.send(map[string]any{"type": "send", "id": cid, "dialog_id": id, "client_id": cid, "text": "durable"})
		}
		for i := 0; i < dev.sent; i++ {
			cid := fmt.Sprintf("k-%d-%d", d, i)
			if f := c.waitFor("reply to the retry of "+cid, replyTo(cid)); f["type"] != "reply" {
				t.Fatalf("retry of %s: got %v", cid, f)
			}
		}
		c.close()
	}
	got := map[string]string{}
	seqs := []int{}
	before := ""
	for {
		r := e.want(e.do("GET", "/v1/dialogs/"+id+"/messages?limit=200"+before, anna.AccessToken, nil), 200)
		var page struct {
			Messages []struct {
				ClientID string `json:"client_id"`
				Seq      int    `json:"seq"`
			} `json:"messages"`
		}
		r.json(t, &page)
		if len(page.Messages) == 0 {
			break
		}
		for _, m := range page.Messages {
			if _, dup := got[m.ClientID]; dup {
				t.Fatalf("client_id %s stored twice", m.ClientID)
			}
			got[m.ClientID] = strconv.Itoa(m.Seq)
			seqs = append(seqs, m.Seq)
		}
		before = "&before=" + strconv.Itoa(page.Messages[0].Seq)
	}
	for cid, seq := range acked {
		if got[cid] != seq {
			t.Fatalf("acknowledged %s at seq %s, after the crash got %q", cid, seq, got[cid])
		}
	}
	if len(got) != sent {
		t.Fatalf("got %d messages after retrying %d sends, want each once", len(got), sent)
	}
	sort.Ints(seqs)
	for i, s := range seqs {
		if s != i+1 {
			t.Fatalf("seqs not gapless: position %d holds %d", i, s)
		}
	}
	t.Logf("%d acknowledged before SIGKILL, %d sent, all present once", len(acked), sent)
}

// startChild runs this test binary as a korobka server with vars and waits
// until it is healthy. The process is killed when the test ends.
func startChild(t *testing.T, vars map[string]string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "KOROBKA_TEST_CHILD=serve")
	for k, v := range vars {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	var logs strings.Builder
	cmd.Stdout, cmd.Stderr = io.Discard, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-exited
	})
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-exited:
			t.Fatalf("server exited: %s", logs.String())
		default:
		}
		if res, err := http.Get("http://" + vars["KOROBKA_ADDR"] + "/healthz"); err == nil {
			res.Body.Close()
			if res.StatusCode == 200 {
				return cmd
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("server did not become healthy: %s", logs.String())
	return nil
}
