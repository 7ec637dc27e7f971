// Package ws is the WebSocket gateway of the shell contract: it
// authenticates GET /v1/ws before upgrading, keeps a hub of the live
// connections of this node, subscribes to the broker topic of every user it
// holds, and turns client frames into chat service calls.
//
// Each connection has one reader goroutine (which hands each client
// request to a goroutine of its own and waits for it, so requests are
// handled in order) and, while there is something to write, one writer
// goroutine (which owns every data write), as gorilla/websocket requires.
// Events from the broker are queued on a bounded outbox without ever
// blocking the broker; a connection whose outbox overflows is closed and
// the client resumes with sync.
//
// A connection lives only as long as its session: the session's end on any
// node (logout, refresh-token reuse, EndUserSessions) reaches every node
// through the user's topic and closes it with 4001, and so does the expiry
// of its access token, unless the shell hands it a fresh one (the auth
// frame). Limits belong to the user, across connections and nodes: the
// frame budget and the handshake budget are counted by the shared
// chat.Limiter, live connections by the chat.SocketCounter.
//
// A connection that sends a watch frame also gets live patches of the
// screen it shows, rendered by a Patcher off the broker's goroutine
// (patch.go).
package ws

import (
	"context"
	"log/slog"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/websocket"

	"github.com/korobka/korobka/chat"
	"github.com/korobka/korobka/chat/wire"
)

// Service is what the gateway needs from the chat service; *chat.Service
// implements it. It is declared here, by its consumer, so tests can drive
// the gateway with a fake and the service does not know about WebSockets.
type Service interface {
	Authenticate(ctx context.Context, accessToken string) (chat.Principal, error)
	// Send stores a message; origin is the sending connection's id so the
	// message event skips it (that device gets the reply). created is
	// false for a retry.
	Send(ctx context.Context, p chat.Principal, origin int64, req chat.SendRequest) (m chat.MessageView, created bool, err error)
	MarkDelivered(ctx context.Context, p chat.Principal, dialogID, seq int64) error
	MarkRead(ctx context.Context, p chat.Principal, dialogID, seq int64) error
	Typing(ctx context.Context, p chat.Principal, dialogID int64) error
	// Sync replays what a device missed, handing each message to emit (a
	// page at a time) before reading more; emit's error ends it.
	Sync(ctx context.Context, p chat.Principal, req chat.SyncRequest, emit func(chat.MessageView) error) (chat.SyncResult, error)
	// SetAppState records whether connection connID shows the app in the
	// foreground (the state frame); the gateway reports false when a
	// foreground connection closes.
	SetAppState(ctx context.Context, p chat.Principal, connID int64, foreground bool) error
	// Connected and Disconnected report a user's first and last connection
	// on this node (presence).
	Connected(ctx context.Context, userID int64)
	Disconnected(ctx context.Context, userID int64)
}

// Config tunes a Gateway. The zero value gives the defaults below.
type Config struct {
	Logger *slog.Logger // nil: discard
	// AllowedOrigins are browser origins ("https://app.example.com")
	// allowed besides the request's own host. Native shells send no Origin
	// and are always allowed.
	AllowedOrigins []string
	// TrustedProxies decides the client address of a handshake, for the
	// per-address handshake limit (wire.Proxies.ClientAddr).
	TrustedProxies wire.Proxies
	// Limiter counts the budgets every node shares (a user's frames, the
	// handshakes of a user and of an address); Sockets counts the users'
	// live connections for MaxSocketsPerUser. Both are required:
	// chat/memory for one node, chat/redis for many.
	Limiter chat.Limiter
	Sockets chat.SocketCounter
	// MaxSocketsPerUser caps a user's live connections across nodes. A
	// connection past it closes the user's oldest with 4002.
	MaxSocketsPerUser int
	// HandshakesPerUser and HandshakesPerAddr limit opening connections,
	// per user (after the token is checked) and per client address (IPv6
	// per /64, before it is): beyond them the handshake answers 429. The
	// zero HandshakesPerUser lets a user open all MaxSocketsPerUser
	// connections three times at once and six times a minute.
	HandshakesPerUser chat.Limit
	HandshakesPerAddr chat.Limit
	// LoopbackUnlimited exempts loopback clients from HandshakesPerAddr:
	// a load generator on the server's host (KOROBKA_LOOPBACK_UNLIMITED).
	LoopbackUnlimited bool
	ReadLimit         int64 // largest client frame in bytes; over it the connection closes with 1009
	Outbox            int   // frames queued per connection before it is closed as too slow
	// PingInterval is how often every connection is pinged; a connection
	// that answers nothing (pong or frame) for PongWait is dropped. A
	// PongWait not above PingInterval is raised to twice PingInterval.
	PingInterval time.Duration
	PongWait     time.Duration
	WriteWait    time.Duration // deadline of one write to a client
	// CloseWait is how long a closing connection keeps reading (and
	// discarding) while the client reaches the close frame behind what
	// the kernel still buffers, before the socket is dropped. Dropping it
	// earlier resets the connection and the client never sees the code.
	CloseWait time.Duration
	// Rate and Burst are a user's frame budget: frames per second across
	// all their connections on every node, and how many at once above
	// Rate. FrameChunk is how many frames a node takes from the shared
	// Limiter at once and hands out locally, so a busy user costs one
	// Limiter call per chunk; a user can exceed Burst by at most
	// FrameChunk-1 frames per node that holds a connection of theirs.
	Rate       int
	Burst      int
	FrameChunk int
	// ExpiryCheck is how often the node closes connections whose access
	// token has expired (one sweep for all, like the pings).
	ExpiryCheck time.Duration
	// Now is the clock of access-token expiry and of the flood count, so
	// tests can move it (the Limiter has its own). Socket deadlines always
	// use time.Now: the kernel does not know a fake clock.
	Now func() time.Time
	// Patcher renders live patches for connections that sent a watch
	// frame; nil: watch frames are accepted and change nothing.
	Patcher Patcher
	// PatchWorkers compute patches off the broker's goroutine; each
	// serves a fixed share of the users and queues up to PatchQueue
	// deliveries before dropping their patches.
	PatchWorkers int
	PatchQueue   int

	// Handshakes bounds the handshakes this node works on at once (token
	// look-ups, registration, upgrade, presence); 0: DefaultHandshakes.
	// More wait their turn, at most HandshakeWait (0: DefaultHandshakeWait),
	// then get 503 unavailable with Retry-After. In a reconnect storm this
	// keeps the node's cores for the connections it already has: the
	// storm is admitted a few at a time instead of all at once
	// (docs/operations.md, "Work per request").
	Handshakes    int
	HandshakeWait time.Duration
}

// Defaults for Config. The rate matches the contract: a user may send 50
// frames/s with bursts of 200 before rate_limited.
const (
	DefaultReadLimit         = 64 << 10
	DefaultOutbox            = 256
	DefaultPingInterval      = 30 * time.Second
	DefaultPongWait          = 60 * time.Second
	DefaultWriteWait         = 10 * time.Second
	DefaultCloseWait         = 10 * time.Second
	DefaultRate              = 50
	DefaultBurst             = 200
	DefaultFrameChunk        = 8
	DefaultMaxSocketsPerUser = 10
	DefaultExpiryCheck       = time.Second
	DefaultHandshakes        = 16
	DefaultHandshakeWait     = 5 * time.Second
)

// DefaultHandshakesPerAddr is wider than a user's budget (see
// Config.HandshakesPerUser): many users may share one carrier-grade NAT
// address, and all reconnect when a node restarts.
var DefaultHandshakesPerAddr = chat.Limit{Rate: 600, Period: time.Minute, Burst: 200}

// Close codes the gateway sends, beyond those of RFC 6455 that gorilla
// sends itself (1000 echo, 1009 frame too big).
const (
	CloseGoingAway     = websocket.CloseGoingAway       // 1001: the node is shutting down
	ClosePolicy        = websocket.ClosePolicyViolation // 1008: flood after rate_limited
	CloseTooBig        = websocket.CloseMessageTooBig   // 1009: frame over ReadLimit
	CloseServiceReset  = websocket.CloseServiceRestart  // 1012: events may have been lost; reconnect and sync
	CloseTryAgainLater = websocket.CloseTryAgainLater   // 1013: outbox overflow; reconnect and sync
	// CloseLoggedOut ends a connection whose session ended: logout,
	// refresh-token reuse, a block or role change, or the access token's
	// expiry without a fresh one over auth. The shell refreshes its
	// tokens (or logs in again) before reconnecting.
	CloseLoggedOut = 4001
	// CloseTooManySockets ends a user's oldest connection when a new one
	// would pass MaxSocketsPerUser. The shell reconnects only on the
	// user's next action, not on its own.
	CloseTooManySockets = 4002
)

const (
	// readBufferSize is held by every connection for its whole life, so it
	// is small: client frames are small and bigger ones are read in pieces.
	readBufferSize = 1024
	// writeBufferSize is only borrowed from the pool while a frame is being
	// written, so it can be big enough that a typical event goes out as one
	// WebSocket frame in one syscall.
	writeBufferSize = 4096
	// opTimeout bounds broker and presence calls made outside a request,
	// when a connection ends.
	opTimeout = 5 * time.Second
)

// Gateway is an http.Handler for GET /v1/ws and the hub of this node's
// connections. Shut it down with Shutdown or Close: http.Server.Shutdown
// does not know hijacked connections, and the first connection starts the
// node's ping goroutine, which only Shutdown stops.
type Gateway struct {
	svc    Service
	broker chat.Broker
	cfg    Config
	log    *slog.Logger
	up     websocket.Upgrader

	// ctx is cancelled by Shutdown so that service calls of closing
	// connections give up; the clients will resend (send dedupes on
	// client_id) or sync.
	ctx    context.Context
	cancel context.CancelFunc

	mu     sync.Mutex
	users  map[int64]*user // the users with a connection here, or on their way
	conns  int             // registered connections
	closed bool

	wg        sync.WaitGroup // handshakes in progress and connection goroutines
	sweepOnce sync.Once      // starts the ping and expiry sweep with the first connection
	stopSweep chan struct{}
	stopOnce  sync.Once
	// handshakes holds a token per handshake in progress (cap
	// cfg.Handshakes); see admit.
	handshakes chan struct{}

	// expiry holds the connections whose access token expires, soonest
	// first, for the sweep; guarded by expMu.
	expMu  sync.Mutex
	expiry expiryHeap

	patches   *patches  // nil without a Patcher
	patchOnce sync.Once // starts the patch workers with the first watch
}

// user is the hub's entry for one user. Its broker subscription follows
// refs: subscribed when the first connection registers, unsubscribed when
// the last one is gone. subMu orders those broker and presence calls, so a
// user who reconnects at once never ends up subscribed with no connection
// or connected with no subscription.
type user struct {
	uid   int64
	conns []*conn // guarded by Gateway.mu; a user rarely has more than a few
	refs  int     // guarded by Gateway.mu: conns plus registrations in flight

	subMu      sync.Mutex
	subscribed bool // guarded by subMu
	// online says presence was reported for this node: only once a
	// connection has upgraded, so failed handshakes change nothing.
	online bool // guarded by subMu

	// budget is the frames this node took from the user's shared budget
	// and has not handed out yet (at most FrameChunk).
	budgetMu sync.Mutex
	budget   int
}

// Stats is a snapshot of the hub for metrics and tests.
type Stats struct {
	Connections int
	Users       int
}

// New returns a Gateway serving svc's users and receiving their events from
// broker. The broker should call Reset when it may have lost publications.
func New(svc Service, broker chat.Broker, cfg Config) *Gateway {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.ReadLimit <= 0 {
		cfg.ReadLimit = DefaultReadLimit
	}
	if cfg.Outbox <= 0 {
		cfg.Outbox = DefaultOutbox
	}
	if cfg.PingInterval <= 0 {
		cfg.PingInterval = DefaultPingInterval
	}
	if cfg.PongWait <= 0 {
		cfg.PongWait = DefaultPongWait
	}
	if cfg.PongWait <= cfg.PingInterval {
		cfg.PongWait = 2 * cfg.PingInterval
	}
	if cfg.WriteWait <= 0 {
		cfg.WriteWait = DefaultWriteWait
	}
	if cfg.CloseWait <= 0 {
		cfg.CloseWait = DefaultCloseWait
	}
	if cfg.FrameChunk <= 0 {
		cfg.FrameChunk = DefaultFrameChunk
	}
	if cfg.MaxSocketsPerUser <= 0 {
		cfg.MaxSocketsPerUser = DefaultMaxSocketsPerUser
	}
	if cfg.ExpiryCheck <= 0 {
		cfg.ExpiryCheck = DefaultExpiryCheck
	}
	if cfg.HandshakesPerUser == (chat.Limit{}) {
		cfg.HandshakesPerUser = chat.Limit{Rate: 6 * cfg.MaxSocketsPerUser, Period: time.Minute, Burst: 3 * cfg.MaxSocketsPerUser}
	}
	if cfg.HandshakesPerAddr == (chat.Limit{}) {
		cfg.HandshakesPerAddr = DefaultHandshakesPerAddr
	}
	if cfg.Rate <= 0 {
		cfg.Rate = DefaultRate
	}
	if cfg.Burst <= 0 {
		cfg.Burst = DefaultBurst
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.PatchWorkers <= 0 {
		cfg.PatchWorkers = DefaultPatchWorkers
	}
	if cfg.PatchQueue <= 0 {
		cfg.PatchQueue = DefaultPatchQueue
	}
	if cfg.Handshakes <= 0 {
		cfg.Handshakes = DefaultHandshakes
	}
	if cfg.HandshakeWait <= 0 {
		cfg.HandshakeWait = DefaultHandshakeWait
	}
	ctx, cancel := context.WithCancel(context.Background())
	g := &Gateway{
		svc:        svc,
		broker:     broker,
		cfg:        cfg,
		log:        cfg.Logger,
		ctx:        ctx,
		cancel:     cancel,
		users:      make(map[int64]*user),
		stopSweep:  make(chan struct{}),
		handshakes: make(chan struct{}, cfg.Handshakes),
	}
	if cfg.Patcher != nil {
		g.patches = newPatches(cfg.Patcher, cfg.PatchWorkers, cfg.PatchQueue)
	}
	g.up = websocket.Upgrader{
		HandshakeTimeout: cfg.WriteWait,
		// 0: gorilla reads through the hijacked reader, which hijacker
		// makes readBufferSize.
		ReadBufferSize:  0,
		WriteBufferSize: writeBufferSize,
		WriteBufferPool: &sync.Pool{},
		// ServeHTTP has checked the origin before authenticating.
		CheckOrigin: func(*http.Request) bool { return true },
		Error: func(w http.ResponseWriter, r *http.Request, status int, reason error) {
			if status == http.StatusMethodNotAllowed {
				wire.WriteErrorFor(w, r, errMethod)
				return
			}
			wire.WriteErrorFor(w, r, errHandshake)
		},
	}
	return g
}

// errBusy answers a handshake that waited cfg.HandshakeWait for its turn.
var errBusy = &chat.Error{Kind: chat.KindUnavailable, Code: "unavailable",
	Message: "The server is busy accepting connections; try again.", RetryAfter: time.Second}

// errShuttingDown answers a handshake that comes, or still waits for its
// turn, once Shutdown has begun.
var errShuttingDown = chat.Errorf(chat.KindUnavailable, "shutting_down", "The server is restarting; reconnect in a moment.")

// admit waits for one of the node's handshake slots (cfg.Handshakes), at
// most cfg.HandshakeWait, and returns the function that gives it back.
// It fails with errBusy when the wait runs out, with the context's error
// when the client goes away first, and with errShuttingDown once Shutdown
// has begun: Shutdown does not wait for handshakes that have not
// registered, so none may start its work (the token look-up) after it.
func (g *Gateway) admit(ctx context.Context) (release func(), err error) {
	if g.ctx.Err() != nil {
		return nil, errShuttingDown
	}
	select {
	case g.handshakes <- struct{}{}:
		return g.leave, nil
	default:
	}
	t := time.NewTimer(g.cfg.HandshakeWait)
	defer t.Stop()
	select {
	case g.handshakes <- struct{}{}:
		return g.leave, nil
	case <-t.C:
		return nil, errBusy
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-g.ctx.Done():
		return nil, errShuttingDown
	}
}

func (g *Gateway) leave() { <-g.handshakes }

// ServeHTTP authenticates the request, checks its origin and upgrades it.
// Failures are answered as JSON errors before any upgrade, so a client can
// tell a dead token (401: log in again) from a network failure (retry).
//
// Presence, last_seen and the socket cap change only once the upgrade has
// succeeded: a failed handshake leaves no trace a watcher could see.
func (g *Gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet {
		w.Header().Set("Allow", http.MethodGet)
		wire.WriteErrorFor(w, r, errMethod)
		return
	}
	// The origin comes first: a page on another site learns nothing, not
	// even whether a token it guessed is alive.
	if !g.originAllowed(r) {
		wire.WriteErrorFor(w, r, errOrigin)
		return
	}
	if !websocket.IsWebSocketUpgrade(r) {
		wire.WriteErrorFor(w, r, errHandshake)
		return
	}
	ctx := r.Context()
	// The address's budget is spent before the token is looked up, so a
	// flood of guessed tokens costs the database nothing beyond it.
	ip := g.cfg.TrustedProxies.ClientAddr(r)
	if err := g.allowAddress(ctx, ip); err != nil {
		g.logError(ctx, g.log, "websocket handshake limit failed", err)
		wire.WriteErrorFor(w, r, err)
		return
	}
	token := accessToken(r)
	if token == "" {
		wire.WriteErrorFor(w, r, errMissingToken)
		return
	}
	release, err := g.admit(ctx)
	if err != nil {
		wire.WriteErrorFor(w, r, err)
		return
	}
	defer release()
	p, err := g.svc.Authenticate(ctx, token)
	if err != nil {
		g.logError(ctx, g.log, "websocket authentication failed", err)
		wire.WriteErrorFor(w, r, err)
		return
	}
	if err := g.allow(ctx, "ws:handshake:user:"+chat.FormatID(p.UserID), g.cfg.HandshakesPerUser); err != nil {
		g.logError(ctx, g.log, "websocket handshake limit failed", err)
		wire.WriteErrorFor(w, r, err)
		return
	}

	c := g.newConn(p)
	c.lang = wire.ErrorLang(r.Header.Get("Accept-Language"))
	u, err := g.register(ctx, c)
	if err != nil {
		g.logError(ctx, g.log, "websocket registration failed", err)
		wire.WriteErrorFor(w, r, err)
		return
	}
	// The handshake counts as work in flight, so Shutdown waits for it and
	// the WaitGroup never goes from zero to one while Shutdown waits.
	defer g.wg.Done()
	// The session may have ended between Authenticate and register: its
	// close envelope then reached no connection here. c hears its user's
	// topic now, so a check of the token from here on misses no ending.
	if _, err := g.svc.Authenticate(ctx, token); err != nil {
		g.unregister(c, u)
		g.logError(ctx, g.log, "websocket authentication failed", err)
		wire.WriteErrorFor(w, r, err)
		return
	}
	hw := &hijacker{ResponseWriter: w}
	ws, err := g.up.Upgrade(hw, r, nil)
	if err != nil {
		// The Upgrader has answered the client.
		g.unregister(c, u)
		return
	}
	c.ws, c.br = ws, hw.br
	g.sweepOnce.Do(func() {
		g.wg.Add(1)
		go g.sweep()
	})
	g.acquire(ctx, c)
	g.online(ctx, u)
	g.track(c, p.ExpiresAt)
	ws.SetReadLimit(g.cfg.ReadLimit)
	ws.SetReadDeadline(time.Now().Add(g.cfg.PongWait))
	ws.SetPongHandler(c.ponged)
	g.wg.Add(1)
	go c.readLoop(u)
	c.start() // a writer runs whenever there is something to write
}

// allow spends one event of a shared budget; a refusal is a 429.
func (g *Gateway) allow(ctx context.Context, key string, l chat.Limit) error {
	ok, retry, err := g.cfg.Limiter.Allow(ctx, key, l)
	if err != nil {
		return &chat.Error{Kind: chat.KindUnavailable, Code: "unavailable", Message: "Try again later.", Err: err}
	}
	if !ok {
		return &chat.Error{Kind: chat.KindRateLimited, Code: "rate_limited", Message: "Too many connections opened; try again later.", RetryAfter: retry}
	}
	return nil
}

// acquire counts c against its user's socket cap, on every node. The
// connections it evicts, the user's oldest, are closed wherever they are
// through the user's topic. When the count cannot be taken, c itself is
// closed with 1013: a cap that cannot be checked is not skipped.
func (g *Gateway) acquire(ctx context.Context, c *conn) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), opTimeout)
	defer cancel()
	evicted, err := g.cfg.Sockets.Acquire(ctx, c.uid, c.id, g.cfg.MaxSocketsPerUser)
	if err != nil {
		c.logger().Warn("websocket socket count failed", "err", err)
		c.closeWith(CloseTryAgainLater, "try again later")
		return
	}
	c.counted = true
	if len(evicted) == 0 {
		return
	}
	pubs := make([]chat.Publication, len(evicted))
	for i, id := range evicted {
		pubs[i] = chat.Publication{Topic: chat.UserTopic(c.uid), Payload: chat.Envelope(chat.EnvCloseConn, id, nil)}
	}
	if err := g.broker.Publish(ctx, pubs...); err != nil {
		c.logger().Warn("websocket eviction not published", "err", err)
	}
}

// online reports the user present once a connection of theirs has
// upgraded on this node.
func (g *Gateway) online(ctx context.Context, u *user) {
	u.subMu.Lock()
	defer u.subMu.Unlock()
	if !u.online {
		u.online = true
		g.svc.Connected(ctx, u.uid)
	}
}

// register adds c to its user's entry, subscribing to the user's topic
// when c is the user's first connection here (presence waits for the
// upgrade: see online). It is done before the upgrade so that a broker
// failure is an HTTP 503, and so that no event published after the client
// sees the upgrade is missed.
// On success it has added one to g.wg for the caller's handshake.
func (g *Gateway) register(ctx context.Context, c *conn) (*user, error) {
	uid := c.uid
	g.mu.Lock()
	if g.closed {
		g.mu.Unlock()
		return nil, errShuttingDown
	}
	u := g.users[uid]
	if u == nil {
		u = &user{uid: uid}
		g.users[uid] = u
	}
	u.refs++
	g.wg.Add(1)
	g.mu.Unlock()

	u.subMu.Lock()
	if !u.subscribed {
		// Bounded: a broker that lost its connection must not hold the
		// handshake (and Shutdown, which waits for it) indefinitely.
		sctx, cancel := context.WithTimeout(ctx, opTimeout)
		err := g.broker.Subscribe(sctx, chat.UserTopic(uid), func(payload []byte) { g.deliver(uid, payload) })
		cancel()
		if err != nil {
			u.subMu.Unlock()
			g.unregister(c, u)
			g.wg.Done()
			return nil, &chat.Error{Kind: chat.KindUnavailable, Code: "unavailable", Message: "Live updates are unavailable; try again later.", Err: err}
		}
		u.subscribed = true
	}
	g.mu.Lock()
	u.conns = append(u.conns, c)
	g.conns++
	// Shutdown may have taken its snapshot while we subscribed.
	closed := g.closed
	g.mu.Unlock()
	u.subMu.Unlock()
	if closed {
		c.closeWith(CloseGoingAway, "server shutting down")
	}
	return u, nil
}

// unregister removes c from the hub, the expiry sweep and the socket
// count. When c was its user's last connection, it unsubscribes and, if
// presence was reported, reports the user gone, under subMu and before
// dropping the entry, so a registration racing with it either reuses the
// subscription or waits and subscribes afresh.
func (g *Gateway) unregister(c *conn, u *user) {
	uid := c.uid
	g.untrack(c)
	if c.counted {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(g.ctx), opTimeout)
		if err := g.cfg.Sockets.Release(ctx, uid, c.id); err != nil {
			g.log.Warn("websocket socket release failed", "user", uid, "err", err)
		}
		cancel()
	}
	g.mu.Lock()
	if i := indexOf(u.conns, c); i >= 0 {
		last := len(u.conns) - 1
		u.conns[i] = u.conns[last]
		u.conns[last] = nil
		u.conns = u.conns[:last]
		g.conns--
	}
	u.refs--
	last := u.refs == 0
	g.mu.Unlock()
	if !last {
		return
	}

	u.subMu.Lock()
	defer u.subMu.Unlock()
	g.mu.Lock()
	again := u.refs != 0
	g.mu.Unlock()
	if again {
		return
	}
	if u.subscribed {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(g.ctx), opTimeout)
		if err := g.broker.Unsubscribe(ctx, chat.UserTopic(uid)); err != nil {
			g.log.Warn("websocket unsubscribe failed", "user", uid, "err", err)
		}
		if u.online {
			g.svc.Disconnected(ctx, uid)
			u.online = false
		}
		cancel()
		u.subscribed = false
	}
	g.mu.Lock()
	if u.refs == 0 && g.users[uid] == u {
		delete(g.users, uid)
	}
	g.mu.Unlock()
}

func indexOf(cs []*conn, c *conn) int {
	for i, x := range cs {
		if x == c {
			return i
		}
	}
	return -1
}

// deliver is the broker handler of a user's topic. It runs on the broker's
// goroutine, so it only snapshots the user's connections under the lock and
// queues without blocking.
func (g *Gateway) deliver(uid int64, payload []byte) {
	kind, id, frame, mark, err := chat.OpenEnvelopeMark(payload)
	if err != nil {
		g.log.Warn("websocket: bad envelope", "user", uid, "err", err)
		return
	}
	var buf [8]*conn
	conns := g.userConns(uid, buf[:0])
	switch kind {
	case chat.EnvFrame, chat.EnvMessage:
		watching := false
		for _, c := range conns {
			if c.id != id && !c.replayed(mark) {
				c.enqueue(frame)
			}
			if c.watching.Load() != nil {
				watching = true
			}
		}
		if watching {
			g.queuePatch(uid, frame)
		}
	case chat.EnvCloseFamily:
		for _, c := range conns {
			if c.family.Load() == id {
				c.closeWith(CloseLoggedOut, "session ended")
			}
		}
	case chat.EnvCloseUser:
		for _, c := range conns {
			c.closeWith(CloseLoggedOut, "session ended")
		}
	case chat.EnvCloseConn:
		for _, c := range conns {
			if c.id == id {
				c.closeWith(CloseTooManySockets, "too many connections")
			}
		}
	default:
		// A newer node may send kinds this one does not know; skipping
		// them keeps mixed-version clusters working.
		g.log.Debug("websocket: unknown envelope kind", "user", uid, "kind", kind)
	}
}

// userConns appends uid's connections to dst.
func (g *Gateway) userConns(uid int64, dst []*conn) []*conn {
	g.mu.Lock()
	defer g.mu.Unlock()
	if u := g.users[uid]; u != nil {
		dst = append(dst, u.conns...)
	}
	return dst
}

// allConns returns every registered connection.
func (g *Gateway) allConns() []*conn {
	g.mu.Lock()
	defer g.mu.Unlock()
	all := make([]*conn, 0, g.conns)
	for _, u := range g.users {
		all = append(all, u.conns...)
	}
	return all
}

// sweep asks every connection's writer to ping, once per PingInterval
// (moving the read deadline of those whose pong is still only noted), and
// closes the connections whose access token expired, once per ExpiryCheck.
// One goroutine and two tickers for the node instead of timers per
// connection keep idle connections free of timers and wake-ups of their
// own.
func (g *Gateway) sweep() {
	defer g.wg.Done()
	ping := time.NewTicker(g.cfg.PingInterval)
	defer ping.Stop()
	exp := time.NewTicker(g.cfg.ExpiryCheck)
	defer exp.Stop()
	for {
		select {
		case <-g.stopSweep:
			return
		case <-ping.C:
			for _, c := range g.allConns() {
				// A writer blocked on a slow client cannot move the
				// deadline for the pongs noted meanwhile; the sweep
				// does, within PingInterval, before PongWait runs out.
				if c.aliveDue.Swap(false) {
					c.refreshDeadline()
				}
				c.ping()
			}
		case <-exp.C:
			for _, c := range g.expired(g.cfg.Now()) {
				c.closeWith(CloseLoggedOut, "token expired")
			}
		}
	}
}

// Reset closes every connection with 1012 so that clients reconnect and
// sync. The broker calls it when publications may have been lost (a Redis
// reconnect): the database has every message, the live stream does not.
func (g *Gateway) Reset() {
	for _, c := range g.allConns() {
		c.closeWith(CloseServiceReset, "service restart")
	}
}

// Shutdown refuses new connections, closes every connection with 1001 and
// waits for their goroutines, or for ctx.
func (g *Gateway) Shutdown(ctx context.Context) error {
	g.mu.Lock()
	g.closed = true
	g.mu.Unlock()
	g.stopOnce.Do(func() { close(g.stopSweep) })
	g.cancel()
	for _, c := range g.allConns() {
		c.closeWith(CloseGoingAway, "server shutting down")
	}
	done := make(chan struct{})
	go func() {
		g.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Close is Shutdown without a deadline. It is idempotent.
func (g *Gateway) Close() error { return g.Shutdown(context.Background()) }

// Stats reports the hub's size.
func (g *Gateway) Stats() Stats {
	g.mu.Lock()
	defer g.mu.Unlock()
	return Stats{Connections: g.conns, Users: len(g.users)}
}

// originAllowed lets through native shells (no Origin), pages served by
// this host, and the configured origins. Browsers always send Origin on a
// WebSocket handshake, so this is what stops another site's page from
// using a victim's token that it smuggled into the query.
func (g *Gateway) originAllowed(r *http.Request) bool {
	origin := r.Header.Get("Origin")
	if origin == "" {
		return true
	}
	u, err := url.Parse(origin)
	if err != nil || u.Host == "" {
		return false
	}
	if strings.EqualFold(u.Host, r.Host) {
		return true
	}
	for _, a := range g.cfg.AllowedOrigins {
		if strings.EqualFold(strings.TrimSuffix(a, "/"), origin) {
			return true
		}
	}
	return false
}

// accessToken reads the bearer token from the header or, for browsers,
// which cannot set headers on a WebSocket, from ?access_token=.
func accessToken(r *http.Request) string {
	if h := r.Header.Get("Authorization"); h != "" {
		token, _ := wire.BearerToken(h)
		return token
	}
	return r.URL.Query().Get("access_token")
}

// logError logs errors that are the server's fault, once, here at the
// boundary; the client's faults are only answered.
func (g *Gateway) logError(ctx context.Context, log *slog.Logger, msg string, err error) {
	if wire.ServerFault(err) {
		log.ErrorContext(ctx, msg, "err", err)
	}
}

// Handshake errors, answered as HTTP errors before any upgrade.
var (
	errMethod       = chat.Errorf(chat.KindMethodNotAllowed, "method_not_allowed", "Use GET with a WebSocket handshake.")
	errOrigin       = chat.Errorf(chat.KindForbidden, "origin_not_allowed", "This origin may not open a WebSocket here.")
	errHandshake    = chat.Errorf(chat.KindInvalid, "bad_handshake", "This endpoint takes a WebSocket handshake.")
	errMissingToken = chat.Errorf(chat.KindUnauthorized, "missing_token", "Send Authorization: Bearer <access_token> or ?access_token=.")
)

// allowAddress spends one handshake of the client address's budget (IPv6
// per /64, chat.AddressKey), unless the address is loopback and the
// gateway was told to let load generators there through.
func (g *Gateway) allowAddress(ctx context.Context, ip netip.Addr) error {
	if g.cfg.LoopbackUnlimited && ip.Unmap().IsLoopback() {
		return nil
	}
	return g.allow(ctx, "ws:handshake:addr:"+chat.AddressKey(ip.String()), g.cfg.HandshakesPerAddr)
}
