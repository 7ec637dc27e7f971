package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/korobka/korobka/chat/chattest"
)

// End-to-end tests of the WebSocket's lifecycle and limits: a session that
// ends ends everywhere, limits belong to the user across sockets and
// nodes, failed handshakes leave no trace.

// nodePair runs fn with two nodes of one deployment: on the embedded
// default both are the same server (it is one node by construction), on
// MySQL + Redis two servers behind an imagined load balancer.
func nodePair(t *testing.T, vars map[string]string, fn func(t *testing.T, a, b *env)) {
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
	t.Run("sqlite+memory", func(t *testing.T) {
		e := newEnv(t, with(nil))
		fn(t, e, e)
	})
	t.Run("mysql+redis two nodes", func(t *testing.T) {
		shared := with(map[string]string{
			"KOROBKA_MYSQL_DSN":    chattest.MySQLDSN(t),
			"KOROBKA_REDIS_URL":    chattest.RedisURL(t),
			"KOROBKA_REDIS_PREFIX": chattest.RedisPrefix(t),
		})
		fn(t, newEnv(t, shared), newEnv(t, shared))
	})
}

// closeCode waits for the server to close c and returns the close code
// (-1 when the connection ended without a close frame).
func closeCode(c *wsClient) int {
	c.t.Helper()
	var ce *websocket.CloseError
	if errors.As(c.waitClosed(), &ce) {
		return ce.Code
	}
	return -1
}

// TestSessionEndClosesSocketsEverywhere: a reused refresh token ends its
// login, and the login's sockets on both nodes close with 4001 at once and
// receive nothing more; EndUserSessions (a block, a role change) closes
// every socket of the user on both nodes. Other sessions stay.
func TestSessionEndClosesSocketsEverywhere(t *testing.T) {
	nodePair(t, nil, func(t *testing.T, nodeA, nodeB *env) {
		anna, boris, id := nodeA.pair()
		annaA := dial(t, nodeA.url, anna.AccessToken)
		annaB := dial(t, nodeB.url, anna.AccessToken)
		// A second login of Anna's on another device: another session.
		other := nodeA.loginTest("+79990000001", "111111")
		otherB := dial(t, nodeB.url, other.AccessToken)

		// The shell refreshes; a thief replays the old refresh token.
		nodeA.want(nodeA.do("POST", "/v1/auth/refresh", "", map[string]string{"refresh_token": anna.RefreshToken}), 200)
		nodeB.wantErr(nodeB.do("POST", "/v1/auth/refresh", "", map[string]string{"refresh_token": anna.RefreshToken}), 401, "token_reused")
		for name, c := range map[string]*wsClient{"node A": annaA, "node B": annaB} {
			if code := closeCode(c); code != 4001 {
				t.Errorf("the reused login's socket on %s: close %d, want 4001", name, code)
			}
		}
		// What is sent to Anna now reaches only her live session.
		nodeA.want(nodeA.do("POST", "/v1/dialogs/"+id+"/messages", boris.AccessToken,
			map[string]any{"client_id": "after-reuse", "text": "private"}), 201)
		otherB.waitFor("the message on the live session", messageWith("after-reuse"))
		annaA.none("a message on a revoked socket", messageWith("after-reuse"))
		annaB.none("a message on a revoked socket", messageWith("after-reuse"))

		// EndUserSessions, as a block or role change calls it, ends every
		// session of Boris, wherever his sockets are.
		borisA := dial(t, nodeA.url, boris.AccessToken)
		borisB := dial(t, nodeB.url, boris.AccessToken)
		if err := nodeA.app.svc.EndUserSessions(context.Background(), mustID(t, boris.User.ID)); err != nil {
			t.Fatal(err)
		}
		for name, c := range map[string]*wsClient{"node A": borisA, "node B": borisB} {
			if code := closeCode(c); code != 4001 {
				t.Errorf("Boris's socket on %s after EndUserSessions: close %d, want 4001", name, code)
			}
		}
		nodeB.wantErr(nodeB.do("GET", "/v1/me", boris.AccessToken, nil), 401, "invalid_token")
		// Anna's other session is untouched by all of it.
		otherB.send(map[string]any{"type": "send", "id": "s", "dialog_id": id, "client_id": "still-here", "text": "hi"})
		otherB.waitFor("the reply", replyTo("s"))
	})
}

// stepClock is a test clock that moves only when told.
type stepClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *stepClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *stepClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// TestSocketOutlivesNoToken: a socket closes with 4001 once its access
// token expires, unless the shell refreshed and sent the fresh token over
// auth before, in which case it stays until that one expires.
func TestSocketOutlivesNoToken(t *testing.T) {
	t.Run("sqlite+memory", func(t *testing.T) { socketExpiryTest(t, nil) })
	t.Run("mysql+redis", func(t *testing.T) {
		socketExpiryTest(t, map[string]string{
			"KOROBKA_MYSQL_DSN":    chattest.MySQLDSN(t),
			"KOROBKA_REDIS_URL":    chattest.RedisURL(t),
			"KOROBKA_REDIS_PREFIX": chattest.RedisPrefix(t),
		})
	})
}

// socketExpiryTest runs the server on a clock the test moves, so tokens
// expire without waiting.
func socketExpiryTest(t *testing.T, vars map[string]string) {
	clock := &stepClock{t: time.Now()}
	e := newEnvConfig(t, vars, func(c *Config) { c.now = clock.Now })
	a, _, _ := e.pair()
	renewed := dial(t, e.url, a.AccessToken)
	stale := dial(t, e.url, a.AccessToken)

	clock.Advance(10 * time.Minute)
	var fresh tokens
	e.want(e.do("POST", "/v1/auth/refresh", "", map[string]string{"refresh_token": a.RefreshToken}), 200).json(t, &fresh)
	renewed.send(map[string]any{"type": "auth", "id": "a1", "access_token": fresh.AccessToken})
	r := renewed.waitFor("the auth reply", replyTo("a1"))
	if r["type"] != "reply" || r["expires_in"] != float64(900) {
		t.Fatalf("auth answered %v, want a reply with expires_in 900", r)
	}

	clock.Advance(5*time.Minute + time.Second) // the first token is dead
	if code := closeCode(stale); code != 4001 {
		t.Errorf("the socket of the expired token: close %d, want 4001", code)
	}
	renewed.send(map[string]any{"type": "sync", "id": "s", "dialogs": map[string]any{}})
	renewed.waitFor("the renewed socket's answer", replyTo("s"))

	clock.Advance(10 * time.Minute) // the fresh one too
	if code := closeCode(renewed); code != 4001 {
		t.Errorf("the renewed socket at its token's expiry: close %d, want 4001", code)
	}
}

// TestFrameBudgetBelongsToTheUser: a user's sockets share one frame budget
// across sockets and nodes; opening more sockets buys nothing.
func TestFrameBudgetBelongsToTheUser(t *testing.T) {
	const burst = 20
	vars := map[string]string{"KOROBKA_WS_RATE": "1", "KOROBKA_WS_BURST": fmt.Sprint(burst)}
	nodePair(t, vars, func(t *testing.T, nodeA, nodeB *env) {
		a := nodeA.loginTest("+79990000001", "111111")
		socks := []*wsClient{dial(t, nodeA.url, a.AccessToken), dial(t, nodeB.url, a.AccessToken),
			dial(t, nodeA.url, a.AccessToken), dial(t, nodeB.url, a.AccessToken)}
		start := time.Now()
		allowed := 0
		const frames = 3 * burst
		for i := range frames {
			socks[i%len(socks)].send(map[string]any{"type": "ping?", "id": fmt.Sprint(i)})
		}
		for i := range frames {
			f := socks[i%len(socks)].waitFor("the answer", replyTo(fmt.Sprint(i)))
			switch code := str(f, "error", "code"); code {
			case "unknown_type":
				allowed++
			case "rate_limited":
			default:
				t.Fatalf("frame %d: %v", i, f)
			}
		}
		// The budget refills one frame a second while the test runs.
		refill := int(time.Since(start)/time.Second) + 1
		if allowed < burst || allowed > burst+refill {
			t.Errorf("4 sockets on 2 nodes got %d frames through, want the user's burst of %d (+%d refill)", allowed, burst, refill)
		}
	})
}

// TestSocketCapBelongsToTheUser: past KOROBKA_MAX_SOCKETS_PER_USER, on
// whichever node, the user's oldest socket closes with 4002.
func TestSocketCapBelongsToTheUser(t *testing.T) {
	nodePair(t, map[string]string{"KOROBKA_MAX_SOCKETS_PER_USER": "2"}, func(t *testing.T, nodeA, nodeB *env) {
		a, b, _ := nodeA.pair()
		oldest := dial(t, nodeA.url, a.AccessToken)
		oldest.send(map[string]any{"type": "sync", "id": "1", "dialogs": map[string]any{}})
		oldest.waitFor("the first socket's answer", replyTo("1"))
		second := dial(t, nodeB.url, a.AccessToken)
		partner := dial(t, nodeB.url, b.AccessToken)
		third := dial(t, nodeB.url, a.AccessToken)
		if code := closeCode(oldest); code != 4002 {
			t.Errorf("the oldest socket: close %d, want 4002", code)
		}
		for i, c := range []*wsClient{second, third, partner} {
			c.send(map[string]any{"type": "sync", "id": fmt.Sprint("s", i), "dialogs": map[string]any{}})
			c.waitFor("an answer", replyTo(fmt.Sprint("s", i)))
		}
	})
}

// TestHandshakesAreLimited: WebSocket handshakes are limited per client
// address before the token is looked up (so guessed tokens cost little)
// and answer 429 with Retry-After.
func TestHandshakesAreLimited(t *testing.T) {
	backendsWith(t, map[string]string{"KOROBKA_WS_HANDSHAKES_PER_ADDR": "30"}, func(t *testing.T, e *env) {
		a := e.loginTest("+79990000001", "111111")
		refused := 0
		for i := range 11 {
			_, err := dialErr(t, e.url, fmt.Sprint("guess-", i), nil)
			var de *dialError
			if !errors.As(err, &de) {
				t.Fatalf("handshake %d: %v", i, err)
			}
			if de.status == http.StatusTooManyRequests {
				refused++
			}
		}
		if refused == 0 {
			t.Error("11 handshakes from one address within a burst of 10 were all looked up")
		}
		_, err := dialErr(t, e.url, a.AccessToken, nil)
		var de *dialError
		if !errors.As(err, &de) || de.status != http.StatusTooManyRequests {
			t.Errorf("a valid token from the flooding address: %v, want 429", err)
		}
	})
}

// TestFailedHandshakesChangeNoPresence: handshakes that are refused after
// the token was accepted (a bad WebSocket version) send watchers no
// presence frames and leave last_seen alone.
func TestFailedHandshakesChangeNoPresence(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		a, b, id := e.pair()
		watcher := dial(t, e.url, b.AccessToken)
		for range 100 {
			req, _ := http.NewRequest("GET", e.url+"/v1/ws", nil)
			req.Header.Set("Authorization", "Bearer "+a.AccessToken)
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
		// A message from Anna after the handshakes: everything the
		// handshakes published reached the watcher before it.
		e.want(e.do("POST", "/v1/dialogs/"+id+"/messages", a.AccessToken, map[string]any{"client_id": "after", "text": "hi"}), 201)
		watcher.waitFor("the message", messageWith("after"))
		watcher.none("presence of failed handshakes", func(f map[string]any) bool {
			return f["type"] == "presence" && f["user_id"] == a.User.ID
		})
		r := e.want(e.do("GET", "/v1/users/"+a.User.ID, b.AccessToken, nil), 200)
		if r.field(t, "last_seen") != nil {
			t.Errorf("failed handshakes set last_seen: %s", r.body)
		}
		if strings.Contains(string(r.body), `"online":true`) {
			t.Errorf("failed handshakes left Anna online: %s", r.body)
		}
	})
}
