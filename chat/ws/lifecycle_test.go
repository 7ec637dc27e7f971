package ws

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/korobka/korobka/chat"
	"github.com/korobka/korobka/chat/wire"
)

// Tests of a connection's life beyond its frames: sessions that end,
// tokens that expire, limits of the user, and closing so that the client
// reads the code.

// testClock is a settable clock for Config.Now.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func newTestClock() *testClock {
	return &testClock{t: time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)}
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *testClock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

// addToken makes token authenticate as p.
func (f *fakeService) addToken(token string, p chat.Principal) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.tokens[token] = p
}

// dialStatus attempts a handshake and returns the HTTP status and error
// code of a refusal (101 and "" on success, the connection closed).
func (e *env) dialStatus(t *testing.T, token string, hdr http.Header) (int, string) {
	t.Helper()
	if hdr == nil {
		hdr = http.Header{}
	}
	if token != "" {
		hdr.Set("Authorization", "Bearer "+token)
	}
	ws, resp, err := websocket.DefaultDialer.Dial(e.url, hdr)
	if err == nil {
		ws.Close()
		return resp.StatusCode, ""
	}
	if resp == nil {
		t.Fatalf("dial: %v", err)
	}
	defer resp.Body.Close()
	var body struct {
		Error struct {
			Code string `json:"code"`
		} `json:"error"`
	}
	json.NewDecoder(resp.Body).Decode(&body)
	if resp.StatusCode == http.StatusTooManyRequests && resp.Header.Get("Retry-After") == "" {
		t.Errorf("429 without Retry-After")
	}
	return resp.StatusCode, body.Error.Code
}

// TestExpiredTokenClosesSocket: a connection lives until its access token
// expires, then closes with 4001, unless the shell sent a fresh token of
// the same user over auth, which the connection then lives by.
func TestExpiredTokenClosesSocket(t *testing.T) {
	clock := newTestClock()
	t0 := clock.Now()
	e := newEnv(t, Config{Now: clock.Now, ExpiryCheck: 5 * time.Millisecond})
	e.svc.addToken("first", chat.Principal{UserID: 1, SessionID: 31, Family: 301, ExpiresAt: t0.Add(15 * time.Minute)})
	e.svc.addToken("fresh", chat.Principal{UserID: 1, SessionID: 32, Family: 301, ExpiresAt: t0.Add(25 * time.Minute)})

	renewed := e.dial(t, "first")
	stale := e.dial(t, "first")
	clock.Set(t0.Add(10 * time.Minute))
	renewed.send(`{"type":"auth","id":"a1","access_token":"fresh"}`)
	if f := renewed.read(); f.Raw != `{"type":"reply","id":"a1","expires_in":900}` {
		t.Fatalf("auth answered %s, want the reply with expires_in 900", f.Raw)
	}

	clock.Set(t0.Add(15 * time.Minute))
	if ce := stale.closed(); ce.Code != CloseLoggedOut || ce.Text != "token expired" {
		t.Errorf("stale connection closed with %v, want %d token expired", ce, CloseLoggedOut)
	}
	renewed.roundTrip()
	waitFor(t, "the stale connection to leave", func() bool { return e.g.Stats().Connections == 1 })
	// It now belongs to the new session: ending that ends it.
	clock.Set(t0.Add(25 * time.Minute))
	if ce := renewed.closed(); ce.Code != CloseLoggedOut {
		t.Errorf("renewed connection at its new expiry: %v, want %d", ce, CloseLoggedOut)
	}
	waitFor(t, "the hub to empty", func() bool { return e.g.Stats().Connections == 0 })
	e.g.expMu.Lock()
	left := len(e.g.expiry)
	e.g.expMu.Unlock()
	if left != 0 {
		t.Errorf("%d connections left in the expiry sweep", left)
	}
}

// TestAuthFrameOfAnotherUserOrDeadTokenEndsSocket: the connection's user
// never changes, and a dead token ends it; a malformed auth frame is only
// an error.
func TestAuthFrameOfAnotherUserOrDeadTokenEndsSocket(t *testing.T) {
	e := newEnv(t, Config{})
	c := e.dial(t, "tok-a1")
	c.send(`{"type":"auth","id":"x"}`)
	if f := c.read(); f.Type != "error" || f.Error.Code != "invalid_frame" || string(f.ID) != `"x"` {
		t.Fatalf("auth without a token: %s, want invalid_frame", f.Raw)
	}
	c.roundTrip()

	for _, token := range []string{"tok-b", "nope"} {
		c := e.dial(t, "tok-a1")
		c.send(`{"type":"auth","id":"a","access_token":"` + token + `"}`)
		if f := c.read(); f.Type != "error" || f.Error.Code != "invalid_token" || string(f.ID) != `"a"` {
			t.Fatalf("auth with %s: %s, want invalid_token", token, f.Raw)
		}
		if ce := c.closed(); ce.Code != CloseLoggedOut {
			t.Errorf("auth with %s: close %v, want %d", token, ce, CloseLoggedOut)
		}
	}
}

// TestSessionEndingDuringHandshakeIsNotMissed: a session that ends after
// the token was checked but before the connection heard its user's topic
// (its close envelope reached nobody) is caught by the second check.
func TestSessionEndingDuringHandshakeIsNotMissed(t *testing.T) {
	e := newEnv(t, Config{})
	e.svc.addToken("ending", chat.Principal{UserID: 1, SessionID: 41, Family: 401})
	e.svc.onAuth = func(token string) {
		if token == "ending" {
			delete(e.svc.tokens, token) // revoked right after the first check
		}
	}
	if status, code := e.dialStatus(t, "ending", nil); status != 401 || code != "invalid_token" {
		t.Errorf("handshake got %d %s, want 401 invalid_token", status, code)
	}
	waitFor(t, "the hub to empty", func() bool { return e.g.Stats() == Stats{} })
}

// TestSessionEndsEveryConnectionKind: the close envelopes a session's end
// publishes close what they name, with 4001, and nothing else.
func TestSessionEndsEveryConnectionKind(t *testing.T) {
	e := newEnv(t, Config{})
	a1, a2, b := e.dial(t, "tok-a1"), e.dial(t, "tok-a2"), e.dial(t, "tok-b")
	err := e.broker.Publish(context.Background(), chat.Publication{
		Topic: chat.UserTopic(1), Payload: chat.Envelope(chat.EnvCloseUser, 0, nil)})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []*client{a1, a2} {
		if ce := c.closed(); ce.Code != CloseLoggedOut {
			t.Errorf("close %v, want %d", ce, CloseLoggedOut)
		}
	}
	b.roundTrip()
}

// TestFrameBudgetIsPerUser: a user's connections share one frame budget;
// another connection is no new budget.
func TestFrameBudgetIsPerUser(t *testing.T) {
	const burst = 6
	frozen := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	e := newEnv(t, Config{Rate: 1, Burst: burst, FrameChunk: 4, Now: func() time.Time { return frozen }})
	conns := []*client{e.dial(t, "tok-a1"), e.dial(t, "tok-a2"), e.dial(t, "tok-a3")}
	allowed, limited := 0, 0
	for i := range 3 * burst {
		c := conns[i%len(conns)]
		c.send(fmt.Sprintf(`{"type":"ping?","id":%d}`, i))
		f := c.read()
		switch {
		case f.Type == "error" && f.Error.Code == "unknown_type":
			allowed++
		case f.Type == "error" && f.Error.Code == "rate_limited":
			limited++
			if f.Error.RetryAfter < 1 {
				t.Errorf("rate_limited without retry_after: %s", f.Raw)
			}
		default:
			t.Fatalf("got %s", f.Raw)
		}
	}
	if allowed != burst {
		t.Errorf("three connections of one user got %d frames through, want the user's burst of %d", allowed, burst)
	}
	// Another user's budget is untouched.
	e.dial(t, "tok-b").roundTrip()
}

// TestSocketCapClosesOldest: past MaxSocketsPerUser the user's oldest
// connection closes with 4002; other users are unaffected.
func TestSocketCapClosesOldest(t *testing.T) {
	e := newEnv(t, Config{MaxSocketsPerUser: 2})
	oldest := e.dial(t, "tok-a1")
	second := e.dial(t, "tok-a2")
	other := e.dial(t, "tok-b")
	third := e.dial(t, "tok-a3")
	if ce := oldest.closed(); ce.Code != CloseTooManySockets {
		t.Errorf("oldest closed with %v, want %d", ce, CloseTooManySockets)
	}
	for _, c := range []*client{second, third, other} {
		c.roundTrip()
	}
	waitFor(t, "three connections", func() bool { return e.g.Stats().Connections == 3 })
}

// TestHandshakeLimits: handshakes are limited per client address, before
// the token is looked up, and per user.
func TestHandshakeLimits(t *testing.T) {
	t.Run("per address", func(t *testing.T) {
		e := newEnv(t, Config{HandshakesPerAddr: chat.Limit{Rate: 1, Period: time.Hour, Burst: 3}})
		for i := range 3 {
			if status, _ := e.dialStatus(t, "nope", nil); status != 401 {
				t.Fatalf("handshake %d: %d, want 401", i+1, status)
			}
		}
		if status, code := e.dialStatus(t, "tok-a1", nil); status != 429 || code != "rate_limited" {
			t.Errorf("fourth handshake from one address: %d %s, want 429 rate_limited", status, code)
		}
	})
	t.Run("per user", func(t *testing.T) {
		e := newEnv(t, Config{HandshakesPerUser: chat.Limit{Rate: 1, Period: time.Hour, Burst: 2}})
		for range 2 {
			if status, _ := e.dialStatus(t, "tok-a1", nil); status != 101 {
				t.Fatalf("handshake: %d, want 101", status)
			}
		}
		if status, code := e.dialStatus(t, "tok-a2", nil); status != 429 || code != "rate_limited" {
			t.Errorf("third handshake of one user: %d %s, want 429 rate_limited", status, code)
		}
		if status, _ := e.dialStatus(t, "tok-b", nil); status != 101 {
			t.Errorf("another user: %d, want 101", status)
		}
	})
	t.Run("per IPv6 /64 behind a trusted proxy", func(t *testing.T) {
		proxies, err := wire.ParseProxies([]string{"127.0.0.1"})
		if err != nil {
			t.Fatal(err)
		}
		e := newEnv(t, Config{TrustedProxies: proxies, HandshakesPerAddr: chat.Limit{Rate: 1, Period: time.Hour, Burst: 2}})
		for i := range 3 {
			hdr := http.Header{"X-Forwarded-For": {fmt.Sprintf("2001:db8:5:5::%x", i+1)}}
			status, _ := e.dialStatus(t, "tok-a1", hdr)
			if want := map[bool]int{true: 101, false: 429}[i < 2]; status != want {
				t.Errorf("handshake %d from the /64: %d, want %d", i+1, status, want)
			}
		}
		hdr := http.Header{"X-Forwarded-For": {"2001:db8:5:6::1"}}
		if status, _ := e.dialStatus(t, "tok-a1", hdr); status != 101 {
			t.Errorf("another /64: %d, want 101", status)
		}
	})
}

// TestPresenceOnlyAfterUpgrade: handshakes that fail after the token was
// accepted (a bad WebSocket version here) report no presence and no
// last_seen; a real connection reports it once.
func TestPresenceOnlyAfterUpgrade(t *testing.T) {
	e := newEnv(t, Config{})
	for range 30 {
		req, _ := http.NewRequest("GET", e.srv.URL+"/v1/ws", nil)
		req.Header.Set("Authorization", "Bearer tok-a1")
		req.Header.Set("Connection", "Upgrade")
		req.Header.Set("Upgrade", "websocket")
		req.Header.Set("Sec-WebSocket-Version", "12")
		req.Header.Set("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode == http.StatusSwitchingProtocols {
			t.Fatal("a bad version upgraded")
		}
	}
	waitFor(t, "the hub to empty", func() bool { return e.g.Stats() == Stats{} })
	e.svc.mu.Lock()
	conn, disc := e.svc.connected[1], e.svc.disconnected[1]
	e.svc.mu.Unlock()
	if conn != 0 || disc != 0 {
		t.Errorf("failed handshakes reported presence: Connected %d, Disconnected %d, want 0", conn, disc)
	}
	c := e.dial(t, "tok-a1")
	c.roundTrip()
	e.svc.mu.Lock()
	conn = e.svc.connected[1]
	e.svc.mu.Unlock()
	if conn != 1 {
		t.Errorf("a real connection: Connected %d times, want 1", conn)
	}
}

// TestSlowConsumerReadsTryAgainLater: a client that reads slowly and keeps
// sending receipts, as a real shell does, and falls behind until its
// outbox overflows, reads close code 1013 after the frames it still had in
// its buffers, not a reset connection (1006).
func TestSlowConsumerReadsTryAgainLater(t *testing.T) {
	e := newEnv(t, Config{Outbox: 8})
	c := e.dial(t, "tok-a1")
	payload := chat.Envelope(chat.EnvFrame, 0, []byte(`{"type":"test","pad":"`+strings.Repeat("x", 16<<10)+`"}`))
	stop := make(chan struct{})
	published := make(chan struct{})
	go func() {
		defer close(published)
		for {
			select {
			case <-stop:
				return
			default:
			}
			e.broker.Publish(context.Background(), chat.Publication{Topic: chat.UserTopic(1), Payload: payload})
			runtime.Gosched()
		}
	}()
	defer func() { close(stop); <-published }()
	// The client reads a frame every 5 ms and acknowledges each, far
	// slower than the publisher.
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	deadline := time.Now().Add(30 * time.Second)
	for frames := 0; ; frames++ {
		<-tick.C
		c.ws.SetReadDeadline(deadline)
		_, _, err := c.ws.ReadMessage()
		if err != nil {
			var ce *websocket.CloseError
			if !errors.As(err, &ce) {
				t.Fatalf("after %d frames the connection ended with %v, want close 1013", frames, err)
			}
			if ce.Code != CloseTryAgainLater {
				t.Fatalf("after %d frames: close %v, want 1013", frames, ce)
			}
			return
		}
		if err := c.ws.WriteMessage(websocket.TextMessage, []byte(`{"type":"delivered","dialog_id":"42","seq":1}`)); err != nil {
			t.Fatalf("after %d frames the client could not write: %v", frames, err)
		}
	}
}
