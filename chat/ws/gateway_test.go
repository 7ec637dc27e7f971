package ws

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"go.uber.org/goleak"

	"github.com/korobka/korobka/chat"
	"github.com/korobka/korobka/chat/memory"
	"github.com/korobka/korobka/chat/wire"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// fakeService is a deterministic Service: tokens map to principals, every
// call is recorded, and Send publishes the message event to the sender's
// other devices and to the peer (users 1 and 2 talk to each other) the way
// chat.Service does.
type fakeService struct {
	broker chat.Broker

	mu           sync.Mutex
	tokens       map[string]chat.Principal
	calls        []string
	syncReq      chat.SyncRequest
	syncMsgs     []chat.MessageView // what Sync emits
	sync         chat.SyncResult
	seq          int64
	connected    map[int64]int
	disconnected map[int64]int
	// onAuth, when set, runs under mu after every successful
	// Authenticate, so a test can end a session between two checks.
	onAuth func(token string)
	// beforeAuth, when set, runs first in every Authenticate, outside mu,
	// so a test can hold a handshake inside it.
	beforeAuth func(token string)
	// onTyping, when set, runs in every Typing call, on the goroutine
	// that handles the frame.
	onTyping func()
}

func newFakeService(b chat.Broker) *fakeService {
	return &fakeService{
		broker: b,
		tokens: map[string]chat.Principal{
			"tok-a1": {UserID: 1, SessionID: 11, Family: 101},
			"tok-a2": {UserID: 1, SessionID: 12, Family: 102},
			"tok-a3": {UserID: 1, SessionID: 13, Family: 101},
			"tok-b":  {UserID: 2, SessionID: 21, Family: 201},
		},
		connected:    map[int64]int{},
		disconnected: map[int64]int{},
	}
}

// errDB stands for a failure whose details must not reach clients.
var errDB = errors.New("db: connection refused to 10.0.0.5")

// dialogErr makes some dialog ids fail: 404 is not found, 500 internal.
func dialogErr(id int64) error {
	switch id {
	case 404:
		return chat.ErrNotFound
	case 500:
		return errDB
	}
	return nil
}

func (f *fakeService) record(format string, args ...any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, fmt.Sprintf(format, args...))
}

func (f *fakeService) Calls() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.calls...)
}

func (f *fakeService) Authenticate(ctx context.Context, token string) (chat.Principal, error) {
	if f.beforeAuth != nil {
		f.beforeAuth(token)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	p, ok := f.tokens[token]
	if !ok {
		// "user-N" is user N, for tests that need many users.
		if n, found := strings.CutPrefix(token, "user-"); found {
			if id, err := chat.ParseID(n); err == nil {
				return chat.Principal{UserID: id, SessionID: id, Family: id}, nil
			}
		}
		return chat.Principal{}, chat.ErrInvalidToken
	}
	if f.onAuth != nil {
		f.onAuth(token)
	}
	return p, nil
}

func (f *fakeService) Send(ctx context.Context, p chat.Principal, origin int64, req chat.SendRequest) (chat.MessageView, bool, error) {
	f.record("send user=%d dialog=%d client=%s text=%s att=%s", p.UserID, req.DialogID, req.ClientID, req.Text, req.Attachments)
	if err := dialogErr(req.DialogID); err != nil {
		return chat.MessageView{}, false, err
	}
	f.mu.Lock()
	f.seq++
	seq := f.seq
	f.mu.Unlock()
	m := chat.MessageView{
		ID: chat.FormatID(1000 + seq), DialogID: chat.FormatID(req.DialogID), Seq: seq,
		SenderID: chat.FormatID(p.UserID), ClientID: req.ClientID, Text: req.Text,
		Attachments: json.RawMessage(`[]`), CreatedAt: time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC),
		Status: chat.StatusSent,
	}
	frame, _ := json.Marshal(messageFrame{Type: "message", Message: &m})
	err := f.broker.Publish(ctx,
		chat.Publication{Topic: chat.UserTopic(p.UserID), Payload: chat.Envelope(chat.EnvFrame, origin, frame)},
		chat.Publication{Topic: chat.UserTopic(3 - p.UserID), Payload: chat.Envelope(chat.EnvFrame, 0, frame)})
	return m, true, err
}

func (f *fakeService) MarkDelivered(ctx context.Context, p chat.Principal, dialogID, seq int64) error {
	f.record("delivered user=%d dialog=%d seq=%d", p.UserID, dialogID, seq)
	return dialogErr(dialogID)
}

func (f *fakeService) MarkRead(ctx context.Context, p chat.Principal, dialogID, seq int64) error {
	f.record("read user=%d dialog=%d seq=%d", p.UserID, dialogID, seq)
	return dialogErr(dialogID)
}

func (f *fakeService) Typing(ctx context.Context, p chat.Principal, dialogID int64) error {
	f.record("typing user=%d dialog=%d", p.UserID, dialogID)
	if f.onTyping != nil {
		f.onTyping()
	}
	return dialogErr(dialogID)
}

func (f *fakeService) Sync(ctx context.Context, p chat.Principal, req chat.SyncRequest, emit func(chat.MessageView) error) (chat.SyncResult, error) {
	f.record("sync user=%d", p.UserID)
	f.mu.Lock()
	f.syncReq = req
	msgs, res := f.syncMsgs, f.sync
	f.mu.Unlock()
	for _, m := range msgs {
		if err := emit(m); err != nil {
			return chat.SyncResult{}, err
		}
	}
	return res, nil
}

func (f *fakeService) SetAppState(ctx context.Context, p chat.Principal, connID int64, foreground bool) error {
	f.record("state user=%d foreground=%v", p.UserID, foreground)
	return nil
}

func (f *fakeService) Connected(ctx context.Context, userID int64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.connected[userID]++
}

func (f *fakeService) Disconnected(ctx context.Context, userID int64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.disconnected[userID]++
}

// env is a gateway behind an httptest server with the memory broker.
type env struct {
	g      *Gateway
	srv    *httptest.Server
	svc    *fakeService
	broker *memory.Broker
	url    string // ws://.../v1/ws
}

func newEnv(t testing.TB, cfg Config) *env {
	t.Helper()
	b := memory.NewBroker()
	svc := newFakeService(b)
	if cfg.Limiter == nil {
		cfg.Limiter = memory.NewLimiter(cfg.Now)
	}
	if cfg.Sockets == nil {
		cfg.Sockets = memory.NewSocketCounter()
	}
	if cfg.HandshakesPerUser == (chat.Limit{}) {
		// Tests dial one user far more often than a shell would.
		cfg.HandshakesPerUser = chat.Limit{Rate: 1000, Period: time.Second, Burst: 1000}
	}
	g := New(svc, b, cfg)
	mux := http.NewServeMux()
	mux.Handle("GET /v1/ws", g)
	srv := httptest.NewServer(mux)
	t.Cleanup(func() {
		g.Close()
		srv.Close()
		b.Close()
	})
	return &env{g: g, srv: srv, svc: svc, broker: b, url: "ws" + strings.TrimPrefix(srv.URL, "http") + "/v1/ws"}
}

// dial connects with the token in the Authorization header.
func (e *env) dial(t testing.TB, token string) *client {
	t.Helper()
	h := http.Header{"Authorization": {"Bearer " + token}}
	ws, resp, err := websocket.DefaultDialer.Dial(e.url, h)
	if err != nil {
		t.Fatalf("dial: %v (response %v)", err, resp)
	}
	t.Cleanup(func() { ws.Close() })
	return &client{t: t, ws: ws}
}

// client is a test's end of a connection.
type client struct {
	t  testing.TB
	ws *websocket.Conn
}

func (c *client) send(frame string) {
	c.t.Helper()
	if err := c.ws.WriteMessage(websocket.TextMessage, []byte(frame)); err != nil {
		c.t.Fatalf("write %s: %v", frame, err)
	}
}

// frame is a decoded server frame.
type frame struct {
	Type    string            `json:"type"`
	ID      json.RawMessage   `json:"id"`
	Message *chat.MessageView `json:"message"`
	Synced  map[string]int64  `json:"synced"`
	More    *bool             `json:"more"`
	Error   *wire.ErrorDetail `json:"error"`
	Raw     string            `json:"-"`
}

func (c *client) read() frame {
	c.t.Helper()
	c.ws.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, data, err := c.ws.ReadMessage()
	if err != nil {
		c.t.Fatalf("read: %v", err)
	}
	var f frame
	if err := json.Unmarshal(data, &f); err != nil {
		c.t.Fatalf("server frame %s: %v", data, err)
	}
	f.Raw = string(data)
	return f
}

// closed reads until the connection ends and returns its close error.
func (c *client) closed() *websocket.CloseError {
	c.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		c.ws.SetReadDeadline(deadline)
		_, _, err := c.ws.ReadMessage()
		if err == nil {
			continue
		}
		var ce *websocket.CloseError
		if !errors.As(err, &ce) {
			c.t.Fatalf("connection ended with %v, want a close frame", err)
		}
		return ce
	}
}

// roundTrip proves the connection is usable, and that every frame before
// it was handled (requests are handled in order): an unknown frame type
// with an id must come back as its error.
func (c *client) roundTrip() {
	c.t.Helper()
	c.send(`{"type":"ping?","id":"rt"}`)
	f := c.read()
	if f.Type != "error" || string(f.ID) != `"rt"` || f.Error.Code != "unknown_type" {
		c.t.Fatalf("round trip got %s, want the unknown_type error of id rt", f.Raw)
	}
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func TestHandshake(t *testing.T) {
	e := newEnv(t, Config{AllowedOrigins: []string{"https://app.example.com"}})
	host := strings.TrimPrefix(e.srv.URL, "http://")
	tests := []struct {
		name   string
		query  string
		header http.Header
		status int
		code   string
	}{
		{"bearer header", "", http.Header{"Authorization": {"Bearer tok-a1"}}, http.StatusSwitchingProtocols, ""},
		{"bearer scheme is case-insensitive", "", http.Header{"Authorization": {"bearer tok-a1"}}, http.StatusSwitchingProtocols, ""},
		{"query token", "?access_token=tok-a1", nil, http.StatusSwitchingProtocols, ""},
		{"no token", "", nil, http.StatusUnauthorized, "missing_token"},
		{"bad token", "", http.Header{"Authorization": {"Bearer nope"}}, http.StatusUnauthorized, "invalid_token"},
		{"bad query token", "?access_token=nope", nil, http.StatusUnauthorized, "invalid_token"},
		{"basic auth", "", http.Header{"Authorization": {"Basic dG9rLWExOg=="}}, http.StatusUnauthorized, "missing_token"},
		{"same origin", "?access_token=tok-a1", http.Header{"Origin": {"http://" + host}}, http.StatusSwitchingProtocols, ""},
		{"allowed origin", "?access_token=tok-a1", http.Header{"Origin": {"https://app.example.com"}}, http.StatusSwitchingProtocols, ""},
		{"foreign origin", "?access_token=tok-a1", http.Header{"Origin": {"https://evil.example"}}, http.StatusForbidden, "origin_not_allowed"},
		{"foreign origin without token", "", http.Header{"Origin": {"https://evil.example"}}, http.StatusForbidden, "origin_not_allowed"},
		{"allowed host, other scheme", "?access_token=tok-a1", http.Header{"Origin": {"http://app.example.com"}}, http.StatusForbidden, "origin_not_allowed"},
		{"null origin", "?access_token=tok-a1", http.Header{"Origin": {"null"}}, http.StatusForbidden, "origin_not_allowed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ws, resp, err := websocket.DefaultDialer.Dial(e.url+tt.query, tt.header)
			if ws != nil {
				ws.Close()
			}
			if resp == nil {
				t.Fatalf("no response: %v", err)
			}
			defer resp.Body.Close()
			if resp.StatusCode != tt.status {
				t.Fatalf("status %d, want %d", resp.StatusCode, tt.status)
			}
			if tt.code == "" {
				return
			}
			if err == nil {
				t.Fatal("upgraded, want a refusal")
			}
			if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
				t.Errorf("Content-Type %q, want JSON", ct)
			}
			var body wire.ErrorBody
			if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
				t.Fatalf("error body: %v", err)
			}
			if body.Error.Code != tt.code || body.Error.Message == "" {
				t.Errorf("error %+v, want code %s with a message", body.Error, tt.code)
			}
		})
	}
	// Refused handshakes leave nothing behind.
	waitFor(t, "the accepted connections to close", func() bool { return e.g.Stats().Connections == 0 })
}

// TestHandshakeAdmission checks the node's bound on handshakes in progress:
// with one slot taken by a handshake held inside Authenticate, the next
// handshake does not reach Authenticate, gets 503 unavailable with
// Retry-After once HandshakeWait runs out, and is admitted when the slot
// is free again.
func TestHandshakeAdmission(t *testing.T) {
	e := newEnv(t, Config{Handshakes: 1, HandshakeWait: 300 * time.Millisecond})
	others, release, first := e.holdHandshake(t, "tok-a1")

	_, resp, err := websocket.DefaultDialer.Dial(e.url, http.Header{"Authorization": {"Bearer tok-b"}})
	if err == nil || resp == nil {
		t.Fatalf("second handshake while the slot is taken: err %v, response %v; want 503", err, resp)
	}
	var body wire.ErrorBody
	json.NewDecoder(resp.Body).Decode(&body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable || body.Error.Code != "unavailable" || resp.Header.Get("Retry-After") != "1" {
		t.Errorf("second handshake: %d %+v Retry-After %q; want 503 unavailable, Retry-After 1",
			resp.StatusCode, body.Error, resp.Header.Get("Retry-After"))
	}
	if n := others.Load(); n != 0 {
		t.Errorf("Authenticate ran %d times for others while the only slot was taken, want 0", n)
	}

	release()
	if err := <-first; err != nil {
		t.Fatalf("first handshake: %v", err)
	}
	e.dial(t, "tok-b").roundTrip()
}

// holdHandshake starts a handshake with token and holds it inside
// Authenticate, so that it keeps its admission slot, until release is
// called; result then gets its outcome. others counts the Authenticate
// calls for other tokens meanwhile.
func (e *env) holdHandshake(t testing.TB, token string) (others *atomic.Int64, release func(), result <-chan error) {
	t.Helper()
	var held atomic.Int64
	others = new(atomic.Int64)
	gate := make(chan struct{})
	e.svc.beforeAuth = func(tok string) {
		if tok != token {
			others.Add(1)
			return
		}
		held.Add(1)
		<-gate
	}
	res := make(chan error, 1)
	go func() {
		ws, _, err := websocket.DefaultDialer.Dial(e.url, http.Header{"Authorization": {"Bearer " + token}})
		if err == nil {
			ws.Close()
		}
		res <- err
	}()
	waitFor(t, "the held handshake to take its slot", func() bool { return held.Load() >= 1 })
	return others, sync.OnceFunc(func() { close(gate) }), res
}

func TestNotAHandshake(t *testing.T) {
	e := newEnv(t, Config{})
	req, _ := http.NewRequest(http.MethodGet, e.srv.URL+"/v1/ws?access_token=tok-a1", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(body), `"bad_handshake"`) {
		t.Errorf("got %d %s, want 400 bad_handshake", resp.StatusCode, body)
	}
}

func TestSendReplyAndEvent(t *testing.T) {
	e := newEnv(t, Config{})
	a1 := e.dial(t, "tok-a1")
	a2 := e.dial(t, "tok-a2")
	b := e.dial(t, "tok-b")

	a1.send(`{"type":"send","id":7,"dialog_id":"42","client_id":"c-1","text":"привет","attachments":[]}`)
	reply := a1.read()
	if reply.Type != "reply" || string(reply.ID) != "7" || reply.Message == nil {
		t.Fatalf("got %s, want the reply of id 7 with the message", reply.Raw)
	}
	if m := reply.Message; m.DialogID != "42" || m.ClientID != "c-1" || m.Text != "привет" || m.Seq != 1 {
		t.Errorf("reply message %+v", m)
	}
	if got, want := e.svc.Calls(), []string{"send user=1 dialog=42 client=c-1 text=привет att=[]"}; !slices.Equal(got, want) {
		t.Errorf("calls %q, want %q", got, want)
	}
	for _, c := range []*client{a2, b} {
		ev := c.read()
		if ev.Type != "message" || ev.Message == nil || ev.Message.ID != reply.Message.ID || ev.ID != nil {
			t.Errorf("event %s, want the message event of %s", ev.Raw, reply.Message.ID)
		}
	}
	// The sending connection got the reply and no event: the next frame
	// it reads is the round trip's answer.
	a1.roundTrip()
}

func TestReceiptsAndTyping(t *testing.T) {
	e := newEnv(t, Config{})
	c := e.dial(t, "tok-a1")
	c.send(`{"type":"delivered","dialog_id":"42","seq":3}`)
	c.send(`{"type":"read","dialog_id":"42","seq":2}`)
	c.send(`{"type":"typing","dialog_id":"42"}`)
	c.roundTrip()
	want := []string{"delivered user=1 dialog=42 seq=3", "read user=1 dialog=42 seq=2", "typing user=1 dialog=42"}
	if got := e.svc.Calls(); !slices.Equal(got, want) {
		t.Errorf("calls %q, want %q", got, want)
	}

	// Failures are error frames with the service's code, the request's id
	// when it had one, and no internal details.
	tests := []struct {
		frame, id, code string
	}{
		{`{"type":"read","dialog_id":"404","seq":1,"id":"r1"}`, `"r1"`, "not_found"},
		{`{"type":"delivered","dialog_id":"404","seq":1}`, "", "not_found"},
		{`{"type":"typing","dialog_id":"500"}`, "", "internal"},
		{`{"type":"send","id":"s1","dialog_id":"500","client_id":"x","text":"hi"}`, `"s1"`, "internal"},
	}
	for _, tt := range tests {
		c.send(tt.frame)
		f := c.read()
		if f.Type != "error" || string(f.ID) != tt.id || f.Error == nil || f.Error.Code != tt.code {
			t.Errorf("%s: got %s, want error %s with id %q", tt.frame, f.Raw, tt.code, tt.id)
		}
		if strings.Contains(f.Raw, "10.0.0.5") {
			t.Errorf("%s: error frame leaks the cause: %s", tt.frame, f.Raw)
		}
	}
	c.roundTrip()
}

// TestStateFrame: the app's foreground state goes to the service per
// connection, and a connection that closes in the foreground is reported
// gone from it.
func TestStateFrame(t *testing.T) {
	e := newEnv(t, Config{})
	c := e.dial(t, "tok-a1")
	c.send(`{"type":"state","state":"background"}`) // already: not stored again
	c.send(`{"type":"state","state":"foreground"}`)
	c.send(`{"type":"state","state":"foreground"}`)
	c.send(`{"type":"state","state":"background"}`)
	c.send(`{"type":"state","state":"foreground","id":"s1"}`)
	c.roundTrip()
	want := []string{"state user=1 foreground=true", "state user=1 foreground=false", "state user=1 foreground=true"}
	if got := e.svc.Calls(); !slices.Equal(got, want) {
		t.Fatalf("calls %q, want %q", got, want)
	}
	c.ws.Close()
	waitFor(t, "the closed connection leaving the foreground", func() bool {
		calls := e.svc.Calls()
		return len(calls) == 4 && calls[3] == "state user=1 foreground=false"
	})
	// A connection that never came to the foreground reports nothing.
	b := e.dial(t, "tok-b")
	b.roundTrip()
	b.ws.Close()
	waitFor(t, "the second connection gone", func() bool { return e.g.Stats().Connections == 0 })
	if calls := e.svc.Calls(); len(calls) != 4 {
		t.Fatalf("calls %q: a background connection reported a state on close", calls)
	}
}

func TestSync(t *testing.T) {
	e := newEnv(t, Config{})
	t0 := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	e.svc.syncMsgs = []chat.MessageView{
		{ID: "501", DialogID: "42", Seq: 4, SenderID: "2", Text: "one", Attachments: json.RawMessage(`[]`), CreatedAt: t0, Status: chat.StatusSent},
		{ID: "502", DialogID: "42", Seq: 5, SenderID: "2", Text: "two", Attachments: json.RawMessage(`[]`), CreatedAt: t0, Status: chat.StatusSent},
	}
	e.svc.sync = chat.SyncResult{
		Synced: map[string]int64{"42": 5, "43": 9},
		More:   true,
	}
	c := e.dial(t, "tok-a1")
	c.send(`{"type":"sync","id":"s","dialogs":{"42":3,"43":9,"44":0}}`)
	for _, want := range []string{"501", "502"} {
		f := c.read()
		if f.Type != "message" || f.Message == nil || f.Message.ID != want {
			t.Fatalf("got %s, want message %s", f.Raw, want)
		}
	}
	f := c.read()
	if f.Type != "reply" || string(f.ID) != `"s"` || f.Synced["42"] != 5 || f.Synced["43"] != 9 || f.More == nil || !*f.More {
		t.Fatalf("got %s, want the sync reply", f.Raw)
	}
	e.svc.mu.Lock()
	have := e.svc.syncReq
	e.svc.mu.Unlock()
	if len(have.Seqs) != 3 || have.Seqs[42] != 3 || have.Seqs[43] != 9 || have.Seqs[44] != 0 || len(have.Since) != 0 {
		t.Errorf("Sync got %+v", have)
	}

	// An empty result still answers with an object and more:false.
	e.svc.mu.Lock()
	e.svc.sync = chat.SyncResult{}
	e.svc.syncMsgs = nil
	e.svc.mu.Unlock()
	c.send(`{"type":"sync","id":"s2","dialogs":{}}`)
	if f := c.read(); f.Raw != `{"type":"reply","id":"s2","synced":{},"more":false}` {
		t.Errorf("got %s", f.Raw)
	}

	// The change form: cursors in since, answered in since.
	e.svc.mu.Lock()
	e.svc.sync = chat.SyncResult{Synced: map[string]int64{"42": 5}, Since: map[string]int64{"43": 17}}
	e.svc.mu.Unlock()
	c.send(`{"type":"sync","id":"s3","dialogs":{"42":5},"since":{"43":12}}`)
	if f := c.read(); f.Raw != `{"type":"reply","id":"s3","synced":{"42":5},"since":{"43":17},"more":false}` {
		t.Errorf("got %s", f.Raw)
	}
	e.svc.mu.Lock()
	have = e.svc.syncReq
	e.svc.mu.Unlock()
	if len(have.Seqs) != 1 || have.Seqs[42] != 5 || len(have.Since) != 1 || have.Since[43] != 12 {
		t.Errorf("Sync got %+v", have)
	}
}

func TestBadInput(t *testing.T) {
	e := newEnv(t, Config{})
	c := e.dial(t, "tok-a1")
	tests := []struct {
		name, frame, code, id string
	}{
		{"not json", `hello`, "invalid_json", ""},
		{"truncated", `{"type":"send"`, "invalid_json", ""},
		{"trailing garbage", `{"type":"typing","dialog_id":"1"} x`, "invalid_json", ""},
		{"empty", ``, "invalid_json", ""},
		{"array", `[1,2]`, "invalid_frame", ""},
		{"string", `"send"`, "invalid_frame", ""},
		{"null", `null`, "invalid_frame", ""},
		{"no type", `{"id":"1"}`, "invalid_frame", `"1"`},
		{"type not a string", `{"type":5,"id":"1"}`, "invalid_frame", `"1"`},
		{"unknown type", `{"type":"shout","id":2}`, "unknown_type", "2"},
		{"object id", `{"type":"typing","dialog_id":"1","id":{}}`, "invalid_frame", ""},
		{"send without id", `{"type":"send","dialog_id":"1","client_id":"c"}`, "invalid_frame", ""},
		{"send without dialog", `{"type":"send","id":"1","client_id":"c"}`, "invalid_frame", `"1"`},
		{"send numeric dialog", `{"type":"send","id":"1","dialog_id":42,"client_id":"c"}`, "invalid_frame", `"1"`},
		{"send zero dialog", `{"type":"send","id":"1","dialog_id":"0","client_id":"c"}`, "invalid_frame", `"1"`},
		{"send negative dialog", `{"type":"send","id":"1","dialog_id":"-4","client_id":"c"}`, "invalid_frame", `"1"`},
		{"send word dialog", `{"type":"send","id":"1","dialog_id":"abc","client_id":"c"}`, "invalid_frame", `"1"`},
		{"send huge dialog", `{"type":"send","id":"1","dialog_id":"99999999999999999999","client_id":"c"}`, "invalid_frame", `"1"`},
		{"send without client_id", `{"type":"send","id":"1","dialog_id":"1"}`, "invalid_frame", `"1"`},
		{"send object attachments", `{"type":"send","id":"1","dialog_id":"1","client_id":"c","attachments":{}}`, "invalid_frame", `"1"`},
		{"send text not string", `{"type":"send","id":"1","dialog_id":"1","client_id":"c","text":5}`, "invalid_frame", `"1"`},
		{"read without seq", `{"type":"read","dialog_id":"1"}`, "invalid_frame", ""},
		{"read zero seq", `{"type":"read","dialog_id":"1","seq":0}`, "invalid_frame", ""},
		{"read negative seq", `{"type":"read","dialog_id":"1","seq":-1}`, "invalid_frame", ""},
		{"read fractional seq", `{"type":"read","dialog_id":"1","seq":1.5,"id":"x"}`, "invalid_frame", `"x"`},
		{"read string seq", `{"type":"read","dialog_id":"1","seq":"1"}`, "invalid_frame", ""},
		{"delivered bad dialog", `{"type":"delivered","dialog_id":"","seq":1}`, "invalid_frame", ""},
		{"typing without dialog", `{"type":"typing"}`, "invalid_frame", ""},
		{"sync without id", `{"type":"sync","dialogs":{}}`, "invalid_frame", ""},
		{"sync bad key", `{"type":"sync","id":"s","dialogs":{"x":1}}`, "invalid_frame", `"s"`},
		{"sync negative seq", `{"type":"sync","id":"s","dialogs":{"1":-1}}`, "invalid_frame", `"s"`},
		{"sync dialogs not object", `{"type":"sync","id":"s","dialogs":[1]}`, "invalid_frame", `"s"`},
		{"sync bad since key", `{"type":"sync","id":"s","since":{"x":1}}`, "invalid_frame", `"s"`},
		{"sync negative since", `{"type":"sync","id":"s","since":{"1":-1}}`, "invalid_frame", `"s"`},
		{"sync dialog in both maps", `{"type":"sync","id":"s","dialogs":{"1":3},"since":{"1":4}}`, "invalid_frame", `"s"`},
		{"state without state", `{"type":"state","id":"st"}`, "invalid_frame", `"st"`},
		{"state unknown", `{"type":"state","state":"minimised"}`, "invalid_frame", ""},
		{"state not a string", `{"type":"state","state":true}`, "invalid_frame", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c.t = t
			c.send(tt.frame)
			f := c.read()
			if f.Type != "error" || f.Error == nil || f.Error.Code != tt.code || f.Error.Message == "" {
				t.Fatalf("got %s, want error %s", f.Raw, tt.code)
			}
			if string(f.ID) != tt.id {
				t.Errorf("id %s, want %q", f.ID, tt.id)
			}
		})
	}
	c.t = t
	c.roundTrip()
	if calls := e.svc.Calls(); len(calls) != 0 {
		t.Errorf("bad frames reached the service: %q", calls)
	}
}

func TestReadLimit(t *testing.T) {
	e := newEnv(t, Config{})
	c := e.dial(t, "tok-a1")
	go func() {
		// The server stops reading at 64 KiB; the rest of the write fails.
		w, err := c.ws.NextWriter(websocket.TextMessage)
		if err != nil {
			return
		}
		w.Write([]byte(`{"type":"send","text":"` + strings.Repeat("a", 4<<20) + `"}`))
		w.Close()
	}()
	if ce := c.closed(); ce.Code != websocket.CloseMessageTooBig {
		t.Errorf("close %v, want 1009", ce)
	}
	waitFor(t, "the connection to leave the hub", func() bool { return e.g.Stats().Connections == 0 })
}

func TestRateLimit(t *testing.T) {
	const burst = 5
	frozen := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	e := newEnv(t, Config{Rate: 1, Burst: burst, Now: func() time.Time { return frozen }})
	c := e.dial(t, "tok-a1")
	flood := make(chan struct{})
	go func() {
		defer close(flood)
		for i := 0; ; i++ {
			if err := c.ws.WriteMessage(websocket.TextMessage, fmt.Appendf(nil, `{"type":"typing","dialog_id":"42","id":%d}`, i)); err != nil {
				return
			}
		}
	}()
	var limited []string
	var ce *websocket.CloseError
	for ce == nil {
		c.ws.SetReadDeadline(time.Now().Add(10 * time.Second))
		_, data, err := c.ws.ReadMessage()
		if err != nil {
			if !errors.As(err, &ce) {
				t.Fatalf("connection ended with %v, want a close frame", err)
			}
			break
		}
		var f frame
		json.Unmarshal(data, &f)
		if f.Type != "error" || f.Error.Code != "rate_limited" {
			t.Fatalf("got %s, want rate_limited errors", data)
		}
		limited = append(limited, string(f.ID))
	}
	<-flood
	if ce.Code != websocket.ClosePolicyViolation {
		t.Errorf("close %v, want 1008", ce)
	}
	if len(limited) == 0 || limited[0] != fmt.Sprint(burst) {
		t.Errorf("rate_limited ids %v, want the first to be %d", limited, burst)
	}
	if n := len(e.svc.Calls()); n != burst {
		t.Errorf("%d frames reached the service, want the burst of %d", n, burst)
	}
}

func TestRateLimitRefills(t *testing.T) {
	var mu sync.Mutex
	now := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	e := newEnv(t, Config{Rate: 10, Burst: 2, Now: clock})
	c := e.dial(t, "tok-a1")
	c.send(`{"type":"typing","dialog_id":"1"}`)
	c.send(`{"type":"typing","dialog_id":"1"}`)
	c.send(`{"type":"typing","dialog_id":"1","id":"third"}`)
	if f := c.read(); f.Type != "error" || f.Error.Code != "rate_limited" || string(f.ID) != `"third"` {
		t.Fatalf("got %s, want rate_limited for the third frame", f.Raw)
	}
	mu.Lock()
	now = now.Add(time.Second)
	mu.Unlock()
	c.roundTrip()
}

// TestSlowConsumer fills the socket and the outbox of a client that never
// reads, while another client of the same user reads every event.
//
// The server closes the slow client with a close frame and then waits up
// to CloseWait for its answer (so a client that does read sees the code);
// this one never answers, so its connection counts until CloseWait ends.
// The loop below is bounded by publications, not time: with the default
// 10 s wait a fast loop could spend its whole bound inside that wait.
func TestSlowConsumer(t *testing.T) {
	e := newEnv(t, Config{Outbox: 8, WriteWait: 200 * time.Millisecond, CloseWait: 50 * time.Millisecond})
	// A small receive buffer makes the slow client's socket fill sooner.
	d := websocket.Dialer{NetDialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		conn, err := (&net.Dialer{}).DialContext(ctx, network, addr)
		if err == nil {
			conn.(*net.TCPConn).SetReadBuffer(4096)
		}
		return conn, err
	}}
	slow, _, err := d.Dial(e.url+"?access_token=tok-a2", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer slow.Close()
	fast := e.dial(t, "tok-a1")

	payload := `{"type":"test","pad":"` + strings.Repeat("x", 64<<10) + `"}`
	publish := func() {
		err := e.broker.Publish(context.Background(), chat.Publication{
			Topic: chat.UserTopic(1), Payload: chat.Envelope(chat.EnvFrame, 0, []byte(payload))})
		if err != nil {
			t.Fatal(err)
		}
	}
	for i := 0; e.g.Stats().Connections == 2; i++ {
		if i == 10000 {
			t.Fatal("the slow consumer was never closed")
		}
		publish()
		if f := fast.read(); f.Type != "test" {
			t.Fatalf("fast client got %.100s", f.Raw)
		}
	}
	// The fast client keeps receiving after the slow one is gone.
	for range 3 {
		publish()
		if f := fast.read(); f.Type != "test" {
			t.Fatalf("fast client got %.100s", f.Raw)
		}
	}
	if s := e.g.Stats(); s.Connections != 1 || s.Users != 1 {
		t.Errorf("stats %+v, want one connection of one user", s)
	}
}

func TestCloseFamily(t *testing.T) {
	e := newEnv(t, Config{})
	a1 := e.dial(t, "tok-a1") // family 101
	a2 := e.dial(t, "tok-a2") // family 102
	a3 := e.dial(t, "tok-a3") // family 101
	b := e.dial(t, "tok-b")   // another user
	err := e.broker.Publish(context.Background(), chat.Publication{
		Topic: chat.UserTopic(1), Payload: chat.Envelope(chat.EnvCloseFamily, 101, nil)})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []*client{a1, a3} {
		if ce := c.closed(); ce.Code != CloseLoggedOut || ce.Text != "session ended" {
			t.Errorf("close %v, want %d session ended", ce, CloseLoggedOut)
		}
	}
	a2.roundTrip()
	b.roundTrip()
	waitFor(t, "the family's connections to leave", func() bool { return e.g.Stats().Connections == 2 })
}

func TestReset(t *testing.T) {
	e := newEnv(t, Config{})
	cs := []*client{e.dial(t, "tok-a1"), e.dial(t, "tok-a2"), e.dial(t, "tok-b")}
	e.g.Reset()
	for _, c := range cs {
		if ce := c.closed(); ce.Code != websocket.CloseServiceRestart {
			t.Errorf("close %v, want 1012", ce)
		}
	}
	waitFor(t, "the hub to empty", func() bool { return e.g.Stats() == Stats{} })
	// The gateway keeps serving: clients reconnect and sync.
	e.dial(t, "tok-a1").roundTrip()
}

func TestShutdown(t *testing.T) {
	b := memory.NewBroker()
	defer b.Close()
	svc := newFakeService(b)
	g := New(svc, b, Config{Limiter: memory.NewLimiter(nil), Sockets: memory.NewSocketCounter()})
	srv := httptest.NewServer(g)
	url := "ws" + strings.TrimPrefix(srv.URL, "http")
	var cs []*websocket.Conn
	for _, tok := range []string{"tok-a1", "tok-a2", "tok-b"} {
		ws, _, err := websocket.DefaultDialer.Dial(url+"?access_token="+tok, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer ws.Close()
		cs = append(cs, ws)
	}
	// Clients answer the close frame only while reading, as real ones do.
	codes := make(chan int, len(cs))
	for _, ws := range cs {
		go func() {
			for {
				if _, _, err := ws.ReadMessage(); err != nil {
					var ce *websocket.CloseError
					if errors.As(err, &ce) {
						codes <- ce.Code
					} else {
						codes <- -1
					}
					return
				}
			}
		}()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := g.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	for range cs {
		if code := <-codes; code != websocket.CloseGoingAway {
			t.Errorf("close code %d, want 1001", code)
		}
	}
	if s := g.Stats(); s != (Stats{}) {
		t.Errorf("stats after shutdown %+v", s)
	}
	svc.mu.Lock()
	if svc.connected[1] != 1 || svc.disconnected[1] != 1 || svc.connected[2] != 1 || svc.disconnected[2] != 1 {
		t.Errorf("presence connected %v disconnected %v, want one each", svc.connected, svc.disconnected)
	}
	svc.mu.Unlock()

	// No new connections after shutdown.
	_, resp, err := websocket.DefaultDialer.Dial(url+"?access_token=tok-a1", nil)
	if err == nil || resp == nil || resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("dial after shutdown: %v %v, want 503", resp, err)
	}
	if err := g.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	srv.Close()
	goleak.VerifyNone(t)
}

// TestChurn connects and disconnects one user's devices concurrently. The
// subscription must follow the connections: presence is reported once per
// first and last connection, and a connection opened after the churn
// receives events.
func TestChurn(t *testing.T) {
	e := newEnv(t, Config{})
	var wg sync.WaitGroup
	var failed atomic.Int32
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 20 {
				ws, _, err := websocket.DefaultDialer.Dial(e.url+"?access_token=tok-a1", nil)
				if err != nil {
					failed.Add(1)
					return
				}
				ws.Close()
			}
		}()
	}
	wg.Wait()
	if failed.Load() != 0 {
		t.Fatal("dials failed")
	}
	waitFor(t, "the hub to empty", func() bool { return e.g.Stats() == Stats{} })
	e.svc.mu.Lock()
	conn, disc := e.svc.connected[1], e.svc.disconnected[1]
	e.svc.mu.Unlock()
	if conn == 0 || conn != disc {
		t.Errorf("Connected %d times, Disconnected %d, want equal and positive", conn, disc)
	}
	a1 := e.dial(t, "tok-a1")
	b := e.dial(t, "tok-b")
	b.send(`{"type":"send","id":1,"dialog_id":"5","client_id":"c","text":"hi"}`)
	if f := b.read(); f.Type != "reply" {
		t.Fatalf("got %s, want reply", f.Raw)
	}
	if f := a1.read(); f.Type != "message" {
		t.Fatalf("got %s, want the message event", f.Raw)
	}
}

func TestPing(t *testing.T) {
	e := newEnv(t, Config{PingInterval: 20 * time.Millisecond, PongWait: 200 * time.Millisecond})
	c := e.dial(t, "tok-a1")
	var pings atomic.Int32
	c.ws.SetPingHandler(func(data string) error {
		pings.Add(1)
		return c.ws.WriteControl(websocket.PongMessage, []byte(data), time.Now().Add(time.Second))
	})
	done := make(chan error, 1)
	go func() {
		_, _, err := c.ws.ReadMessage()
		done <- err
	}()
	// A client that answers pings stays well past PongWait.
	waitFor(t, "20 pings", func() bool { return pings.Load() >= 20 })
	if s := e.g.Stats(); s.Connections != 1 {
		t.Fatalf("stats %+v, want the live connection", s)
	}
	// One that answers nothing is dropped after PongWait.
	silent, _, err := websocket.DefaultDialer.Dial(e.url+"?access_token=tok-b", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	waitFor(t, "the silent client to be dropped", func() bool { return e.g.Stats().Connections == 1 })
	c.ws.Close()
	<-done
}

func TestOriginAllowed(t *testing.T) {
	// originAllowed compares hosts, not prefixes: a look-alike host is refused.
	g := New(nil, nil, Config{AllowedOrigins: []string{"https://app.example.com/"}})
	for origin, want := range map[string]bool{
		"":                                  true,
		"https://app.example.com":           true,
		"HTTPS://APP.EXAMPLE.COM":           true,
		"https://app.example.com.evil.test": false,
		"https://evil.test":                 false,
		"http://korobka.test":               true,
		"http://korobka.test.evil":          false,
		"not a url":                         false,
	} {
		r := &http.Request{Host: "korobka.test", Header: http.Header{}, URL: &url.URL{}}
		if origin != "" {
			r.Header.Set("Origin", origin)
		}
		if got := g.originAllowed(r); got != want {
			t.Errorf("origin %q allowed %v, want %v", origin, got, want)
		}
	}
}

// TestSyncReplaysAreNotWrittenTwice: a message a sync replayed and whose
// live event arrives after (it was published while or after the sync read
// it) reaches the device once; a newer message and an edit after a replay
// by change cursor still arrive.
func TestSyncReplaysAreNotWrittenTwice(t *testing.T) {
	e := newEnv(t, Config{})
	t0 := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	msg := func(seq, change int64, edited bool) chat.MessageView {
		m := chat.MessageView{ID: chat.MessageID(42, seq), DialogID: "42", Seq: seq, Change: change, SenderID: "2",
			Text: fmt.Sprint("m", seq), Attachments: json.RawMessage(`[]`), CreatedAt: t0, Status: chat.StatusSent}
		if edited {
			m.EditedAt = &t0
		}
		return m
	}
	e.svc.syncMsgs = []chat.MessageView{msg(4, 4, false), msg(5, 7, true)}
	e.svc.sync = chat.SyncResult{Since: map[string]int64{"42": 7}}
	c := e.dial(t, "tok-a1")
	c.send(`{"type":"sync","id":"s","since":{"42":3}}`)
	for range 3 { // two replayed messages, the reply
		c.read()
	}
	publish := func(m chat.MessageView) {
		t.Helper()
		payload := chat.MessageEnvelope(0, chat.MessageMark{DialogID: 42, Seq: m.Seq, Change: m.Change, New: m.EditedAt == nil},
			chat.EncodeEvent(chat.Event{Type: chat.EventMessage, Message: &m}))
		if err := e.broker.Publish(context.Background(), chat.Publication{Topic: chat.UserTopic(1), Payload: payload}); err != nil {
			t.Fatal(err)
		}
	}
	publish(msg(4, 4, false)) // replayed: skipped
	publish(msg(5, 7, true))  // replayed edit: skipped
	publish(msg(6, 8, false)) // new: written
	publish(msg(4, 9, true))  // a later edit of a replayed message: written
	for _, want := range []string{"42.6", "42.4"} {
		if f := c.read(); f.Type != "message" || f.Message.ID != want {
			t.Fatalf("got %s, want message %s", f.Raw, want)
		}
	}
}

// writers counts the connections' writer goroutines running now.
func writers() int {
	buf := make([]byte, 1<<20)
	n := runtime.Stack(buf, true)
	return strings.Count(string(buf[:n]), "ws.(*conn).writeLoop(")
}

// TestIdleConnectionHasNoWriter is issue 15 item 4: a connection's writer
// goroutine runs only while there is something to write, so an idle
// connection costs one goroutine, not two; a frame or a ping later starts
// one again, and what was queued is written.
func TestIdleConnectionHasNoWriter(t *testing.T) {
	e := newEnv(t, Config{})
	var clients []*client
	for _, tok := range []string{"tok-a1", "tok-a2", "tok-b"} {
		c := e.dial(t, tok)
		c.roundTrip() // the answer was written by a writer that then ended
		clients = append(clients, c)
	}
	waitFor(t, "no writer goroutines on idle connections", func() bool { return writers() == 0 })
	a1, b := clients[0], clients[2]
	a1.send(`{"type":"send","id":8,"dialog_id":"42","client_id":"c-2","text":"снова","attachments":[]}`)
	if reply := a1.read(); reply.Type != "reply" || string(reply.ID) != "8" {
		t.Fatalf("got %s, want the reply of id 8", reply.Raw)
	}
	if ev := b.read(); ev.Type != "message" || ev.Message == nil || ev.Message.Text != "снова" {
		t.Fatalf("got %s, want the message event", ev.Raw)
	}
	waitFor(t, "the writers to end again", func() bool { return writers() == 0 })
}

// TestFramesAreHandledOffTheReader is issue 15: the reader goroutine only
// reads, so that the deep stack a request may need (the service, the
// store) does not stay with it for the connection's life. Each frame is
// handled on a goroutine of its own, in order, and none is left once the
// connection is idle.
func TestFramesAreHandledOffTheReader(t *testing.T) {
	e := newEnv(t, Config{})
	var mu sync.Mutex
	var onReader []bool
	e.svc.onTyping = func() {
		buf := make([]byte, 64<<10)
		n := runtime.Stack(buf, false)
		mu.Lock()
		defer mu.Unlock()
		onReader = append(onReader, strings.Contains(string(buf[:n]), "ws.(*conn).readLoop("))
	}
	c := e.dial(t, "tok-a1")
	for i := range 3 {
		c.send(fmt.Sprintf(`{"type":"typing","id":%d,"dialog_id":"%d"}`, i, 40+i))
	}
	c.roundTrip()
	mu.Lock()
	got := onReader
	mu.Unlock()
	if len(got) != 3 {
		t.Fatalf("typing handled %d times, want 3", len(got))
	}
	for i, r := range got {
		if r {
			t.Errorf("frame %d was handled on the reader goroutine", i)
		}
	}
	var typing []string
	for _, call := range e.svc.Calls() {
		if strings.HasPrefix(call, "typing ") {
			typing = append(typing, call)
		}
	}
	if want := []string{"typing user=1 dialog=40", "typing user=1 dialog=41", "typing user=1 dialog=42"}; !slices.Equal(typing, want) {
		t.Errorf("calls %q, want %q in order", typing, want)
	}
	waitFor(t, "no frame handler on the idle connection", func() bool {
		buf := make([]byte, 1<<20)
		n := runtime.Stack(buf, true)
		return !strings.Contains(string(buf[:n]), "ws.(*conn).serveFrame(")
	})
}

// readerStacks returns the stacks of the connections' reader goroutines.
func readerStacks() []string {
	buf := make([]byte, 1<<20)
	n := runtime.Stack(buf, true)
	var readers []string
	for _, g := range strings.Split(string(buf[:n]), "\n\n") {
		if strings.Contains(g, "ws.(*conn).readLoop(") {
			readers = append(readers, g)
		}
	}
	return readers
}

// TestIdleReaderWaitsOutsideGorilla is issue 15: an idle reader parks in a
// wait for its socket (awaitFrame), not in gorilla's read, which needs
// three times the stack; frames the client sent together, of which
// gorilla buffered the second while reading the first, are both handled
// without waiting for more.
func TestIdleReaderWaitsOutsideGorilla(t *testing.T) {
	if peekReadable == nil {
		t.Skip("no socket peek on this platform")
	}
	e := newEnv(t, Config{})
	c := e.dial(t, "tok-a1")
	c.roundTrip()
	waitFor(t, "the reader to park in awaitFrame", func() bool {
		rs := readerStacks()
		return len(rs) == 1 && strings.Contains(rs[0], "ws.(*conn).awaitFrame(") &&
			!strings.Contains(rs[0], "websocket.(*Conn).ReadMessage(")
	})
	// Two masked client text frames in one write.
	var both []byte
	for _, payload := range []string{`{"type":"ping?","id":"one"}`, `{"type":"ping?","id":"two"}`} {
		mask := []byte{1, 2, 3, 4}
		both = append(both, 0x81, 0x80|byte(len(payload)))
		both = append(both, mask...)
		for i := range len(payload) {
			both = append(both, payload[i]^mask[i%4])
		}
	}
	if _, err := c.ws.NetConn().Write(both); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{`"one"`, `"two"`} {
		if f := c.read(); f.Type != "error" || string(f.ID) != id {
			t.Fatalf("got %s, want the error of id %s", f.Raw, id)
		}
	}
}

// TestIdleConnectionHoldsNoWaitChannels is issue 15: the channels a reply
// waits on when the outbox is full, and finish waits on for the reader,
// are made when something waits, not for every connection.
func TestIdleConnectionHoldsNoWaitChannels(t *testing.T) {
	e := newEnv(t, Config{})
	c := e.dial(t, "tok-a1")
	c.roundTrip()
	conns := e.g.allConns()
	if len(conns) != 1 {
		t.Fatalf("%d connections, want 1", len(conns))
	}
	sc := conns[0]
	sc.mu.Lock()
	room, readerDone := sc.room, sc.readerDone
	sc.mu.Unlock()
	if room != nil || readerDone != nil {
		t.Errorf("idle connection holds room %v and readerDone %v, want neither", room != nil, readerDone != nil)
	}
}
