package main

import (
	"bufio"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/korobka/korobka/chat"
	"github.com/korobka/korobka/chat/chattest"
)

// End-to-end push tests: the real server configured like production
// (KOROBKA_APNS_*, KOROBKA_FCM_*), sending through the real client libraries
// to local fakes of APNs and FCM.

// pushFakes are the push services a test's servers send to.
type pushFakes struct {
	apns *chattest.FakeAPNs
	fcm  *chattest.FakeFCM
	vars map[string]string
}

// newPushFakes starts both fakes and writes the credentials files an
// operator would install.
func newPushFakes(t *testing.T) *pushFakes {
	t.Helper()
	f := &pushFakes{apns: chattest.NewFakeAPNs(t), fcm: chattest.NewFakeFCM(t)}
	dir := t.TempDir()
	key := filepath.Join(dir, "AuthKey_"+f.apns.KeyID+".p8")
	creds := filepath.Join(dir, "firebase-adminsdk.json")
	if err := os.WriteFile(key, f.apns.KeyPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(creds, f.fcm.CredentialsJSON, 0o600); err != nil {
		t.Fatal(err)
	}
	f.vars = map[string]string{
		"KOROBKA_APNS_KEY_FILE":   key,
		"KOROBKA_APNS_KEY_ID":     f.apns.KeyID,
		"KOROBKA_APNS_TEAM_ID":    f.apns.TeamID,
		"KOROBKA_APNS_TOPIC":      "com.example.korobka",
		"KOROBKA_APNS_URL":        f.apns.URL,
		"KOROBKA_FCM_CREDENTIALS": creds,
		"KOROBKA_FCM_URL":         f.fcm.URL,
		"KOROBKA_PUSH_DELAY":      "0s",
	}
	return f
}

// env starts a server sending to the fakes, with the queue's timings
// shortened for a test.
func (f *pushFakes) env(t *testing.T, vars map[string]string) *env {
	t.Helper()
	all := map[string]string{}
	for k, v := range f.vars {
		all[k] = v
	}
	for k, v := range vars {
		all[k] = v
	}
	return newEnvConfig(t, all, func(c *Config) {
		c.apnsTLS = f.apns.TLS
		c.pushQueue = func(q *pushQueueTimes) {
			q.ClaimTimeout = 5 * time.Second
			q.Block = 20 * time.Millisecond
			q.Policy = chat.RetryPolicy{Base: 50 * time.Millisecond, Max: 200 * time.Millisecond, MaxAttempts: 5}
			q.SendTimeout = time.Second
		}
	})
}

// metric reads one series of /metrics (0 when absent).
func (e *env) metric(series string) float64 {
	e.t.Helper()
	res, err := http.Get(e.url + "/metrics")
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	sc := bufio.NewScanner(res.Body)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		name, val, ok := strings.Cut(sc.Text(), " ")
		if ok && name == series {
			v, err := strconv.ParseFloat(val, 64)
			if err != nil {
				e.t.Fatalf("metric %s: %v", series, err)
			}
			return v
		}
	}
	return 0
}

// waitMetric polls until the sum of series over the nodes reaches want.
func waitMetric(t *testing.T, series string, want float64, nodes ...*env) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		var sum float64
		for _, e := range nodes {
			sum += e.metric(series)
		}
		if sum >= want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: got %v, want %v", series, sum, want)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// roundTrip waits until the connection handled everything sent before.
func (c *wsClient) roundTrip(id string) {
	c.t.Helper()
	c.send(map[string]any{"type": "sync", "id": id})
	c.waitFor("round trip "+id, replyTo(id))
}

func waitShown(t *testing.T, f *chattest.FakeAPNs, token string, n int) []chattest.APNsPush {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		shown := f.Shown(token)
		if len(shown) >= n {
			return shown
		}
		if time.Now().After(deadline) {
			t.Fatalf("the phone shows %d notifications, want %d", len(shown), n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestPushEndToEnd(t *testing.T) {
	run := func(t *testing.T, vars map[string]string) {
		f := newPushFakes(t)
		e := f.env(t, vars)
		a, b, id := e.pair()
		apnsTok, fcmTok := strings.Repeat("0f", 32), "fcm:APA91b-end-to-end-token"
		e.want(e.do("POST", "/v1/devices", b.AccessToken, map[string]any{"platform": "apns", "token": apnsTok, "locale": "ru"}), 200)
		e.want(e.do("POST", "/v1/devices", b.AccessToken, map[string]any{"platform": "fcm", "token": fcmTok, "locale": "ru"}), 200)
		send := func(clientID, text string) {
			t.Helper()
			e.want(e.do("POST", "/v1/dialogs/"+id+"/messages", a.AccessToken, map[string]any{"client_id": clientID, "text": text}), 201)
		}

		// Boris has the app open: no push.
		db := dial(t, e.url, b.AccessToken)
		db.send(map[string]any{"type": "state", "state": "foreground"})
		db.roundTrip("fg")
		send("m1", "пока открыто")
		waitMetric(t, `korobka_push_jobs_skipped_total{reason="foreground"}`, 1, e)
		db.waitFor("the message live", messageWith("m1"))

		// The app goes to the background: the next message wakes the phone,
		// on both platforms, with the unread count as the badge.
		db.send(map[string]any{"type": "state", "state": "background"})
		db.roundTrip("bg")
		send("m2", "теперь пуш")
		shown := waitShown(t, f.apns, apnsTok, 1)
		if title, body := shown[0].Alert(); title != "Анна" || body != "теперь пуш" || shown[0].Aps("badge") != float64(2) ||
			shown[0].Payload["dialog_id"] != id || shown[0].Topic != "com.example.korobka" {
			t.Fatalf("APNs push: got %q / %q, payload %v; want Анна / теперь пуш, badge 2, dialog %s", title, body, shown[0].Payload, id)
		}
		waitMetric(t, `korobka_push_notifications_sent_total{platform="fcm"}`, 1, e)
		if m := f.fcm.Messages()[0]; m.Token != fcmTok || m.Notification.Body != "теперь пуш" || m.Data["badge"] != "2" {
			t.Fatalf("FCM message: got %+v", m)
		}

		// Read on the web: a silent push drops the badge.
		e.want(e.do("POST", "/v1/dialogs/"+id+"/read", b.AccessToken, map[string]any{"seq": 2}), 200)
		waitMetric(t, `korobka_push_jobs_sent_total{kind="read"}`, 1, e)
		var silent *chattest.APNsPush
		for _, p := range f.apns.Pushes() {
			if p.Aps("content-available") != nil {
				silent = &p
			}
		}
		if silent == nil || silent.Aps("badge") != float64(0) || silent.Payload["read_seq"] != "2" {
			t.Fatalf("silent push: got %+v, want badge 0 and read_seq 2", silent)
		}

		// Muted: no push.
		e.want(e.do("PUT", "/v1/dialogs/"+id+"/mute", b.AccessToken, map[string]any{"muted": true}), 200)
		send("m3", "тихо")
		waitMetric(t, `korobka_push_jobs_skipped_total{reason="muted"}`, 1, e)
		e.want(e.do("PUT", "/v1/dialogs/"+id+"/mute", b.AccessToken, map[string]any{"muted": false}), 200)

		// A dead token is removed when APNs says so.
		f.apns.Fail(apnsTok, chattest.PushFailure{Status: 410, Reason: "Unregistered"})
		send("m4", "в пустоту")
		waitMetric(t, `korobka_push_devices_removed_total{reason="gone"}`, 1, e)

		// Logging out removes the session's devices: nothing more is sent.
		e.want(e.do("POST", "/v1/auth/logout", b.AccessToken, nil), 204)
		devs, err := e.app.store.Devices(t.Context(), []int64{mustID(t, b.User.ID)}, time.Now())
		if err != nil || len(devs) != 0 {
			t.Fatalf("devices after logout: got %d, %v; want none", len(devs), err)
		}
		send("m5", "после выхода")
		waitMetric(t, `korobka_push_jobs_skipped_total{reason="no_device"}`, 1, e)
		if e.metric("korobka_push_jobs_dead_total") != 0 || e.metric("korobka_push_jobs_dropped_total") != 0 {
			t.Fatal("jobs died or were dropped")
		}
		if e.metric("korobka_push_latency_seconds_count") < 2 {
			t.Fatal("no enqueue-to-send latency observed")
		}
	}
	t.Run("sqlite+memory", func(t *testing.T) { run(t, nil) })
	t.Run("mysql+redis", func(t *testing.T) {
		run(t, map[string]string{
			"KOROBKA_MYSQL_DSN":    chattest.MySQLDSN(t),
			"KOROBKA_REDIS_URL":    chattest.RedisURL(t),
			"KOROBKA_REDIS_PREFIX": chattest.RedisPrefix(t),
		})
	})
}

// TestPushTwoNodes: two nodes share one Redis queue and know each other's
// foreground connections; every job is sent once, by one of them.
func TestPushTwoNodes(t *testing.T) {
	vars := map[string]string{
		"KOROBKA_MYSQL_DSN":    chattest.MySQLDSN(t),
		"KOROBKA_REDIS_URL":    chattest.RedisURL(t),
		"KOROBKA_REDIS_PREFIX": chattest.RedisPrefix(t),
	}
	f := newPushFakes(t)
	nodeA, nodeB := f.env(t, vars), f.env(t, vars)
	a, b, id := nodeA.pair()
	apnsTok := strings.Repeat("1e", 32)
	nodeA.want(nodeA.do("POST", "/v1/devices", b.AccessToken, map[string]any{"platform": "apns", "token": apnsTok}), 200)

	// Boris's app is open on node B: a message sent on node A is not pushed.
	onB := dial(t, nodeB.url, b.AccessToken)
	onB.send(map[string]any{"type": "state", "state": "foreground"})
	onB.roundTrip("fg")
	nodeA.want(nodeA.do("POST", "/v1/dialogs/"+id+"/messages", a.AccessToken, map[string]any{"client_id": "fg", "text": "open"}), 201)
	waitMetric(t, `korobka_push_jobs_skipped_total{reason="foreground"}`, 1, nodeA, nodeB)

	// Closing the app's socket on node B takes it out of the foreground.
	onB.close()
	const n = 30
	for i := range n {
		node := nodeA
		if i%2 == 1 {
			node = nodeB
		}
		node.want(node.do("POST", "/v1/dialogs/"+id+"/messages", a.AccessToken,
			map[string]any{"client_id": fmt.Sprint("m", i), "text": fmt.Sprint("message ", i)}), 201)
	}
	waitShown(t, f.apns, apnsTok, n)
	waitMetric(t, `korobka_push_jobs_sent_total{kind="message"}`, n, nodeA, nodeB)
	if got := len(f.apns.Pushes()); got != n {
		t.Fatalf("APNs got %d pushes for %d jobs, want each sent once", got, n)
	}
	seen := map[string]bool{}
	for _, p := range f.apns.Pushes() {
		if seen[p.CollapseID] {
			t.Fatalf("job %s sent twice", p.CollapseID)
		}
		seen[p.CollapseID] = true
	}
}
