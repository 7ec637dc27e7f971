package main

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// wsClient is a test device: one WebSocket, frames read in the background
// into a list that tests wait on.
type wsClient struct {
	t    *testing.T
	conn *websocket.Conn

	mu     sync.Mutex
	frames []map[string]any
	closed error
	notify chan struct{}
	done   chan struct{}
}

// dial opens a device connection for token on the server at base.
func dial(t *testing.T, base, token string) *wsClient {
	t.Helper()
	c, err := dialErr(t, base, token, nil)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	return c
}

func dialErr(t *testing.T, base, token string, hdr http.Header) (*wsClient, error) {
	t.Helper()
	u := "ws" + strings.TrimPrefix(base, "http") + "/v1/ws"
	if token != "" {
		u += "?access_token=" + token
	}
	conn, res, err := websocket.DefaultDialer.Dial(u, hdr)
	if err != nil {
		if res != nil {
			return nil, &dialError{status: res.StatusCode, err: err}
		}
		return nil, err
	}
	c := &wsClient{t: t, conn: conn, notify: make(chan struct{}, 1), done: make(chan struct{})}
	go c.read()
	t.Cleanup(c.close)
	return c, nil
}

type dialError struct {
	status int
	err    error
}

func (e *dialError) Error() string { return e.err.Error() }

func (c *wsClient) read() {
	defer close(c.done)
	for {
		_, data, err := c.conn.ReadMessage()
		c.mu.Lock()
		if err != nil {
			c.closed = err
			c.mu.Unlock()
			c.wake()
			return
		}
		// Every frame any test receives must be what the contract says.
		if err := theContract(c.t).ValidateFrame(data); err != nil {
			c.t.Errorf("a server frame breaks schemas/openapi.yaml: %v\n%.300s", err, data)
		}
		var f map[string]any
		if json.Unmarshal(data, &f) == nil {
			c.frames = append(c.frames, f)
		}
		c.mu.Unlock()
		c.wake()
	}
}

func (c *wsClient) wake() {
	select {
	case c.notify <- struct{}{}:
	default:
	}
}

func (c *wsClient) close() {
	c.conn.Close()
	<-c.done
}

// send writes a frame.
func (c *wsClient) send(f map[string]any) {
	c.t.Helper()
	if err := c.conn.WriteJSON(f); err != nil {
		c.t.Fatalf("write frame: %v", err)
	}
}

// waitFor returns the first frame not yet taken that matches, waiting up to
// a deadline; frames before it stay for later waits.
func (c *wsClient) waitFor(what string, match func(map[string]any) bool) map[string]any {
	c.t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		c.mu.Lock()
		for i, f := range c.frames {
			if match(f) {
				c.frames = append(c.frames[:i:i], c.frames[i+1:]...)
				c.mu.Unlock()
				return f
			}
		}
		closed := c.closed
		c.mu.Unlock()
		if closed != nil {
			c.t.Fatalf("waiting for %s: connection closed: %v", what, closed)
		}
		select {
		case <-c.notify:
		case <-deadline:
			c.t.Fatalf("timed out waiting for %s; have %v", what, c.snapshot())
		}
	}
}

// take removes and returns the frames that match, without waiting.
func (c *wsClient) take(match func(map[string]any) bool) []map[string]any {
	c.mu.Lock()
	defer c.mu.Unlock()
	var got, rest []map[string]any
	for _, f := range c.frames {
		if match(f) {
			got = append(got, f)
		} else {
			rest = append(rest, f)
		}
	}
	c.frames = rest
	return got
}

// waitClosed waits for the server to close the connection and returns the
// close error.
func (c *wsClient) waitClosed() error {
	c.t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		c.mu.Lock()
		closed := c.closed
		c.mu.Unlock()
		if closed != nil {
			return closed
		}
		select {
		case <-c.notify:
		case <-deadline:
			c.t.Fatal("timed out waiting for the server to close the connection")
		}
	}
}

// none checks that no frame matching has arrived (call after a later
// frame proved the earlier ones were delivered).
func (c *wsClient) none(what string, match func(map[string]any) bool) {
	c.t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, f := range c.frames {
		if match(f) {
			c.t.Fatalf("got unexpected %s: %v", what, f)
		}
	}
}

func (c *wsClient) snapshot() []map[string]any {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]map[string]any(nil), c.frames...)
}

// typed matches frames of a type.
func typed(typ string) func(map[string]any) bool {
	return func(f map[string]any) bool { return f["type"] == typ }
}

// replyTo matches the reply or error to a request id.
func replyTo(id string) func(map[string]any) bool {
	return func(f map[string]any) bool { return f["id"] == id && (f["type"] == "reply" || f["type"] == "error") }
}

// messageWith matches a message event by client id.
func messageWith(clientID string) func(map[string]any) bool {
	return func(f map[string]any) bool {
		m, ok := f["message"].(map[string]any)
		return f["type"] == "message" && ok && m["client_id"] == clientID
	}
}

// str digs a string out of nested maps.
func str(f map[string]any, path ...string) string {
	var v any = f
	for _, p := range path {
		m, _ := v.(map[string]any)
		v = m[p]
	}
	switch x := v.(type) {
	case string:
		return x
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	}
	return ""
}
