package ws

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/korobka/korobka/chat"
)

// Attacks on the reader (frames handled off the reader, the readiness wait
// outside gorilla, pongs noted for the writer) and on handshake admission,
// as a buggy or hostile client would make them.

// clientFrame is one masked client frame: fin and opcode as RFC 6455
// section 5.2 lays them out, payloads up to 125 bytes.
func clientFrame(fin bool, opcode byte, payload string) []byte {
	b0 := opcode
	if fin {
		b0 |= 0x80
	}
	mask := []byte{0x37, 0xfa, 0x21, 0x3d}
	f := append([]byte{b0, 0x80 | byte(len(payload))}, mask...)
	for i := range len(payload) {
		f = append(f, payload[i]^mask[i%4])
	}
	return f
}

func textFrame(payload string) []byte { return clientFrame(true, websocket.TextMessage, payload) }

// writeRaw writes bytes to the client's socket, under gorilla.
func (c *client) writeRaw(b []byte) {
	c.t.Helper()
	if _, err := c.ws.NetConn().Write(b); err != nil {
		c.t.Fatalf("raw write: %v", err)
	}
}

// expectIDs reads error frames and checks they answer ids, in order.
func (c *client) expectIDs(ids ...string) {
	c.t.Helper()
	for _, id := range ids {
		if f := c.read(); f.Type != "error" || string(f.ID) != `"`+id+`"` {
			c.t.Fatalf("got %s, want the error of id %s", f.Raw, id)
		}
	}
}

func unknownFrame(id string) string { return `{"type":"ping?","id":"` + id + `"}` }

// A frame split anywhere (inside the header, the mask, the payload), with
// pauses, is read whole; several frames and the start of another in one
// segment are all handled, in order, and the split one after them.
func TestAttackFramesSplitAcrossSegments(t *testing.T) {
	e := newEnv(t, Config{})
	c := e.dial(t, "tok-a1")
	c.roundTrip()
	f := textFrame(unknownFrame("split"))
	for _, cut := range [][2]int{{0, 1}, {1, 3}, {3, 6}, {6, 9}, {9, len(f)}} {
		c.writeRaw(f[cut[0]:cut[1]])
		time.Sleep(20 * time.Millisecond)
	}
	c.expectIDs("split")

	// Three whole frames and half of a fourth in one segment, the rest
	// of the fourth after a pause.
	var seg []byte
	for _, id := range []string{"a", "b", "c"} {
		seg = append(seg, textFrame(unknownFrame(id))...)
	}
	fourth := textFrame(unknownFrame("d"))
	seg = append(seg, fourth[:4]...)
	c.writeRaw(seg)
	c.expectIDs("a", "b", "c")
	time.Sleep(20 * time.Millisecond)
	c.writeRaw(fourth[4:])
	c.expectIDs("d")

	// More frames in one write than the 1 KiB read buffer holds.
	var big []byte
	var ids []string
	for i := range 60 {
		id := fmt.Sprint("m", i)
		ids = append(ids, id)
		big = append(big, textFrame(unknownFrame(id))...)
	}
	c.writeRaw(big)
	c.expectIDs(ids...)
	c.roundTrip()
}

// A fragmented message, with a ping and a pong between its fragments and
// pauses inside them, is handled once, as one frame.
func TestAttackFragmentedMessage(t *testing.T) {
	e := newEnv(t, Config{})
	c := e.dial(t, "tok-a1")
	c.roundTrip()
	msg := unknownFrame("frag")
	parts := []string{msg[:5], msg[5:12], msg[12:]}
	pongs := make(chan string, 1)
	c.ws.SetPongHandler(func(s string) error { pongs <- s; return nil })
	c.writeRaw(clientFrame(false, websocket.TextMessage, parts[0]))
	time.Sleep(20 * time.Millisecond)
	c.writeRaw(clientFrame(true, websocket.PingMessage, "mid"))
	second := clientFrame(false, 0, parts[1])
	c.writeRaw(second[:3])
	time.Sleep(20 * time.Millisecond)
	c.writeRaw(second[3:])
	c.writeRaw(clientFrame(true, websocket.PongMessage, "mid"))
	c.writeRaw(clientFrame(true, 0, parts[2]))
	c.expectIDs("frag")
	if s := <-pongs; s != "mid" {
		t.Errorf("pong %q, want mid", s)
	}
	c.roundTrip()
}

// A client that sends frames and half-closes its side: the frames are
// handled, the answers it asked for still reach it, and the connection
// ends and leaves the hub.
func TestAttackFrameThenHalfClose(t *testing.T) {
	e := newEnv(t, Config{})
	for range 10 {
		c := e.dial(t, "tok-b")
		c.send(unknownFrame("last"))
		if err := c.ws.NetConn().(*net.TCPConn).CloseWrite(); err != nil {
			t.Fatal(err)
		}
		c.expectIDs("last")
		c.ws.Close()
	}
	waitFor(t, "the connections to leave the hub", func() bool { return e.g.Stats().Connections == 0 })
	c := e.dial(t, "tok-a1")
	c.roundTrip()
	c.send(`{"type":"typing","dialog_id":"7"}`)
	if err := c.ws.NetConn().(*net.TCPConn).CloseWrite(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the connection to leave the hub", func() bool { return e.g.Stats().Connections == 0 })
	calls := e.svc.Calls()
	if len(calls) != 1 || calls[0] != "typing user=1 dialog=7" {
		t.Errorf("calls %q, want the typing frame handled", calls)
	}
}

// A close frame that arrives while a handler runs is read after it: the
// handler finishes, the close is answered with 1000, and a frame sent after
// the close is not handled.
func TestAttackCloseWhileHandlerRuns(t *testing.T) {
	e := newEnv(t, Config{})
	entered, gate := e.holdTyping()
	c := e.dial(t, "tok-a1")
	c.send(`{"type":"typing","dialog_id":"7"}`)
	<-entered
	var seg []byte
	seg = append(seg, clientFrame(true, websocket.CloseMessage, string(websocket.FormatCloseMessage(websocket.CloseNormalClosure, "bye")))...)
	seg = append(seg, textFrame(`{"type":"typing","dialog_id":"8"}`)...)
	c.writeRaw(seg)
	time.Sleep(20 * time.Millisecond)
	close(gate)
	if ce := c.closed(); ce.Code != websocket.CloseNormalClosure {
		t.Errorf("close %v, want 1000", ce)
	}
	waitFor(t, "the connection to leave the hub", func() bool { return e.g.Stats().Connections == 0 })
	if calls := e.svc.Calls(); len(calls) != 1 {
		t.Errorf("calls %q, want only the frame before the close", calls)
	}
}

// Frames that arrive while a slow Send runs wait for it: replies come in
// order, and each frame is counted once against the user's budget.
func TestAttackFramesDuringSlowSend(t *testing.T) {
	const burst = 6
	frozen := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	e := newEnv(t, Config{Rate: 1, Burst: burst, FrameChunk: 1, Now: func() time.Time { return frozen }})
	entered, gate := e.holdTyping()
	c := e.dial(t, "tok-a1")
	c.send(`{"type":"typing","dialog_id":"7","id":"slow"}`)
	<-entered
	var seg []byte
	for i := 1; i < burst; i++ {
		seg = append(seg, textFrame(unknownFrame(fmt.Sprint("f", i)))...)
	}
	seg = append(seg, textFrame(unknownFrame("over"))...)
	c.writeRaw(seg)
	time.Sleep(20 * time.Millisecond)
	close(gate)
	for i := 1; i < burst; i++ {
		c.expectIDs(fmt.Sprint("f", i))
	}
	if f := c.read(); f.Type != "error" || string(f.ID) != `"over"` || f.Error.Code != "rate_limited" {
		t.Fatalf("got %s, want rate_limited for the frame past the burst", f.Raw)
	}
}

// A client may ping: it gets its pong, and the connection keeps working.
func TestAttackClientPings(t *testing.T) {
	e := newEnv(t, Config{})
	c := e.dial(t, "tok-a1")
	pongs := make(chan string, 3)
	c.ws.SetPongHandler(func(s string) error { pongs <- s; return nil })
	for i := range 3 {
		if err := c.ws.WriteControl(websocket.PingMessage, []byte(fmt.Sprint("p", i)), time.Now().Add(time.Second)); err != nil {
			t.Fatal(err)
		}
	}
	c.roundTrip()
	for i := range 3 {
		if s := <-pongs; s != fmt.Sprint("p", i) {
			t.Errorf("pong %q, want p%d", s, i)
		}
	}
}

// A client that reads (so gorilla would answer pings) but drops every ping
// is dropped after PongWait, though the pongs of others go through the
// writer; one that sends nothing but pongs stays.
func TestAttackPongs(t *testing.T) {
	e := newEnv(t, Config{PingInterval: 20 * time.Millisecond, PongWait: 200 * time.Millisecond})
	deaf := e.dial(t, "tok-b")
	deaf.ws.SetPingHandler(func(string) error { return nil })
	deafDone := make(chan error, 1)
	go func() {
		_, _, err := deaf.ws.ReadMessage()
		deafDone <- err
	}()

	live := e.dial(t, "tok-a1")
	var pings atomic.Int32
	live.ws.SetPingHandler(func(string) error { pings.Add(1); return nil })
	liveDone := make(chan error, 1)
	go func() {
		_, _, err := live.ws.ReadMessage()
		liveDone <- err
	}()
	stop := make(chan struct{})
	pongsDone := make(chan struct{})
	go func() {
		defer close(pongsDone)
		for {
			select {
			case <-stop:
				return
			case <-time.After(30 * time.Millisecond):
			}
			if live.ws.WriteControl(websocket.PongMessage, nil, time.Now().Add(time.Second)) != nil {
				return
			}
		}
	}()
	if err := <-deafDone; err == nil {
		t.Fatal("the deaf client read a message, want its connection dropped")
	}
	// The live client has outlived several PongWaits on pongs alone.
	waitFor(t, "30 pings to the live client", func() bool { return pings.Load() >= 30 })
	if s := e.g.Stats(); s.Connections != 1 {
		t.Errorf("stats %+v, want the client that sends pongs alive", s)
	}
	close(stop)
	<-pongsDone
	live.ws.Close()
	<-liveDone
}

// A reader that got a pong parks in awaitFrame again, not in gorilla's
// read: every idle connection answers the node's pings, so otherwise all
// idle readers sit in gorilla's read one PingInterval after they connect.
func TestAttackReaderParksOutsideGorillaAfterPong(t *testing.T) {
	if peekReadable == nil {
		t.Skip("no socket peek on this platform")
	}
	e := newEnv(t, Config{})
	c := e.dial(t, "tok-a1")
	c.roundTrip()
	if err := c.ws.WriteControl(websocket.PongMessage, []byte("x"), time.Now().Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	sc := e.g.allConns()[0]
	waitFor(t, "the pong to be noted", func() bool { return !sc.aliveDue.Load() && !sc.writing.Load() })
	waitFor(t, "the reader to park in awaitFrame", func() bool {
		rs := readerStacks()
		return len(rs) == 1 && strings.Contains(rs[0], "ws.(*conn).awaitFrame(") &&
			!strings.Contains(rs[0], "websocket.(*Conn).ReadMessage(")
	})
	c.roundTrip()

	// A pong split across segments, and pongs around a frame in one.
	p := clientFrame(true, websocket.PongMessage, "split pong")
	c.writeRaw(p[:1])
	time.Sleep(20 * time.Millisecond)
	c.writeRaw(p[1:7])
	time.Sleep(20 * time.Millisecond)
	c.writeRaw(p[7:])
	var seg []byte
	seg = append(seg, clientFrame(true, websocket.PongMessage, "")...)
	seg = append(seg, textFrame(unknownFrame("between"))...)
	seg = append(seg, clientFrame(true, websocket.PongMessage, "after")...)
	c.writeRaw(seg)
	c.expectIDs("between")
	c.roundTrip()

	// An unmasked pong is gorilla's to refuse: 1002.
	c.writeRaw([]byte{0x8a, 0x00})
	if ce := c.closed(); ce.Code != websocket.CloseProtocolError {
		t.Errorf("close %v after an unmasked pong, want 1002", ce)
	}
}

// Many connections closing at once, abruptly from the client or with
// Reset from the server, all leave the hub (goleak checks the goroutines).
func TestAttackManyClose(t *testing.T) {
	e := newEnv(t, Config{CloseWait: 50 * time.Millisecond})
	const n = 40
	cs := make([]*client, n)
	for i := range cs {
		cs[i] = e.dial(t, fmt.Sprint("user-", 10+i%7))
	}
	var wg sync.WaitGroup
	for _, c := range cs[:n/2] {
		wg.Add(1)
		go func() { defer wg.Done(); c.ws.NetConn().Close() }()
	}
	e.g.Reset()
	wg.Wait()
	waitFor(t, "every connection to leave the hub", func() bool { s := e.g.Stats(); return s.Connections == 0 && s.Users == 0 })
}

// Every failing handshake gives its slot back: with one slot, a good
// handshake still gets in after each kind of failure.
func TestAttackHandshakeSlotsDoNotLeak(t *testing.T) {
	e := newEnv(t, Config{Handshakes: 1, HandshakeWait: 200 * time.Millisecond,
		AllowedOrigins: []string{"https://app.example.com"}})
	good := func(what string) {
		t.Helper()
		ws, resp, err := websocket.DefaultDialer.Dial(e.url, http.Header{"Authorization": {"Bearer tok-a1"}})
		if err != nil {
			t.Fatalf("good handshake after %s: %v (response %v)", what, err, resp)
		}
		ws.Close()
	}
	bad := func(what string, url string, hdr http.Header) {
		t.Helper()
		for range 3 {
			ws, resp, err := websocket.DefaultDialer.Dial(url, hdr)
			if err == nil {
				ws.Close()
				t.Fatalf("%s: handshake succeeded", what)
			}
			if resp != nil {
				resp.Body.Close()
			}
		}
		good(what)
	}
	bad("origin refused", e.url, http.Header{"Authorization": {"Bearer tok-a1"}, "Origin": {"https://evil.example"}})
	bad("bad token", e.url, http.Header{"Authorization": {"Bearer nope"}})
	bad("missing token", e.url, nil)

	// Upgrade failure after admission: an unsupported version.
	for range 3 {
		req, _ := http.NewRequest(http.MethodGet, e.srv.URL+"/v1/ws", nil)
		req.Header = http.Header{"Authorization": {"Bearer tok-a1"}, "Connection": {"Upgrade"},
			"Upgrade": {"websocket"}, "Sec-Websocket-Version": {"7"}, "Sec-Websocket-Key": {"dGhlIHNhbXBsZSBub25jZQ=="}}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode == http.StatusSwitchingProtocols {
			t.Fatal("version 7 upgraded")
		}
	}
	good("upgrade failure")

	// Session ended between the two token checks.
	e.svc.onAuth = func(token string) {
		if token == "tok-a3" {
			delete(e.svc.tokens, token) // after this check, before the next
		}
	}
	bad("session ended during the handshake", e.url, http.Header{"Authorization": {"Bearer tok-a3"}})

	// Bytes sent before the 101: gorilla refuses after the hijack.
	for range 3 {
		nc, err := net.Dial("tcp", e.srv.Listener.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(nc, "GET /v1/ws HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer tok-a1\r\nConnection: Upgrade\r\n"+
			"Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n%s",
			textFrame(unknownFrame("early")))
		nc.SetReadDeadline(time.Now().Add(5 * time.Second))
		bufio.NewReader(nc).ReadString('\n')
		nc.Close()
	}
	good("bytes before the upgrade")

	// Per-user handshake budget exhausted.
	e2 := newEnv(t, Config{Handshakes: 1, HandshakeWait: 200 * time.Millisecond})
	e2.g.cfg.HandshakesPerUser.Burst, e2.g.cfg.HandshakesPerUser.Rate = 1, 1
	e2.g.cfg.HandshakesPerUser.Period = time.Hour
	for range 3 {
		ws, _, err := websocket.DefaultDialer.Dial(e2.url, http.Header{"Authorization": {"Bearer tok-b"}})
		if err == nil {
			ws.Close()
		}
	}
	ws, resp, err := websocket.DefaultDialer.Dial(e2.url, http.Header{"Authorization": {"Bearer tok-a1"}})
	if err != nil {
		t.Fatalf("good handshake after the per-user limit: %v (response %v)", err, resp)
	}
	ws.Close()
}

// A client that goes away while it waits for a slot gives up its place,
// and the slot holder's release lets the next one in.
func TestAttackHandshakeClientGoneWhileWaiting(t *testing.T) {
	e := newEnv(t, Config{Handshakes: 1, HandshakeWait: 5 * time.Second})
	_, release, first := e.holdHandshake(t, "tok-a2")
	for range 5 {
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		ws, _, err := websocket.DefaultDialer.DialContext(ctx, e.url, http.Header{"Authorization": {"Bearer tok-b"}})
		cancel()
		if err == nil {
			ws.Close()
			t.Fatal("a handshake got in while the only slot was held")
		}
	}
	// The waiters whose clients left are gone before the slot frees, so
	// none of them authenticates for a client that is not there.
	waitFor(t, "the waiters of the gone clients to leave", func() bool { return handshakeWaiters() == 0 })
	release()
	if err := <-first; err != nil {
		t.Fatalf("first handshake: %v", err)
	}
	e.dial(t, "tok-b").roundTrip()
}

// handshakeWaiters counts the handshakes waiting in admit for a slot.
func handshakeWaiters() int {
	buf := make([]byte, 1<<20)
	n := runtime.Stack(buf, true)
	return strings.Count(string(buf[:n]), "ws.(*Gateway).admit(")
}

// Handshakes still waiting for a slot when the gateway shuts down are
// answered then, and do not start their work (the token look-up) after
// Shutdown has returned, when the service may be gone.
func TestAttackShutdownWithHandshakesWaiting(t *testing.T) {
	e := newEnv(t, Config{Handshakes: 1, HandshakeWait: time.Minute})
	var holder, waiters atomic.Int64
	gate := make(chan struct{})
	e.svc.beforeAuth = func(token string) {
		if token == "tok-a2" {
			holder.Add(1)
			<-gate
			return
		}
		waiters.Add(1)
	}
	done := make(chan int, 4)
	dial := func(token string) {
		d := websocket.Dialer{HandshakeTimeout: 5 * time.Second} // the old code left waiters unanswered
		_, resp, err := d.Dial(e.url, http.Header{"Authorization": {"Bearer " + token}})
		if err == nil || resp == nil {
			done <- 0
			return
		}
		resp.Body.Close()
		done <- resp.StatusCode
	}
	go dial("tok-a2")
	waitFor(t, "the first handshake to hold the slot", func() bool { return holder.Load() == 1 })
	for range 3 {
		go dial("tok-b")
	}
	waitFor(t, "three handshakes to wait for the slot", func() bool { return handshakeWaiters() == 3 })
	if err := e.g.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if code := <-done; code != http.StatusServiceUnavailable {
			t.Errorf("a waiting handshake got %d at shutdown, want 503", code)
		}
	}
	close(gate)
	if code := <-done; code != http.StatusServiceUnavailable {
		t.Errorf("the handshake in progress got %d, want 503", code)
	}
	if n := waiters.Load(); n != 0 {
		t.Errorf("%d waiting handshakes looked their token up after Shutdown, want none", n)
	}
}

// A client that stalls its handshake (headers half sent, or the request
// sent and the 101 never read) holds no slot.
func TestAttackStalledHandshakeHoldsNoSlot(t *testing.T) {
	e := newEnv(t, Config{Handshakes: 1, HandshakeWait: 100 * time.Millisecond})
	half, err := net.Dial("tcp", e.srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer half.Close()
	fmt.Fprintf(half, "GET /v1/ws HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer tok-a1\r\n")
	deaf, err := net.Dial("tcp", e.srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer deaf.Close()
	fmt.Fprintf(deaf, "GET /v1/ws HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer tok-a1\r\nConnection: Upgrade\r\n"+
		"Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n")
	waitFor(t, "the deaf client's connection", func() bool { return e.g.Stats().Connections == 1 })
	e.dial(t, "tok-b").roundTrip()
}

// A client that starts a frame (a data frame's or a pong's header, or a
// data frame's payload) and stalls is dropped when its read deadline
// (PongWait) passes, wherever the reader waits for the rest.
func TestAttackStalledFrameIsDropped(t *testing.T) {
	e := newEnv(t, Config{PingInterval: time.Hour, PongWait: 2 * time.Hour})
	for _, part := range [][]byte{
		{0x8a},
		clientFrame(true, websocket.PongMessage, "abc")[:4],
		{0x81},
		textFrame(unknownFrame("stall"))[:9],
	} {
		c := e.dial(t, "tok-a1")
		c.roundTrip()
		c.writeRaw(part)
		time.Sleep(10 * time.Millisecond)
		// The deadline the gateway keeps, brought forward.
		sc := e.g.allConns()[0]
		sc.ws.NetConn().SetReadDeadline(time.Now().Add(50 * time.Millisecond))
		waitFor(t, fmt.Sprintf("the connection stalled after % x to leave the hub", part),
			func() bool { return e.g.Stats().Connections == 0 })
		c.ws.Close()
	}
}

// bigFrame is a masked client text frame with a 16-bit length.
func bigFrame(payload string) []byte {
	mask := []byte{9, 8, 7, 6}
	f := []byte{0x81, 0x80 | 126, byte(len(payload) >> 8), byte(len(payload))}
	f = append(f, mask...)
	for i := range len(payload) {
		f = append(f, payload[i]^mask[i%4])
	}
	return f
}

// A frame bigger than the read buffer, sent in pieces with pauses and
// followed in the same segment by a small one, is read whole.
func TestAttackBigFrameInPieces(t *testing.T) {
	e := newEnv(t, Config{})
	c := e.dial(t, "tok-a1")
	c.roundTrip()
	big := bigFrame(`{"type":"ping?","id":"big","pad":"` + strings.Repeat("x", 5000) + `"}`)
	tail := textFrame(unknownFrame("tail"))
	all := append(append([]byte(nil), big...), tail...)
	for i := 0; i < len(all); i += 1500 {
		c.writeRaw(all[i:min(i+1500, len(all))])
		time.Sleep(5 * time.Millisecond)
	}
	c.expectIDs("big", "tail")
	c.roundTrip()
}

// A client that answers pings stays while the writer is busy: here one
// write waits for the client to read (well within WriteWait) for longer
// than PongWait, and the pongs the client sends meanwhile must still move
// the read deadline, which the writer cannot do while it is blocked. The
// client is not reading, so it sends its pongs unasked.
func TestAttackPongsWhileWriterBlocked(t *testing.T) {
	e := newEnv(t, Config{PingInterval: 100 * time.Millisecond, PongWait: 300 * time.Millisecond, WriteWait: 20 * time.Second})
	c := e.dial(t, "tok-a1")
	c.roundTrip()
	// The client sends pongs and does not read, from before the events
	// are published until three PongWaits after.
	stop := make(chan struct{})
	pongs := make(chan error, 1)
	go func() {
		for {
			select {
			case <-stop:
				pongs <- nil
				return
			case <-time.After(30 * time.Millisecond):
			}
			if err := c.ws.WriteControl(websocket.PongMessage, nil, time.Now().Add(time.Second)); err != nil {
				pongs <- err
				return
			}
		}
	}()
	pad := strings.Repeat("x", 60<<10)
	const n = 200
	for i := range n {
		frame := fmt.Appendf(nil, `{"type":"typing","n":%d,"pad":"%s"}`, i, pad)
		if err := e.broker.Publish(context.Background(), chat.Publication{Topic: chat.UserTopic(1), Payload: chat.Envelope(chat.EnvFrame, 0, frame)}); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(900 * time.Millisecond)
	// Reading 12 MiB may itself take more than PongWait; the pongs go on.
	for i := range n {
		if f := c.read(); f.Type != "typing" {
			t.Fatalf("frame %d: %.80s", i, f.Raw)
		}
	}
	close(stop)
	if err := <-pongs; err != nil {
		t.Fatalf("pong: %v", err)
	}
	c.roundTrip()
}

// holdTyping makes the first typing frame's handler wait: entered closes
// when it starts, and every handler waits until gate is closed.
func (e *env) holdTyping() (entered, gate chan struct{}) {
	entered, gate = make(chan struct{}), make(chan struct{})
	var once sync.Once
	e.svc.onTyping = func() {
		once.Do(func() { close(entered) })
		<-gate
	}
	return entered, gate
}
