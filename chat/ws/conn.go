package ws

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
	"golang.org/x/time/rate"

	"github.com/korobka/korobka/chat"
	"github.com/korobka/korobka/chat/wire"
)

// noClose as a close code means the socket is gone (or the peer already
// closed it) and no close frame is to be sent.
const noClose = 0

// maxSpare is the largest batch slice the writer keeps for reuse. Bigger
// ones (after a burst) are dropped so an idle connection holds little.
const maxSpare = 8

// conn is one client connection. Its reader goroutine reads frames and
// handles requests; its writer goroutine is the only one that writes data
// frames. Everything else talks to it through the outbox and closeWith,
// neither of which blocks.
type conn struct {
	g  *Gateway
	ws *websocket.Conn // set once, before the goroutines start
	id int64
	p  chat.Principal

	mu      sync.Mutex
	queue   [][]byte // frames for the writer, at most cfg.Outbox
	closing bool
	flush   bool // write what is queued before the close frame
	code    int  // close code to send; noClose for none
	reason  string

	wake       chan struct{} // cap 1: frames queued or a ping due
	room       chan struct{} // cap 1: the writer took a batch, a waiting reader may queue
	done       chan struct{} // closed by closeWith
	readerDone chan struct{} // closed when the reader returns
	pingDue    atomic.Bool
	// watching is what the device shows, for live patches; nil when it
	// shows nothing live. Set by the reader, read by the hub.
	watching atomic.Pointer[Watch]

	// limit is the connection's frame budget. refused counts frames
	// refused since the bucket was last full: a client that keeps flooding
	// after rate_limited is dropped.
	limit   *rate.Limiter
	refused int
	// foreground is what the client last reported with a state frame
	// (background until it says otherwise); only the reader touches it.
	foreground bool
}

func (g *Gateway) newConn(p chat.Principal) *conn {
	return &conn{
		g:          g,
		id:         chat.NewID(),
		p:          p,
		wake:       make(chan struct{}, 1),
		room:       make(chan struct{}, 1),
		done:       make(chan struct{}),
		readerDone: make(chan struct{}),
		limit:      rate.NewLimiter(rate.Limit(g.cfg.Rate), g.cfg.Burst),
	}
}

// logger is built when something is logged rather than kept per
// connection: a slog handler with attributes costs hundreds of bytes, and
// idle connections log nothing.
func (c *conn) logger() *slog.Logger {
	return c.g.log.With("conn", c.id, "user", c.p.UserID)
}

func (c *conn) signal() {
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// ping asks the writer to send a ping; the pong refreshes the read deadline.
func (c *conn) ping() {
	c.pingDue.Store(true)
	c.signal()
}

// enqueue queues an event from the broker without blocking. A connection
// whose outbox is full is not keeping up: it is closed and its client
// resumes with sync, rather than slowing the broker or growing memory.
func (c *conn) enqueue(frame []byte) {
	c.mu.Lock()
	if c.closing {
		c.mu.Unlock()
		return
	}
	if len(c.queue) >= c.g.cfg.Outbox {
		c.mu.Unlock()
		c.logger().Info("websocket outbox full, closing")
		c.closeWith(CloseTryAgainLater, "too slow, sync again")
		return
	}
	c.queue = append(c.queue, frame)
	c.mu.Unlock()
	c.signal()
}

// replyLimit is how full the outbox may be for the reader to queue more.
// The last quarter is kept for broker events, so a long sync replay waits
// for the client instead of pushing live events into overflow.
func (c *conn) replyLimit() int {
	n := c.g.cfg.Outbox - c.g.cfg.Outbox/4
	return max(n, 1)
}

// reply queues a frame for the client's own request. It waits while the
// outbox is at replyLimit: that only slows this client's reader, and reads
// nothing more from a client that does not read its answers. It reports
// false when the connection is closing.
func (c *conn) reply(frame []byte) bool {
	for {
		c.mu.Lock()
		if c.closing {
			c.mu.Unlock()
			return false
		}
		if len(c.queue) < c.replyLimit() {
			c.queue = append(c.queue, frame)
			c.mu.Unlock()
			c.signal()
			return true
		}
		c.mu.Unlock()
		select {
		case <-c.room:
		case <-c.done:
			return false
		}
	}
}

// tryReply queues a frame unless the outbox is at replyLimit. It is for
// rate_limited errors: a flooding client that does not read them loses
// them instead of stopping the reader from counting its flood.
func (c *conn) tryReply(frame []byte) {
	c.mu.Lock()
	if c.closing || len(c.queue) >= c.replyLimit() {
		c.mu.Unlock()
		return
	}
	c.queue = append(c.queue, frame)
	c.mu.Unlock()
	c.signal()
}

// closeWith starts closing the connection with a close code; the first
// call wins. It never blocks, so the broker goroutine and the hub may call
// it: the writer sends the close frame and drops the socket. Queued frames
// are released at once.
func (c *conn) closeWith(code int, reason string) {
	c.startClose(code, reason, false)
}

// closeAfterFlush is closeWith for a close the client should understand:
// the frames already queued (the rate_limited errors before a flood
// close) are written before the close frame.
func (c *conn) closeAfterFlush(code int, reason string) {
	c.startClose(code, reason, true)
}

func (c *conn) startClose(code int, reason string, flush bool) {
	c.mu.Lock()
	if c.closing {
		c.mu.Unlock()
		return
	}
	c.closing = true
	c.code, c.reason, c.flush = code, reason, flush
	if !flush {
		c.queue = nil
	}
	c.mu.Unlock()
	close(c.done)
}

// dropping reports whether queued frames are to be dropped: the
// connection is closing and not flushing.
func (c *conn) dropping() bool {
	if !c.isClosing() {
		return false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return !c.flush
}

func (c *conn) isClosing() bool {
	select {
	case <-c.done:
		return true
	default:
		return false
	}
}

// writeLoop writes queued frames and pings until the connection closes.
// Between batches it holds no write buffer (they come from the pool) and
// at most a small spare slice.
func (c *conn) writeLoop() {
	defer c.g.wg.Done()
	var spare [][]byte
	for {
		select {
		case <-c.done:
			c.finish()
			return
		case <-c.wake:
		}
		if c.pingDue.Swap(false) {
			if err := c.ws.WriteControl(websocket.PingMessage, nil, time.Now().Add(c.g.cfg.WriteWait)); err != nil {
				c.writeFailed(err)
				return
			}
		}
		c.mu.Lock()
		batch := c.queue
		c.queue = spare
		c.mu.Unlock()
		spare = nil
		select {
		case c.room <- struct{}{}:
		default:
		}
		if err := c.write(batch); err != nil {
			c.writeFailed(err)
			return
		}
		clear(batch)
		if cap(batch) <= maxSpare {
			spare = batch[:0]
		}
	}
}

// write writes frames until the connection starts a close that drops them.
func (c *conn) write(frames [][]byte) error {
	for i, frame := range frames {
		if c.dropping() {
			break
		}
		c.ws.SetWriteDeadline(time.Now().Add(c.g.cfg.WriteWait))
		if err := c.ws.WriteMessage(websocket.TextMessage, frame); err != nil {
			return err
		}
		frames[i] = nil
	}
	return nil
}

func (c *conn) writeFailed(err error) {
	if !c.isClosing() {
		c.logger().Debug("websocket write failed", "err", err)
	}
	c.closeWith(noClose, "")
	c.finish()
}

// finish sends the close frame, gives the client a moment to answer it so
// TCP ends cleanly, and drops the socket, which also ends the reader.
func (c *conn) finish() {
	c.mu.Lock()
	code, reason, rest := c.code, c.reason, c.queue
	c.queue = nil
	c.mu.Unlock()
	if err := c.write(rest); err != nil {
		code = noClose
	}
	if code != noClose {
		msg := websocket.FormatCloseMessage(code, reason)
		if err := c.ws.WriteControl(websocket.CloseMessage, msg, time.Now().Add(c.g.cfg.WriteWait)); err == nil {
			t := time.NewTimer(closeGrace)
			select {
			case <-c.readerDone:
			case <-t.C:
			}
			t.Stop()
		}
	}
	c.ws.Close()
}

// readLoop reads and handles the client's frames in order until the
// connection ends, then takes the connection out of the hub.
func (c *conn) readLoop(u *user) {
	defer c.g.wg.Done()
	defer c.g.unregister(c, u)
	defer close(c.readerDone)
	defer c.leaveForeground()

	cfg := &c.g.cfg
	c.ws.SetReadLimit(cfg.ReadLimit)
	c.ws.SetReadDeadline(time.Now().Add(cfg.PongWait))
	c.ws.SetPongHandler(func(string) error {
		return c.ws.SetReadDeadline(time.Now().Add(cfg.PongWait))
	})
	for {
		_, data, err := c.ws.ReadMessage()
		if err != nil {
			c.readFailed(err)
			return
		}
		// Any frame shows the client is alive, not only a pong.
		c.ws.SetReadDeadline(time.Now().Add(cfg.PongWait))
		if c.isClosing() {
			// Waiting for the client's close frame: drain, don't act.
			continue
		}
		if !c.allow() {
			c.refused++
			if c.refused > 2*cfg.Burst {
				c.logger().Info("websocket flood, closing")
				c.closeAfterFlush(ClosePolicy, "rate limit exceeded")
				continue
			}
			c.tryReply(wire.ErrorFrame(peekID(data), errRateLimited))
			continue
		}
		c.handle(data)
	}
}

func (c *conn) readFailed(err error) {
	switch {
	case errors.Is(err, websocket.ErrReadLimit):
		// gorilla has sent 1009.
		c.logger().Info("websocket frame over the read limit, closed")
	case websocket.IsUnexpectedCloseError(err, websocket.CloseNormalClosure, websocket.CloseGoingAway, websocket.CloseNoStatusReceived):
		c.logger().Debug("websocket closed by client", "err", err)
	}
	// A close frame from the client was answered by gorilla; any other
	// error means the socket is unusable. Either way nothing more is sent.
	c.closeWith(noClose, "")
}

// allow takes a token from the connection's bucket, on the injected clock.
func (c *conn) allow() bool {
	now := c.g.cfg.Now()
	if c.limit.TokensAt(now) >= float64(c.g.cfg.Burst) {
		c.refused = 0
	}
	return c.limit.AllowN(now, 1)
}

// handle carries out one client frame. Requests are handled in order on
// the reader goroutine: a send waits for its commit before the next frame
// is read, which keeps each connection's requests ordered.
func (c *conn) handle(data []byte) {
	req, ferr := parseRequest(data)
	if ferr != nil {
		c.reply(wire.ErrorFrame(req.ID, ferr))
		return
	}
	ctx := c.g.ctx
	switch req.Type {
	case typeSend:
		m, err := c.g.svc.Send(ctx, c.p, c.id, req.Send)
		if err != nil {
			c.fail(ctx, req.ID, err)
			return
		}
		frame, err := json.Marshal(sendReply{Type: "reply", ID: req.ID, Message: &m})
		if err != nil {
			c.fail(ctx, req.ID, err)
			return
		}
		c.reply(frame)
	case typeDelivered:
		if err := c.g.svc.MarkDelivered(ctx, c.p, req.DialogID, req.Seq); err != nil {
			c.fail(ctx, req.ID, err)
		}
	case typeRead:
		if err := c.g.svc.MarkRead(ctx, c.p, req.DialogID, req.Seq); err != nil {
			c.fail(ctx, req.ID, err)
		}
	case typeTyping:
		if err := c.g.svc.Typing(ctx, c.p, req.DialogID); err != nil {
			c.fail(ctx, req.ID, err)
		}
	case typeSync:
		res, err := c.g.svc.Sync(ctx, c.p, req.Have)
		if err != nil {
			c.fail(ctx, req.ID, err)
			return
		}
		for i := range res.Messages {
			// A view that does not marshal (bad attachments JSON from
			// the store) fails the sync rather than the process.
			frame, err := json.Marshal(messageFrame{Type: "message", Message: &res.Messages[i]})
			if err != nil {
				c.fail(ctx, req.ID, err)
				return
			}
			if !c.reply(frame) {
				return
			}
		}
		synced := res.Synced
		if synced == nil {
			synced = map[string]int64{}
		}
		frame, err := json.Marshal(syncReply{Type: "reply", ID: req.ID, Synced: synced, More: res.More})
		if err != nil {
			c.fail(ctx, req.ID, err)
			return
		}
		c.reply(frame)
	case typeWatch:
		c.watch(ctx, req)
	case typeState:
		if req.Foreground == c.foreground {
			return // no change: nothing to store
		}
		if err := c.g.svc.SetAppState(ctx, c.p, c.id, req.Foreground); err != nil {
			c.fail(ctx, req.ID, err)
			return
		}
		c.foreground = req.Foreground
	}
}

// leaveForeground reports a closing connection that was in the foreground
// as gone from it, so it holds back no pushes.
func (c *conn) leaveForeground() {
	if !c.foreground {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(c.g.ctx), opTimeout)
	defer cancel()
	if err := c.g.svc.SetAppState(ctx, c.p, c.id, false); err != nil {
		c.logger().Warn("websocket: foreground state not cleared; it expires", "err", err)
	}
}

// fail answers a failed request with an error frame. The client sees only
// the error's code and safe message; server-side failures are logged here,
// once, with their cause.
func (c *conn) fail(ctx context.Context, id []byte, err error) {
	if c.isClosing() {
		// Shutdown cancels in-flight calls; nobody is left to tell.
		return
	}
	c.g.logError(ctx, c.logger(), "websocket request failed", err)
	c.reply(wire.ErrorFrame(id, err))
}
