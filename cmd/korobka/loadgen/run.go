package loadgen

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"runtime"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

// contractFrameRate is the per-connection rate the shell contract promises
// to accept before answering rate_limited.
const contractFrameRate = 50

// Run logs the users in, opens the dialogs and connections, makes the
// senders talk for Warmup+Duration, waits for what is in flight to land and
// reports. It stops by itself; cancelling ctx stops it early, and the
// traffic measured so far is still reported beside ctx's error.
func Run(ctx context.Context, cfg Config, out io.Writer) (Result, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return Result{}, err
	}
	base, err := checkLoopback(cfg.URL)
	if err != nil {
		return Result{}, err
	}
	nActive := cfg.activeUsers()
	nUsers := nActive + cfg.Idle
	if lim, need := fileLimit(), int64(nUsers+cfg.Logins+64); lim > 0 && need > lim {
		return Result{}, fmt.Errorf("%d connections need about %d open files, the limit is %d: lower pairs/publishers/idle or raise ulimit -n", nUsers, need, lim)
	}
	if cfg.ServerPID > 0 {
		if _, err := readRSS(cfg.ServerPID); err != nil {
			return Result{}, err
		}
	}
	say := func(format string, args ...any) {
		if !cfg.JSON {
			fmt.Fprintf(out, format+"\n", args...)
		}
	}

	var nonce [6]byte
	_, _ = rand.Read(nonce[:]) // never fails
	st := &runState{
		base:      time.Now(),
		run:       hex.EncodeToString(nonce[:]),
		window:    int32(cfg.Window),
		delivered: cfg.Delivered,
		readShare: cfg.ReadShare,
		paced:     cfg.Rate > 0,
	}
	res := Result{
		Label: cfg.Label, Pairs: cfg.Pairs, Publishers: cfg.Publishers, Subscribers: cfg.subscribers(),
		DialogsPerUser: cfg.DialogsPerUser, Idle: cfg.Idle, Rate: cfg.Rate, Window: cfg.Window,
		BodySize: cfg.BodySize, Warmup: cfg.Warmup, DeliveredReceipts: cfg.Delivered, ReadShare: cfg.ReadShare,
		Errors: map[string]int64{},
	}

	tr := &http.Transport{MaxIdleConnsPerHost: cfg.Logins, MaxConnsPerHost: cfg.Logins}
	defer tr.CloseIdleConnections()
	a := &api{base: base, hc: &http.Client{Transport: tr}}

	// Setup: logins, dialogs, connections. Any failure of the active side
	// is fatal, since a missing dialog would make every count meaningless.
	users := make([]user, nUsers)
	err = forEach(ctx, nUsers, cfg.Logins, func(ctx context.Context, i int) error {
		var err error
		users[i], err = a.login(ctx, phone(cfg.PhonePrefix, i), cfg.Code)
		return err
	})
	if err != nil && ctx.Err() == nil {
		return res, fmt.Errorf("%w (is the server started with KOROBKA_TEST_PHONES=%q and KOROBKA_LOOPBACK_UNLIMITED=1?)", err, cfg.PhonePrefix+"*:"+cfg.Code)
	}
	if err != nil {
		return res, err
	}
	res.Users = nUsers
	say("logged in %d users in %s", nUsers, time.Since(st.base).Round(time.Millisecond))

	plan := planDialogs(cfg)
	dialogs := make([]openedDialog, len(plan))
	err = forEach(ctx, len(plan), cfg.Logins, func(ctx context.Context, i int) error {
		var err error
		dp := plan[i]
		opener := users[dp.members[dp.opener]]
		if dp.group {
			others := make([]string, 0, len(dp.members)-1)
			for m, u := range dp.members {
				if m != dp.opener {
					others = append(others, users[u].id)
				}
			}
			dialogs[i], err = a.createGroup(ctx, opener, "bench "+st.run, others)
		} else {
			dialogs[i], err = a.openDialog(ctx, opener, users[dp.members[1-dp.opener]].id)
		}
		return err
	})
	if err != nil {
		return res, err
	}
	res.Dialogs = len(plan)
	res.Groups = cfg.groupsPerPublisher() * cfg.Publishers
	if res.Groups > 0 {
		res.GroupSize = cfg.GroupSize
	}
	clients := buildClients(st, cfg, plan, dialogs, users)
	var senders []*client
	for _, c := range clients {
		if len(c.outs) > 0 {
			senders = append(senders, c)
		}
	}

	var readers sync.WaitGroup
	var idles []*idleConn
	// teardown closes every connection and waits for its reader; it runs
	// on every path out of Run, so no goroutine outlives it.
	var tornDown bool
	teardown := func() {
		if tornDown {
			return
		}
		tornDown = true
		st.stopped.Store(true)
		st.closing.Store(true)
		var wg sync.WaitGroup
		closeConn := func(c *websocket.Conn) {
			_ = c.WriteControl(websocket.CloseMessage,
				websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), time.Now().Add(time.Second))
			_ = c.Close()
		}
		for _, c := range clients {
			if c != nil && c.conn != nil {
				wg.Go(func() { closeConn(c.conn) })
			}
		}
		for _, ic := range idles {
			if ic != nil {
				wg.Go(func() { closeConn(ic.conn) })
			}
		}
		wg.Wait()
		readers.Wait()
	}
	defer teardown()

	endpoint := wsURL(base)
	active := &websocket.Dialer{
		HandshakeTimeout: setupTimeout,
		ReadBufferSize:   4096,
		WriteBufferSize:  cfg.BodySize + 512, // a send fits one frame
	}
	err = forEach(ctx, nActive, cfg.Logins, func(ctx context.Context, i int) error {
		conn, err := dial(ctx, active, endpoint, users[i].token)
		if err != nil {
			return err
		}
		conn.SetReadLimit(1 << 20)
		c := clients[i]
		c.conn = conn
		c.startReader(&readers)
		return nil
	})
	if err != nil {
		return res, err
	}
	res.ActiveConns = len(clients)

	if cfg.Idle > 0 {
		if err := openIdle(ctx, cfg, st, users[nActive:], endpoint, &res, &idles, &readers, say); err != nil {
			return res, err
		}
	}
	res.SetupTime = time.Since(st.base)
	res.SetupRetries = a.retried.Load()
	say("%d dialogs, %d+%d connections open after %s", res.Dialogs, res.ActiveConns, res.IdleConns, res.SetupTime.Round(time.Millisecond))

	if cfg.Rate > 0 && len(senders) > 0 {
		// Frames per second on the busiest socket: a sender's sends (plus
		// its receipts in pairs), or a subscriber's receipts.
		receipts := cfg.ReadShare
		if cfg.Delivered {
			receipts++
		}
		perSender := float64(cfg.Rate) / float64(len(senders))
		frames := perSender
		if cfg.Pairs > 0 {
			frames *= 1 + receipts
		} else {
			frames = max(frames, float64(cfg.Rate)/float64(cfg.subscribers())*receipts)
		}
		if frames > contractFrameRate {
			say("note: about %.0f frames/s per connection; the contract promises only %d/s before rate_limited", frames, contractFrameRate)
		}
	}

	// Traffic.
	t0 := st.now()
	st.warmEnd = t0 + int64(cfg.Warmup)
	st.stopAt = st.warmEnd + int64(cfg.Duration)
	stop := make(chan struct{})
	var pacers sync.WaitGroup
	if cfg.Rate > 0 && len(senders) > 0 {
		n := int64(len(senders))
		interval := max(n*int64(time.Second)/int64(cfg.Rate), 1)
		for i, c := range senders {
			first := t0 + int64(i)*interval/n // spread the senders over one interval
			pacers.Go(func() { c.pace(first, interval, stop) })
		}
	} else {
		// Every closed-loop window opens at once; replies refill them.
		for _, c := range senders {
			pacers.Go(c.fill)
		}
		pacers.Go(func() { probe(senders, stop) })
	}
	runErr := sleep(ctx, time.Duration(st.warmEnd-st.now()))
	cpu0 := sampleCPU(cfg.ServerPID)
	stormNames := []string{"korobka_sync_windows_cached_total", "korobka_sync_windows_read_total"}
	var stormBefore map[string]float64
	var stormOK bool
	stormDone := make(chan error, 1)
	var victims []*client
	if cfg.Storm > 0 && runErr == nil {
		stormBefore, stormOK = scrapeCounters(ctx, a.hc, base, stormNames...)
		victims = stormVictims(clients, cfg.Storm)
		tokens := make(map[*client]string, len(victims))
		for i, c := range clients {
			tokens[c] = users[i].token
		}
		go func() { stormDone <- runStorm(ctx, st, victims, active, endpoint, tokens, &readers, 256) }()
	} else {
		stormDone <- nil
	}
	if runErr == nil {
		runErr = sleep(ctx, time.Duration(st.stopAt-st.now()))
	}
	if err := <-stormDone; runErr == nil {
		runErr = err
	}
	stoppedAt := st.now()
	cpu1 := sampleCPU(cfg.ServerPID)
	st.stopped.Store(true)
	close(stop)
	pacers.Wait()
	if runErr == nil {
		runErr = drain(ctx, senders, cfg.drainTimeout)
	}
	teardown()

	collect(&res, clients, idles, st, stoppedAt)
	if cfg.Storm > 0 {
		sr := &StormResult{Share: cfg.Storm, Sockets: len(victims), More: st.storm.more.Load(), Cached: -1, Read: -1}
		if end := st.storm.end.Load(); end > 0 {
			sr.Time = time.Duration(end - st.storm.start.Load())
		}
		var stayed histogram
		for _, c := range clients {
			sr.Replayed += c.rd.replayed
			sr.ReplayDups += c.rd.replayDups
			stayed.merge(c.rd.stormAck)
		}
		sr.StayedAck = latencyOf(&stayed)
		if after, ok := scrapeCounters(context.WithoutCancel(ctx), a.hc, base, stormNames...); ok && stormOK {
			sr.Cached = after[stormNames[0]] - stormBefore[stormNames[0]]
			sr.Read = after[stormNames[1]] - stormBefore[stormNames[1]]
		}
		res.Storm = sr
	}
	if secs := res.Duration.Seconds(); secs > 0 {
		res.GeneratorCPU = (cpu1.self - cpu0.self).Seconds() / secs
		if cpu0.serverOK && cpu1.serverOK {
			res.ServerCPU = (cpu1.server - cpu0.server).Seconds() / secs
		}
	}
	res.Cores = runtime.NumCPU()
	if cfg.JSON {
		err = res.WriteJSON(out)
	} else {
		err = res.WriteSummary(out)
	}
	if runErr != nil {
		return res, runErr
	}
	return res, err
}

// openIdle logs nothing in (the users already are) and opens the idle
// connections, reading the server's RSS around them when asked. Dial
// failures are counted, not fatal: how many sockets a server takes before
// refusing is itself worth reporting.
func openIdle(ctx context.Context, cfg Config, st *runState, users []user, endpoint string,
	res *Result, idles *[]*idleConn, readers *sync.WaitGroup, say func(string, ...any)) error {
	if cfg.ServerPID > 0 {
		rss, err := settledRSS(ctx, cfg.ServerPID, cfg.rssSettle/2)
		if err != nil {
			return err
		}
		res.ServerRSSBefore = rss
	}
	// Idle sockets get small buffers and a pooled write buffer: they only
	// ever write pongs, and tens of thousands of them must stay cheap here.
	d := &websocket.Dialer{
		HandshakeTimeout: setupTimeout,
		ReadBufferSize:   1024,
		WriteBufferSize:  256,
		WriteBufferPool:  &sync.Pool{},
	}
	conns := make([]*idleConn, len(users))
	errKeys := make([]string, len(users))
	_ = forEach(ctx, len(users), cfg.Logins, func(ctx context.Context, i int) error {
		conn, err := dial(ctx, d, endpoint, users[i].token)
		if err != nil {
			errKeys[i] = "idle_" + errorKey(err)
			return nil
		}
		conn.SetReadLimit(1 << 20)
		ic := &idleConn{conn: conn}
		conns[i] = ic
		readers.Go(func() { ic.readLoop(st) })
		return nil
	})
	for i, ic := range conns {
		if ic != nil {
			*idles = append(*idles, ic)
		} else if errKeys[i] != "" {
			res.Errors[errKeys[i]]++
		}
	}
	res.IdleConns = len(*idles)
	if err := ctx.Err(); err != nil {
		return err
	}
	say("opened %d/%d idle connections", res.IdleConns, cfg.Idle)
	if cfg.ServerPID > 0 {
		rss, err := settledRSS(ctx, cfg.ServerPID, cfg.rssSettle)
		if err != nil {
			return err
		}
		res.ServerRSSAfter = rss
		if res.IdleConns > 0 {
			res.ServerRSSPerIdle = float64(rss-res.ServerRSSBefore) / float64(res.IdleConns)
		}
	}
	return nil
}

// drain waits until every live sender has its replies and every acked
// message has reached its receiver, so the counts compare like with like
// rather than cutting messages off mid-flight. A closed loop ends with
// window x senders messages queued, which a slow server takes many seconds
// to clear, so drain gives up only when nothing has landed for quiet (a
// lost message never will), or after maxDrain in all.
func drain(ctx context.Context, senders []*client, quiet time.Duration) error {
	start := time.Now()
	last, lastChange := landed(senders), start
	for !drained(senders) {
		now := time.Now()
		if n := landed(senders); n != last {
			last, lastChange = n, now
		}
		if now.Sub(lastChange) >= quiet || now.Sub(start) >= maxDrain {
			return nil
		}
		if err := sleep(ctx, 10*time.Millisecond); err != nil {
			return err
		}
	}
	return nil
}

// landed counts the replies and deliveries so far, to see drain progress.
func landed(senders []*client) int64 {
	var n int64
	for _, c := range senders {
		for _, l := range c.outs {
			n += l.acked.Load()
			for _, r := range l.to {
				n += r.received.Load()
			}
		}
	}
	return n
}

func drained(senders []*client) bool {
	for _, c := range senders {
		if c.dead.Load() {
			continue
		}
		if c.inflight.Load() > 0 {
			return false
		}
		for _, l := range c.outs {
			for _, r := range l.to {
				if !r.owner.dead.Load() && r.received.Load() < l.acked.Load() {
					return false
				}
			}
		}
	}
	return true
}

// collect merges the per-client and per-dialog counters into res once
// every goroutine that wrote them has ended.
func collect(res *Result, clients []*client, idles []*idleConn, st *runState, stoppedAt int64) {
	var lat, ack histogram
	var measured, sentMeasured int64
	for _, c := range clients {
		r := &c.rd
		res.Sent += c.sent.Load()
		res.Replies += r.replies
		res.Receipts += r.receipts
		res.ReadReceipts += r.reads
		res.Backlog += c.backlog
		res.Duplicates += r.dups
		res.Stray += r.stray
		for _, l := range c.links {
			res.Delivered += l.received.Load()
			if l.first {
				// Every side saw the same dialog: count its holes once.
				var gaps int64
				for _, side := range l.sides {
					gaps = max(gaps, side.seqs.gaps())
				}
				res.Gaps += gaps
			}
			for _, r := range l.to {
				if lost := l.acked.Load() - r.received.Load(); lost > 0 {
					res.Undelivered += lost
				}
			}
		}
		if c.dead.Load() {
			res.ConnsLost++
		}
		res.Unanswered += int64(c.inflight.Load())
		lat.merge(r.lat)
		ack.merge(r.ack)
		measured += r.measured
		sentMeasured += c.sentMeasured
		addErrs(res.Errors, r.errs)
		addErrs(res.Errors, c.writeErrs)
	}
	for _, ic := range idles {
		if ic.errKey != "" {
			res.Errors[ic.errKey]++
			res.ConnsLost++
		}
	}
	window := time.Duration(max(stoppedAt-st.warmEnd, 0))
	res.Duration = window
	if window > 0 {
		res.DeliveredPerSec = float64(measured) / window.Seconds()
		res.SentPerSec = float64(sentMeasured) / window.Seconds()
	}
	res.Latency = latencyOf(&lat)
	res.AckLatency = latencyOf(&ack)
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	res.GeneratorHeapBytes = ms.HeapAlloc
}

func addErrs(dst, src map[string]int64) {
	for k, v := range src {
		dst[k] += v
	}
}
