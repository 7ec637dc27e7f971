package main

import (
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"os"
	"runtime/pprof"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/korobka/korobka/chat/chattest"
)

// benchUser is a logged-in user of a benchmark.
type benchUser struct{ token, id string }

// benchUsers logs in n test numbers through call.
func benchUsers(b *testing.B, call func(method, path, token, body string) *httptest.ResponseRecorder, n int) []benchUser {
	b.Helper()
	users := make([]benchUser, n)
	for i := range users {
		phone := fmt.Sprintf("+7999%07d", 5_000_000+i)
		if rec := call("POST", "/v1/auth/otp", "", `{"phone":"`+phone+`"}`); rec.Code != 200 {
			b.Fatalf("code request: %d %s", rec.Code, rec.Body)
		}
		var a struct {
			AccessToken string `json:"access_token"`
			User        struct {
				ID string `json:"id"`
			} `json:"user"`
		}
		rec := call("POST", "/v1/auth/verify", "", `{"phone":"`+phone+`","code":"333333"}`)
		if err := json.Unmarshal(rec.Body.Bytes(), &a); err != nil || a.AccessToken == "" {
			b.Fatalf("login: %d %s", rec.Code, rec.Body)
		}
		users[i] = benchUser{a.AccessToken, a.User.ID}
	}
	return users
}

// benchGroup creates owner's group with the others as members.
func benchGroup(b *testing.B, call func(method, path, token, body string) *httptest.ResponseRecorder, owner benchUser, others []benchUser) string {
	b.Helper()
	ids := make([]string, len(others))
	for i, u := range others {
		ids[i] = `"` + u.id + `"`
	}
	rec := call("POST", "/v1/dialogs", owner.token, `{"kind":"group","title":"bench","member_ids":[`+strings.Join(ids, ",")+`]}`)
	var d struct{ ID string }
	if err := json.Unmarshal(rec.Body.Bytes(), &d); err != nil || rec.Code != 201 {
		b.Fatalf("create group: %d %.300s", rec.Code, rec.Body)
	}
	return d.ID
}

// cpuTime is the process's user and system CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func percentile(lat []time.Duration, p int) time.Duration {
	slices.Sort(lat)
	return lat[min(len(lat)*p/100, len(lat)-1)]
}

// BenchmarkGroupFanout measures delivery in a group of 1,000 members, each
// connected by a WebSocket to one server (SQLite + memory): a member sends
// a message over REST and every other member's socket receives it. Each
// op is one message, sent once the previous one reached everyone; the
// latency of a delivery runs from just before the send to the frame read
// on a member's socket. The event is encoded once per message (one
// payload shared by the 999 publications, chat.appendEvent), not once
// per member. It reports the p50, p99 and max over every delivery.
func BenchmarkGroupFanout(b *testing.B) {
	const members = 1000
	h := newBenchHandler(b, map[string]string{"KOROBKA_WS_HANDSHAKES_PER_ADDR": "10000000"})
	srv := httptest.NewServer(h)
	b.Cleanup(srv.Close)
	call := func(method, path, token, body string) *httptest.ResponseRecorder {
		return benchCall(h, method, path, token, body)
	}
	users := benchUsers(b, call, members)
	id := benchGroup(b, call, users[0], users[1:])

	var mu sync.Mutex
	sent := map[string]time.Time{}
	var lat []time.Duration
	got := make(chan struct{}, members*4)
	wsURL := "ws" + strings.TrimPrefix(srv.URL, "http") + "/v1/ws?access_token="
	var readers sync.WaitGroup
	for _, u := range users[1:] {
		conn, _, err := websocket.DefaultDialer.Dial(wsURL+u.token, nil)
		if err != nil {
			b.Fatalf("dial: %v", err)
		}
		b.Cleanup(func() { conn.Close() })
		// Shown on screen, as the web shell reports on connecting: the
		// push workers skip members in the foreground.
		if err := conn.WriteMessage(websocket.TextMessage, []byte(`{"type":"state","state":"foreground"}`)); err != nil {
			b.Fatalf("state: %v", err)
		}
		readers.Go(func() {
			for {
				_, data, err := conn.ReadMessage()
				if err != nil {
					return
				}
				var f struct {
					Type    string `json:"type"`
					Message struct {
						ClientID string `json:"client_id"`
					} `json:"message"`
				}
				if json.Unmarshal(data, &f) != nil || f.Type != "message" {
					continue
				}
				now := time.Now()
				mu.Lock()
				t0, ok := sent[f.Message.ClientID]
				if ok {
					lat = append(lat, now.Sub(t0))
				}
				mu.Unlock()
				if ok {
					got <- struct{}{}
				}
			}
		})
	}
	b.Cleanup(func() { srv.CloseClientConnections() })
	// KOROBKA_BENCH_CPUPROFILE=file profiles the timed loop alone (not
	// the 1,000 logins before it): the server's share is everything but
	// the readers above (BenchmarkGroupFanout.func1).
	if path := os.Getenv("KOROBKA_BENCH_CPUPROFILE"); path != "" {
		f, err := os.Create(path)
		if err != nil {
			b.Fatal(err)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			b.Fatal(err)
		}
		defer func() { pprof.StopCPUProfile(); f.Close() }()
	}
	cpu0 := cpuTime()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		cid := fmt.Sprintf("f-%d", i)
		mu.Lock()
		sent[cid] = time.Now()
		mu.Unlock()
		if rec := call("POST", "/v1/dialogs/"+id+"/messages", users[0].token, `{"client_id":"`+cid+`","text":"to the group"}`); rec.Code != 201 {
			b.Fatalf("send: %d %s", rec.Code, rec.Body)
		}
		deadline := time.After(30 * time.Second)
		for range members - 1 {
			select {
			case <-got:
			case <-deadline:
				b.Fatalf("message %d did not reach every member", i)
			}
		}
	}
	b.StopTimer()
	// CPU of the whole process (server and the 999 clients) per message:
	// what the machine's other load does not change.
	b.ReportMetric(float64((cpuTime()-cpu0).Microseconds())/1000/float64(b.N), "cpu-ms/op")
	mu.Lock()
	defer mu.Unlock()
	b.ReportMetric(float64(percentile(lat, 50).Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(percentile(lat, 99).Microseconds())/1000, "p99-ms")
	b.ReportMetric(float64(percentile(lat, 100).Microseconds())/1000, "max-ms")
}

// BenchmarkGroupRemovalOtherNode measures how long a removal takes to
// take effect on another node: two servers on one MariaDB and one Redis;
// each op adds a member through node A, lets node B serve them once (so
// B has the group's members cached), removes them through node A, and
// then reads the group's member list as them through node B until B answers
// 404. The latency runs from the removal's answer on A to B's first 404;
// reads B still served in that window are reported too.
func BenchmarkGroupRemovalOtherNode(b *testing.B) {
	vars := map[string]string{
		"KOROBKA_MYSQL_DSN":    chattest.MySQLDSN(b),
		"KOROBKA_REDIS_URL":    chattest.RedisURL(b),
		"KOROBKA_REDIS_PREFIX": chattest.RedisPrefix(b),
	}
	hA, hB := newBenchHandler(b, vars), newBenchHandler(b, vars)
	onA := func(method, path, token, body string) *httptest.ResponseRecorder {
		return benchCall(hA, method, path, token, body)
	}
	users := benchUsers(b, onA, 2)
	owner, x := users[0], users[1]
	id := benchGroup(b, onA, owner, nil)
	// A former member keeps the history up to the removal, so the
	// members list (404 for anyone not a member) is what B refuses.
	history := "/v1/dialogs/" + id + "/members?limit=1"
	var lat []time.Duration
	served := 0
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if rec := onA("POST", "/v1/dialogs/"+id+"/members", owner.token, `{"user_ids":["`+x.id+`"]}`); rec.Code != 200 {
			b.Fatalf("add: %d %s", rec.Code, rec.Body)
		}
		deadline := time.Now().Add(10 * time.Second)
		for benchCall(hB, "GET", history, x.token, "").Code != 200 {
			if time.Now().After(deadline) {
				b.Fatal("node B never served the added member")
			}
		}
		if rec := onA("DELETE", "/v1/dialogs/"+id+"/members/"+x.id, owner.token, ""); rec.Code != 204 {
			b.Fatalf("remove: %d %s", rec.Code, rec.Body)
		}
		t0 := time.Now()
		for {
			rec := benchCall(hB, "GET", history, x.token, "")
			if rec.Code == 404 {
				break
			}
			served++
			if time.Now().After(deadline) {
				b.Fatal("node B kept serving the removed member")
			}
		}
		lat = append(lat, time.Since(t0))
	}
	b.StopTimer()
	b.ReportMetric(float64(percentile(lat, 50).Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(percentile(lat, 99).Microseconds())/1000, "p99-ms")
	b.ReportMetric(float64(percentile(lat, 100).Microseconds())/1000, "max-ms")
	b.ReportMetric(float64(served)/float64(b.N), "reads-served-after/op")
}
