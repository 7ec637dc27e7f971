package loadgen

import (
	"errors"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
)

// probeInterval paces the closed loop's retries after refused sends.
const probeInterval = 20 * time.Millisecond

// runState is shared by every client of one run. The times are set before
// the start channel closes and only read afterwards.
type runState struct {
	base      time.Time // monotonic origin of every stamp
	run       string    // client_id prefix unique to this run
	window    int32
	delivered bool
	readShare float64
	paced     bool

	warmEnd, stopAt int64 // ns since base
	stopped         atomic.Bool
	closing         atomic.Bool

	storm stormState
}

// now is nanoseconds since base. Stamps use the monotonic clock rather
// than unix time so a wall-clock step during a run cannot fake latency.
func (s *runState) now() int64 { return int64(time.Since(s.base)) }

// client is one active user: a sender into some of its dialogs (outs,
// round-robin) and a receiver of the other members' messages (links). Its reader goroutine owns rd and the reader-side fields of its
// links; the sender side (the pacer, or the reader itself in closed loop)
// writes under wmu; the atomics are what other goroutines read while it
// runs.
type client struct {
	st    *runState
	conn  *websocket.Conn
	links []*link          // every dialog of this user
	outs  []*link          // the dialogs it sends into, in round-robin order
	byID  map[string]*link // links by dialog id, when there are many

	wmu          sync.Mutex
	wbuf         []byte
	nextID       uint64 // request id of the next send
	rr           int    // index into outs of the next send
	sentMeasured int64
	writeErrs    map[string]int64

	inflight atomic.Int32
	sent     atomic.Int64
	dead     atomic.Bool
	backoff  atomic.Bool // a send was refused; see probe
	// resuming is set while a storm swaps the connection: the old one's
	// errors are expected. readDone is closed when the current reader
	// returns.
	resuming atomic.Bool
	resumed  bool // reader-owned once the new reader runs
	readDone chan struct{}

	backlog int64 // pacer-owned

	rd readerStats
}

// link is one user's side of one dialog. A pair's two sides both send and
// receive; a publisher's side sends and its subscribers' sides (one in a
// direct dialog, several in a group) receive. Each side checks every seq
// it sees of the dialog: its own messages through replies, the sender's
// through message events.
type link struct {
	owner    *client
	dialogID string
	sides    []*link // every side of the dialog, this one included
	first    bool    // the side that counts the dialog's gaps in collect

	// Sending side (outs only), under owner.wmu.
	sf    sendFrame
	nextN uint64  // n of the next client_id on this link
	to    []*link // the sides that receive this side's messages

	// Receiving side, owned by the owner's reader.
	fromID  string // user id of the member whose messages this side receives; "" for none
	prefix  string // client_id prefix of those messages
	dhead   []byte // delivered receipt up to the seq
	rhead   []byte // read receipt up to the seq
	readAcc float64
	seen    bitset // client_id numbers received
	seqs    seqSet

	acked    atomic.Int64 // replies to this side's sends carrying the stored message
	received atomic.Int64 // distinct messages of this run received from fromID
}

// link finds the client's side of a dialog, or nil.
func (c *client) link(dialogID string) *link {
	if c.byID != nil {
		return c.byID[dialogID]
	}
	for _, l := range c.links {
		if l.dialogID == dialogID {
			return l
		}
	}
	return nil
}

// indexLinks builds byID once the links are known; a linear scan is
// cheaper for a handful.
func (c *client) indexLinks() {
	if len(c.links) <= 8 {
		return
	}
	c.byID = make(map[string]*link, len(c.links))
	for _, l := range c.links {
		c.byID[l.dialogID] = l
	}
}

// readerStats belongs to the reader goroutine; Run reads it after the
// goroutine has ended. lat is kept by receivers, ack by senders.
type readerStats struct {
	buf      []byte
	f        inFrame
	lat, ack *histogram
	measured int64 // messages received inside the measured window
	replies  int64
	receipts int64 // delivered receipts written
	reads    int64 // read receipts written
	dups     int64
	stray    int64
	errs     map[string]int64

	// The storm's: syncing while a resumed socket waits for its sync
	// reply; replayed counts the messages meanwhile, replayDups those
	// that came both replayed and live; stormAck is the stayed-connected
	// senders' send to reply during the storm.
	syncing    bool
	replayed   int64
	replayDups int64
	stormAck   *histogram
}

func (c *client) countWriteErr(err error) {
	if c.st.closing.Load() || c.resuming.Load() {
		return
	}
	if c.writeErrs == nil {
		c.writeErrs = map[string]int64{}
	}
	c.writeErrs["write_"+errorKey(err)]++
	c.dead.Store(true)
}

type sendStatus uint8

const (
	sent sendStatus = iota
	windowFull
	stopped // the run is over or the connection is dead
)

// send writes the next message unless the run has stopped, the connection
// is dead or the window is full. The window is checked and the in-flight
// count raised under wmu, so concurrent callers cannot overshoot it, and
// the count rises before the write because the reply can arrive before
// WriteMessage returns.
func (c *client) send() sendStatus {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.st.stopped.Load() || c.dead.Load() {
		return stopped
	}
	if c.inflight.Load() >= c.st.window {
		return windowFull
	}
	l := c.outs[c.rr]
	c.rr++
	if c.rr == len(c.outs) {
		c.rr = 0
	}
	n := l.nextN
	l.nextN++
	c.nextID++
	now := c.st.now()
	c.wbuf = l.sf.append(c.wbuf[:0], n, c.nextID, now)
	c.inflight.Add(1)
	if err := c.conn.WriteMessage(websocket.TextMessage, c.wbuf); err != nil {
		c.inflight.Add(-1)
		c.countWriteErr(err)
		return stopped
	}
	c.sent.Add(1)
	if now >= c.st.warmEnd && now < c.st.stopAt {
		c.sentMeasured++
	}
	return sent
}

// sendReceipt writes a receipt frame (head from receiptHead) for seq and
// reports whether it went out.
func (c *client) sendReceipt(head []byte, seq int64) bool {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	c.wbuf = appendReceipt(c.wbuf[:0], head, seq)
	if err := c.conn.WriteMessage(websocket.TextMessage, c.wbuf); err != nil {
		c.countWriteErr(err)
		return false
	}
	return true
}

// fill tops the closed-loop window up.
func (c *client) fill() {
	for c.send() == sent {
	}
}

// pace sends open loop: slot k of this sender is due at start+k*interval
// whatever the server's latency, so a slow server meets the offered rate
// rather than lowering it. A due slot with the window full is counted as
// backlog and dropped. Slots that fell due while the goroutine slept go
// out together, which is how sub-millisecond intervals are met.
func (c *client) pace(start, interval int64, stop <-chan struct{}) {
	t := time.NewTimer(time.Duration(start - c.st.now()))
	defer t.Stop()
	var issued int64
	for {
		select {
		case <-stop:
			return
		case <-t.C:
		}
		now := c.st.now()
		due := (now-start)/interval + 1
		for ; issued < due; issued++ {
			if start+issued*interval >= c.st.stopAt {
				return
			}
			switch c.send() {
			case windowFull:
				c.backlog++
			case stopped:
				return
			}
		}
		t.Reset(time.Duration(start + issued*interval - c.st.now()))
	}
}

// readLoop handles every frame the server sends this client, from the
// moment its connection opens: reading also answers the server's pings,
// and a long setup (thousands of logins) must not leave the first
// connections silent for longer than the server's pong wait. Sending
// starts apart from it (Run fills the closed-loop windows, or the pacers
// send).
func (c *client) readLoop() {
	r := &c.rd
	for {
		_, rdr, err := c.conn.NextReader()
		if err == nil {
			r.buf, err = readAll(rdr, r.buf[:0])
		}
		if err != nil {
			if !c.st.closing.Load() && !c.resuming.Load() {
				r.countErr(errorKey(err))
				c.dead.Store(true)
			}
			return
		}
		if err := decodeFrame(r.buf, &r.f); err != nil {
			r.countErr("bad_frame")
			continue
		}
		switch r.f.kind {
		case kindReply:
			c.onReply()
		case kindMessage:
			c.onMessage()
		case kindError:
			c.onError()
		}
	}
}

func (r *readerStats) countErr(key string) {
	if r.errs == nil {
		r.errs = map[string]int64{}
	}
	r.errs[key]++
}

// startReader runs the client's reader for its current connection.
func (c *client) startReader(readers *sync.WaitGroup) {
	done := make(chan struct{})
	c.readDone = done
	readers.Go(func() {
		defer close(done)
		c.readLoop()
	})
}

func (c *client) onReply() {
	r := &c.rd
	if r.syncing && string(r.f.id) == `"`+stormSyncID+`"` {
		r.syncing = false
		if r.f.more {
			c.st.storm.more.Add(1)
		}
		c.st.stormReplied()
		return
	}
	r.replies++
	m := r.f.msg
	var l *link
	if m != nil {
		l = c.link(m.DialogID)
	}
	switch {
	case m == nil:
		r.countErr("reply_without_message")
	case l == nil:
		r.countErr("reply_for_unknown_dialog")
	default:
		if stamp, ok := parseStamp(m.Text); ok && stamp >= c.st.warmEnd {
			if r.ack == nil {
				r.ack = new(histogram)
			}
			r.ack.record(c.st.now() - stamp)
		}
		if stamp, ok := parseStamp(m.Text); ok && c.st.inStorm(stamp) {
			if r.stormAck == nil {
				r.stormAck = new(histogram)
			}
			r.stormAck.record(c.st.now() - stamp)
		}
		if l.seqs.add(m.Seq) {
			r.dups++ // the server gave a seq already seen in this dialog
		}
		l.acked.Add(1)
	}
	c.inflight.Add(-1)
	if !c.st.paced {
		c.fill()
	}
}

func (c *client) onMessage() {
	r := &c.rd
	m := r.f.msg
	l := c.link(m.DialogID)
	if l == nil || l.fromID == "" || m.SenderID != l.fromID {
		r.stray++
		return
	}
	n, ok := parseClientID(m.ClientID, l.prefix)
	if !ok {
		r.stray++
		return
	}
	if r.syncing {
		r.replayed++
	}
	if l.seen.add(n) {
		if c.resumed {
			// Replayed by the sync and delivered live as well: allowed
			// (the client dedupes by seq), counted apart.
			r.replayDups++
			return
		}
		r.dups++ // the same client_id delivered again
		return
	}
	if l.seqs.add(m.Seq) {
		r.dups++ // a new message under a seq already seen
	}
	l.received.Add(1)
	now := c.st.now()
	if stamp, ok := parseStamp(m.Text); ok && stamp >= c.st.warmEnd {
		if r.lat == nil {
			r.lat = new(histogram)
		}
		r.lat.record(now - stamp)
	}
	if now >= c.st.warmEnd && now < c.st.stopAt {
		r.measured++
	}
	if c.st.closing.Load() {
		return
	}
	if c.st.delivered && c.sendReceipt(l.dhead, m.Seq) {
		r.receipts++
	}
	// Read receipts for an even share of the messages: a shell marks a
	// dialog read when its user looks, not at every message. readAcc
	// starts at a phase of its own per side (buildClients).
	if c.st.readShare > 0 {
		l.readAcc += c.st.readShare
		if l.readAcc >= 1-1e-9 { // ten tenths make one despite rounding
			l.readAcc--
			if c.sendReceipt(l.rhead, m.Seq) {
				r.reads++
			}
		}
	}
}

func (c *client) onError() {
	r := &c.rd
	code := "error_frame"
	if r.f.errCode != "" {
		code = r.f.errCode
	}
	r.countErr(code)
	if len(r.f.id) > 0 {
		// A send failed and its slot is free. In closed loop, refilling at
		// once would turn a rate limit into a busy loop of rejected sends;
		// the prober retries one send later, and its reply reopens the
		// whole window.
		c.inflight.Add(-1)
		c.backoff.Store(true)
	}
}

// probe is the closed loop's retry after errors: every tick it lets each
// client that was refused send one message, bounding the rejected sends
// a limiting server sees to one per client per tick.
func probe(clients []*client, stop <-chan struct{}) {
	t := time.NewTicker(probeInterval)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
		}
		for _, c := range clients {
			if c.backoff.Load() && c.backoff.CompareAndSwap(true, false) {
				c.send()
			}
		}
	}
}

// readAll reads one frame into buf, reusing its capacity: io.ReadAll would
// allocate a fresh buffer per frame.
func readAll(r io.Reader, buf []byte) ([]byte, error) {
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if errors.Is(err, io.EOF) {
			return buf, nil
		}
		if err != nil {
			return buf, err
		}
	}
}

// idleConn is a connection that only listens. It still needs a reader:
// gorilla answers the server's pings from inside the read loop, and a
// connection nobody reads is eventually dropped by the server.
type idleConn struct {
	conn   *websocket.Conn
	frames int64
	errKey string
}

func (ic *idleConn) readLoop(st *runState) {
	for {
		_, r, err := ic.conn.NextReader()
		if err != nil {
			if !st.closing.Load() {
				ic.errKey = "idle_" + errorKey(err)
			}
			return
		}
		ic.frames++
		if _, err := io.Copy(io.Discard, r); err != nil && !st.closing.Load() {
			ic.errKey = "idle_" + errorKey(err)
			return
		}
	}
}
