package ws

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"

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
// hands each to a goroutine of its own (serveFrame), waiting for it before
// it reads the next; its writer goroutine is the only one that writes data
// frames, and exists only while there is something to write (signal
// starts it, it ends when the outbox is empty), so an idle connection has
// one goroutine, the reader, parked on a small stack (see readLoop).
// Everything else talks to it through the outbox and closeWith, neither
// of which blocks.
type conn struct {
	g  *Gateway
	ws *websocket.Conn // set once, before the goroutines start
	// br is ws's read buffer (see hijacker); nil when the server's reader
	// was handed to gorilla instead. Only the reader uses it.
	br  *bufio.Reader
	id  int64
	uid int64 // p.UserID, which never changes, for every goroutine
	// p is who the connection acts for. Only the frame handlers use it
	// (serveFrame, one at a time): an auth frame replaces it there. The
	// hub reads family instead.
	p      chat.Principal
	family atomic.Int64

	// expAt (Unix ns) and expIdx place the connection in the gateway's
	// expiry sweep (expIdx -1: not in it); guarded by Gateway.expMu.
	expAt  int64
	expIdx int
	// counted says the SocketCounter counts this connection; set before
	// the goroutines start.
	counted bool

	mu      sync.Mutex
	queue   [][]byte // frames for the writer, at most cfg.Outbox
	closing bool
	flush   bool // write what is queued before the close frame
	code    int  // close code to send; noClose for none
	reason  string
	// replays is what syncs wrote to the client per dialog (noteReplayed);
	// nil until the connection syncs, so idle connections hold nothing.
	replays map[int64]replayMark
	// room (cap 1) tells a reply waiting for the outbox that the writer
	// took a batch; made by the first reply that waits.
	room chan struct{}
	// readerDone is closed when the reader returns (readerGone); made by
	// finish when it has to wait for that.
	readerDone chan struct{}
	readerGone bool

	// writing says a writer goroutine runs, or may not start: before the
	// socket is upgraded (newConn sets it; start clears it) and after a
	// writer closed the connection.
	writing atomic.Bool
	done    chan struct{} // closed by closeWith
	pingDue atomic.Bool
	// aliveDue says a pong came in since the writer last moved the read
	// deadline: the pong handler only notes it (see ponged).
	aliveDue atomic.Bool
	// handling is the frame handler the reader waits for (dispatch).
	handling sync.WaitGroup
	// watching is what the device shows, for live patches; nil when it
	// shows nothing live. Set by the frame handlers, read by the hub.
	watching atomic.Pointer[Watch]

	// refused counts frames refused by the user's budget in a row, with
	// no pause long enough for the budget to refill (lastRefused, on
	// cfg.Now): a client that keeps flooding after rate_limited is
	// dropped. The frame handlers own both, as they own foreground.
	refused     int
	lastRefused time.Time
	// foreground is what the client last reported with a state frame
	// (background until it says otherwise); only the frame handlers
	// touch it, and the reader once they are done (leaveForeground).
	foreground bool
	// lang is the language of error frames' messages ("en", "ru"), from
	// the handshake's Accept-Language; set before the goroutines start.
	lang string
}

func (g *Gateway) newConn(p chat.Principal) *conn {
	c := &conn{
		g:      g,
		id:     chat.NewID(),
		uid:    p.UserID,
		p:      p,
		expIdx: -1,
		done:   make(chan struct{}),
	}
	c.family.Store(p.Family)
	c.writing.Store(true) // until start: there is no socket to write to
	return c
}

// start lets writers run once c.ws is set, starting one for what was
// queued (or a close begun) before.
func (c *conn) start() {
	c.writing.Store(false)
	if c.pending() {
		c.signal()
	}
}

// logger is built when something is logged rather than kept per
// connection: a slog handler with attributes costs hundreds of bytes, and
// idle connections log nothing.
func (c *conn) logger() *slog.Logger {
	return c.g.log.With("conn", c.id, "user", c.uid)
}

// signal makes sure a writer runs for what was just queued, a ping due or
// a close: it starts one when none runs. A running writer looks again for
// work before it ends, so nothing signalled is left unwritten.
func (c *conn) signal() {
	if c.writing.CompareAndSwap(false, true) {
		c.g.wg.Add(1)
		go c.writeLoop()
	}
}

// pending reports whether a writer has anything to do.
func (c *conn) pending() bool {
	if c.pingDue.Load() || c.aliveDue.Load() {
		return true
	}
	select {
	case <-c.done:
		return true
	default:
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.queue) > 0
}

// ping asks the writer to send a ping; the pong refreshes the read deadline.
func (c *conn) ping() {
	c.pingDue.Store(true)
	c.signal()
}

// ponged is the pong handler: the client is alive, so the read deadline
// moves PongWait ahead. gorilla calls it on the reader, deep in its frame
// parsing, where moving a deadline (a runtime timer) would push the
// reader's stack past its first 2 KiB for good; so it only notes the pong
// and the writer, which runs on demand anyway, moves the deadline, or the
// ping sweep when the writer is blocked on a slow client (Gateway.sweep).
func (c *conn) ponged(string) error {
	c.aliveDue.Store(true)
	c.signal()
	return nil
}

// refreshDeadline sets the read deadline PongWait from now: the client
// answered a ping or sent a frame. net.Conn deadlines may be set while
// another goroutine reads; the read in progress gets the new one.
func (c *conn) refreshDeadline() {
	c.ws.NetConn().SetReadDeadline(time.Now().Add(c.g.cfg.PongWait))
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
		if c.room == nil {
			c.room = make(chan struct{}, 1)
		}
		room := c.room
		c.mu.Unlock()
		select {
		case <-room:
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
	c.signal() // the writer sends the close frame
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

// writeLoop writes queued frames and pings while there are any, then
// ends; on a close it writes the close frame and drops the socket (finish)
// and stays the last writer. Between batches it holds no write buffer
// (they come from the pool) and at most a small spare slice.
func (c *conn) writeLoop() {
	defer c.g.wg.Done()
	var spare [][]byte
	for {
		select {
		case <-c.done:
			c.finish()
			return // writing stays set: no writer after this one
		default:
		}
		if c.aliveDue.Swap(false) {
			c.refreshDeadline()
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
		room := c.room
		c.mu.Unlock()
		spare = nil
		if len(batch) == 0 {
			// Nothing left: end, unless something came in after the
			// last look and no other writer was started for it.
			c.writing.Store(false)
			if !c.pending() || !c.writing.CompareAndSwap(false, true) {
				return
			}
			spare = batch
			continue
		}
		if room != nil {
			select {
			case room <- struct{}{}:
			default:
			}
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

// finish sends the close frame, waits for the client to answer it (up to
// CloseWait) while the reader drains what the client still sends, and
// drops the socket, which also ends the reader. Dropping the socket while
// the client still sends would make the kernel reset the connection and
// discard what the client had not read yet, the close frame among it: a
// slow client would see 1006 instead of the code.
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
			c.awaitReader(c.g.cfg.CloseWait)
		}
	}
	c.ws.Close()
}

// awaitReader waits up to d for the reader to return.
func (c *conn) awaitReader(d time.Duration) {
	c.mu.Lock()
	if c.readerGone {
		c.mu.Unlock()
		return
	}
	if c.readerDone == nil {
		c.readerDone = make(chan struct{})
	}
	done := c.readerDone
	c.mu.Unlock()
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
	}
}

// readerEnded tells finish the reader has returned.
func (c *conn) readerEnded() {
	c.mu.Lock()
	c.readerGone = true
	done := c.readerDone
	c.mu.Unlock()
	if done != nil {
		close(done)
	}
}

// readLoop reads the client's frames until the connection ends, then
// takes the connection out of the hub. ServeHTTP has set the read limit,
// the first read deadline and the pong handler.
//
// An idle connection is this goroutine parked, so its stack is most of
// what the connection costs, and the runtime halves a parked goroutine's
// stack only while it uses under a quarter of it: a reader that grew once
// stays grown for the connection's life. So the reader runs
// nothing deep: each frame is handled on a goroutine of its own
// (dispatch), pongs only leave a note for the writer (ponged) and,
// between messages, are read outside gorilla (takePong), and the loop
// itself keeps a small frame, so that the read path fits the 2 KiB
// a goroutine starts with. While idle it parks in awaitFrame, which uses
// a third of what gorilla's read does: new goroutines start on the
// average stack the last collection saw (the runtime's adaptive start),
// and thousands of parked readers then hold it at 2 KiB even while
// handshakes run deep.
func (c *conn) readLoop(u *user) {
	for {
		c.awaitFrame()
		if c.takePong() {
			continue
		}
		_, data, err := c.ws.ReadMessage()
		if err != nil {
			c.readEnded(u, err)
			return
		}
		c.dispatch(u, data)
	}
}

// readEnded closes the connection after a failed read and takes it out of
// the hub: the reader's last act.
func (c *conn) readEnded(u *user, err error) {
	defer c.g.wg.Done()
	defer c.g.unregister(c, u)
	defer c.readerEnded()
	defer c.leaveForeground()
	c.readFailed(err)
}

// dispatch handles one client frame on a goroutine of its own and waits
// for it, so frames are still handled one at a time and in order, a send
// still waits for its commit before the next frame is read, and a client
// that does not read its answers is still not read from either. What the
// handling needs of the stack (the service, the store, JSON) goes with
// that goroutine instead of staying with the reader.
func (c *conn) dispatch(u *user, data []byte) {
	c.handling.Add(1)
	go c.serveFrame(u, data)
	c.handling.Wait()
}

// serveFrame is one client frame's handling: the frame counts as a sign
// of life, then against the user's budget, and is carried out unless the
// connection is closing.
func (c *conn) serveFrame(u *user, data []byte) {
	defer c.handling.Done()
	// Any frame shows the client is alive, not only a pong.
	c.refreshDeadline()
	if c.isClosing() {
		// Waiting for the client's close frame: drain, don't act.
		return
	}
	ok, retry, err := c.allow(u)
	if err != nil {
		c.logger().Warn("websocket frame budget failed", "err", err)
		c.tryReply(wire.ErrorFrameIn(peekID(data), errUnavailable, c.lang))
		return
	}
	if !ok {
		if c.flooding() {
			c.logger().Info("websocket flood, closing")
			c.closeAfterFlush(ClosePolicy, "rate limit exceeded")
			return
		}
		c.tryReply(wire.ErrorFrameIn(peekID(data), &chat.Error{Kind: chat.KindRateLimited,
			Code: errRateLimited.Code, Message: errRateLimited.Message, RetryAfter: retry}, c.lang))
		return
	}
	c.handle(data)
}

func (c *conn) readFailed(err error) {
	switch {
	case errors.Is(err, websocket.ErrReadLimit):
		// gorilla has sent 1009.
		c.logger().Info("websocket frame over the read limit, closed")
	case websocket.IsUnexpectedCloseError(err, websocket.CloseNormalClosure, websocket.CloseGoingAway, websocket.CloseNoStatusReceived):
		c.logger().Debug("websocket closed by client", "err", err)
	}
	if websocket.IsCloseError(err, websocket.CloseAbnormalClosure) {
		// gorilla's name for the end of the client's stream without a
		// close frame: the client shut its side (a half-close) or went
		// away. Its side of the socket may still read, so what it asked
		// for before is written (the reader waited for those replies),
		// then the socket is dropped without a close frame.
		c.startClose(noClose, "", true)
		return
	}
	// A close frame from the client was answered by gorilla; any other
	// error means the socket is unusable. Either way nothing more is sent.
	c.closeWith(noClose, "")
}

// allow spends one frame of the user's budget, shared by all their
// connections on every node. The node takes FrameChunk frames at a time
// from the shared Limiter (fewer when the budget has fewer left) and hands
// them out to the user's connections here, so frames cost a Limiter call
// per chunk. Frames taken are counted against the budget when taken, so
// the budget is never exceeded by more than the frames a node holds.
func (c *conn) allow(u *user) (bool, time.Duration, error) {
	u.budgetMu.Lock()
	defer u.budgetMu.Unlock()
	if u.budget > 0 {
		u.budget--
		return true, 0, nil
	}
	cfg := &c.g.cfg
	lim := chat.Limit{Rate: cfg.Rate, Period: time.Second, Burst: cfg.Burst}
	n, retry, err := cfg.Limiter.AllowAtMost(c.g.ctx, "ws:frames:user:"+chat.FormatID(c.uid), lim, cfg.FrameChunk)
	if err != nil || n == 0 {
		return false, retry, err
	}
	u.budget = n - 1
	return true, 0, nil
}

// flooding counts a refused frame and reports whether the client has gone
// on sending for twice the burst's worth of refusals without a pause in
// which the budget could refill.
func (c *conn) flooding() bool {
	cfg := &c.g.cfg
	now := cfg.Now()
	refill := time.Duration(cfg.Burst) * time.Second / time.Duration(cfg.Rate)
	if now.Sub(c.lastRefused) > refill {
		c.refused = 0
	}
	c.lastRefused = now
	c.refused++
	return c.refused > 2*cfg.Burst
}

// handle carries out one client frame. Requests are handled in order,
// one at a time (dispatch): a send waits for its commit before the next
// frame is read, which keeps each connection's requests ordered.
func (c *conn) handle(data []byte) {
	req, ferr := parseRequest(data)
	if ferr != nil {
		c.reply(wire.ErrorFrameIn(req.ID, ferr, c.lang))
		return
	}
	ctx := c.g.ctx
	switch req.Type {
	case typeSend:
		m, _, err := c.g.svc.Send(ctx, c.p, c.id, req.Send)
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
		c.sync(ctx, req)
	case typeWatch:
		c.watch(ctx, req)
	case typeAuth:
		c.reauth(ctx, req)
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

// sync replays what the device missed: the service reads a page of
// messages at a time and each is queued here, waiting on the outbox like
// every reply, before it reads the next, so one sync holds a page and the
// outbox, never the backlog. The reply comes last.
func (c *conn) sync(ctx context.Context, req request) {
	res, err := c.g.svc.Sync(ctx, c.p, req.Sync, func(m chat.MessageView) error {
		c.noteReplayed(m, req.Sync.Since)
		// A view that does not marshal (bad attachments JSON from the
		// store) fails the sync rather than the process.
		frame, err := json.Marshal(messageFrame{Type: "message", Message: &m})
		if err != nil {
			return err
		}
		if !c.reply(frame) {
			return errConnClosing
		}
		return nil
	})
	if errors.Is(err, errConnClosing) {
		return
	}
	if err != nil {
		c.fail(ctx, req.ID, err)
		return
	}
	synced := res.Synced
	if synced == nil {
		synced = map[string]int64{}
	}
	frame, err := json.Marshal(syncReply{Type: "reply", ID: req.ID, Synced: synced, Since: res.Since, More: res.More})
	if err != nil {
		c.fail(ctx, req.ID, err)
		return
	}
	c.reply(frame)
}

// reauth adopts a fresh access token the shell sends before the one the
// connection was opened with expires: the connection then belongs to that
// token's session and lives until it expires. A token of another user, or
// a dead one, ends the connection (error frame, then 4001); an outage of
// the store only answers an error.
func (c *conn) reauth(ctx context.Context, req request) {
	p, err := c.g.svc.Authenticate(ctx, req.Token)
	if err == nil && p.UserID != c.uid {
		err = errOtherUser
	}
	if err == nil {
		c.p = p
		c.family.Store(p.Family)
		c.g.track(c, p.ExpiresAt)
		// As at the handshake: the new session may have ended before the
		// hub knew this connection holds it; checking once more after
		// adopting it misses no ending.
		_, err = c.g.svc.Authenticate(ctx, req.Token)
	}
	if err != nil {
		c.fail(ctx, req.ID, err)
		if chat.ErrorOf(err).Kind == chat.KindUnauthorized {
			c.closeAfterFlush(CloseLoggedOut, "session ended")
		}
		return
	}
	r := authReply{Type: "reply", ID: req.ID}
	if !p.ExpiresAt.IsZero() {
		r.ExpiresIn = max(int(p.ExpiresAt.Sub(c.g.cfg.Now()).Round(time.Second)/time.Second), 0)
	}
	frame, err := json.Marshal(r)
	if err != nil {
		c.fail(ctx, req.ID, err)
		return
	}
	c.reply(frame)
}

// maxReplayed bounds the dialogs whose replays a connection remembers: a
// sync names at most chat.MaxSyncDialogs.
const maxReplayed = chat.MaxSyncDialogs

// replayMark is how far syncs replayed a dialog to this connection: every
// seq up to seq (the new messages a replay wrote are contiguous), and,
// when it replayed by change cursor, every change up to change.
type replayMark struct {
	seq, change int64
	byChange    bool
}

// noteReplayed remembers what a sync wrote to the client, so the live copy
// of the same message, published while or after the sync read it, is not
// written a second time. since is the sync's change-cursor form.
func (c *conn) noteReplayed(m chat.MessageView, since map[int64]int64) {
	d, err := chat.ParseID(m.DialogID)
	if err != nil {
		return
	}
	_, byChange := since[d]
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.replays == nil {
		c.replays = make(map[int64]replayMark)
	}
	r, ok := c.replays[d]
	if !ok && len(c.replays) >= maxReplayed {
		return
	}
	r.seq = max(r.seq, m.Seq)
	if byChange {
		r.byChange, r.change = true, max(r.change, m.Change)
	}
	c.replays[d] = r
}

// replayed reports whether a sync already wrote what a live message event
// carries: a new message up to the replayed seq, or, after a replay by
// change cursor, any change up to the replayed one (a replay sends each
// message's latest state). An edit after a replay by seq is always
// written: the replay may have sent an older state.
func (c *conn) replayed(m chat.MessageMark) bool {
	if m.DialogID == 0 {
		return false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	r, ok := c.replays[m.DialogID]
	switch {
	case !ok:
		return false
	case m.New && m.Seq <= r.seq:
		return true
	default:
		return r.byChange && m.Change <= r.change
	}
}

// errConnClosing stops a sync whose connection is closing.
var errConnClosing = errors.New("ws: connection closing")

// fail answers a failed request with an error frame. The client sees only
// the error's code and safe message; server-side failures are logged here,
// once, with their cause.
func (c *conn) fail(ctx context.Context, id []byte, err error) {
	if c.isClosing() {
		// Shutdown cancels in-flight calls; nobody is left to tell.
		return
	}
	c.g.logError(ctx, c.logger(), "websocket request failed", err)
	c.reply(wire.ErrorFrameIn(id, err, c.lang))
}
