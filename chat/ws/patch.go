package ws

import (
	"context"
	"encoding/json"
	"maps"
	"sync/atomic"

	"github.com/korobka/korobka/chat"
)

// Live patches: a connection tells the gateway which screen its device
// shows with a watch frame; when an event reaches a user whose
// connections watch something, the gateway asks the Patcher for patch
// frames and sends them beside the raw event (which every connection
// still gets). The gateway knows nothing about screens: the Patcher
// resolves watches and renders, the gateway stores watches, groups
// connections and queues frames.
//
// Patches are computed off the broker's goroutine, on a few workers owned
// by the gateway, each serving a fixed share of the users so that one
// user's patches keep the order of the user's events. A user's watching
// connections are grouped by (Watch.Variant, Watch.Key, params): the
// Patcher is asked once per group, never once per device.

// Patcher turns delivered events into screen patches. It is declared here,
// by its consumer; chat/live implements it with the renderer.
type Patcher interface {
	// Watch resolves a client's watch frame (docs/api.md, "watch") for p:
	// it checks the screen and its params as a screen request would, and
	// that p may see what they name. Errors are answered as error frames.
	// A nil Watch clears the watch; a Watch with no Topics stores nothing:
	// that screen never changes live.
	Watch(ctx context.Context, p chat.Principal, frame []byte) (*Watch, error)
	// Delivery prepares an event delivered to userID, once per delivery,
	// before any Patch. nil means the event changes no screen (typing,
	// presence), and the gateway asks nothing more.
	Delivery(userID int64, e chat.Event) Delivery
}

// TopicPatcher is an optional ability of a Patcher (checked by type
// assertion): patches for a change that is not a user's event but a
// node-wide topic's, such as a content collection an admin edited
// (topic "content:<name>", from chat.ContentTopic publications).
type TopicPatcher interface {
	// TopicPatch returns the patch frame for userID's connections
	// watching w, whose topics include topic, or nil for no change.
	TopicPatch(ctx context.Context, userID int64, topic string, w *Watch) ([]byte, error)
}

// Delivery is one delivered event, prepared once; it may keep what several
// groups share (a fetched dialog, a rendered node) between Patch calls.
// The calls of one Delivery are sequential.
type Delivery interface {
	// Patch returns the patch frame for the connections watching w, or
	// nil when the event does not change that screen. It is called once
	// per group of the user's connections with the same screen instance
	// and variant.
	Patch(ctx context.Context, w *Watch) ([]byte, error)
}

// Watch is a resolved watch, stored on the connection.
type Watch struct {
	// Key names the screen instance in patch frames ("chat:17",
	// "chat_list"); shells match it against the screen they show.
	Key    string
	Screen string
	Params map[string]string
	// Topics are the screen's live topics ("dialog:17", "dialogs").
	Topics []string
	// Variant says what the rendered output depends on besides the event
	// and the user (language, theme, capabilities). Connections of a user
	// with the same Key, Params and Variant get the same patch frames.
	Variant string
	// State is the Patcher's own resolution (a renderer variant, dialog
	// kinds); the gateway only carries it.
	State any
}

// Has reports whether w includes topic.
func (w *Watch) Has(topic string) bool {
	for _, t := range w.Topics {
		if t == topic {
			return true
		}
	}
	return false
}

// sameGroup reports whether connections watching w and x get the same
// patches.
func (w *Watch) sameGroup(x *Watch) bool {
	return w == x || w.Key == x.Key && w.Variant == x.Variant && w.Screen == x.Screen && maps.Equal(w.Params, x.Params)
}

// patchJob is one delivery to patch screens for.
type patchJob struct {
	uid   int64
	frame []byte
	topic string // a node-wide topic's change instead of an event (frame nil)
}

// Defaults of the patch workers.
const (
	DefaultPatchWorkers = 8
	DefaultPatchQueue   = 1024
)

// patches is the gateway's patch pipeline; nil without a Patcher.
type patches struct {
	p       Patcher
	queues  []chan patchJob // one per worker; a user always maps to the same one
	dropped atomic.Int64
}

func newPatches(p Patcher, workers, queue int) *patches {
	ps := &patches{p: p, queues: make([]chan patchJob, workers)}
	for i := range ps.queues {
		ps.queues[i] = make(chan patchJob, queue)
	}
	return ps
}

// startPatches starts the workers with the first watch. The caller is a
// connection's reader, which holds g.wg, so the Add cannot race a Wait.
func (g *Gateway) startPatches() {
	g.patchOnce.Do(func() {
		g.wg.Add(len(g.patches.queues))
		for _, q := range g.patches.queues {
			go g.patchLoop(q)
		}
	})
}

// queuePatch hands a delivery to its user's worker without blocking the
// broker. A full queue drops the patches (never the raw events): shells
// fall back to refetching a screen whose patch does not come.
func (g *Gateway) queuePatch(uid int64, frame []byte) {
	g.queueJob(patchJob{uid: uid, frame: frame})
}

func (g *Gateway) queueJob(j patchJob) {
	q := g.patches.queues[uint64(j.uid)%uint64(len(g.patches.queues))]
	select {
	case q <- j:
	default:
		if g.patches.dropped.Add(1)&1023 == 1 {
			g.log.Warn("websocket patch queue full, patches dropped", "dropped", g.patches.dropped.Load())
		}
	}
}

func (g *Gateway) patchLoop(q chan patchJob) {
	defer g.wg.Done()
	for {
		select {
		case <-g.ctx.Done():
			return
		case j := <-q:
			g.patch(j)
		}
	}
}

// group is a user's connections that get the same patches.
type group struct {
	w     *Watch
	conns []*conn
}

// patch asks the Patcher for one delivery's patches, once per group of the
// user's watching connections, and queues them. The sending device, which
// got a reply instead of the raw event, gets the patches too: its screen
// shows the message like everyone else's.
func (g *Gateway) patch(j patchJob) {
	var buf [8]*conn
	var gbuf [4]group
	groups := gbuf[:0]
	for _, c := range g.userConns(j.uid, buf[:0]) {
		w := c.watching.Load()
		if w == nil || j.topic != "" && !w.Has(j.topic) {
			continue
		}
		i := 0
		for i < len(groups) && !groups[i].w.sameGroup(w) {
			i++
		}
		if i == len(groups) {
			groups = append(groups, group{w: w})
		}
		groups[i].conns = append(groups[i].conns, c)
	}
	if len(groups) == 0 {
		return
	}
	if j.topic != "" {
		g.topicPatch(j, groups)
		return
	}
	e, err := chat.DecodeEvent(j.frame)
	if err != nil {
		return // not an event a screen shows (a newer node's kind)
	}
	ev := g.patches.p.Delivery(j.uid, e)
	if ev == nil {
		return
	}
	ctx, cancel := context.WithTimeout(g.ctx, opTimeout)
	defer cancel()
	for _, gr := range groups {
		frame, err := ev.Patch(ctx, gr.w)
		if err != nil {
			if ctx.Err() == nil {
				g.log.Warn("websocket patch failed", "user", j.uid, "screen", gr.w.Key, "err", err)
			}
			continue
		}
		if frame == nil {
			continue
		}
		for _, c := range gr.conns {
			c.enqueue(frame)
		}
	}
}

// topicPatch asks the TopicPatcher for a topic change's patches, once
// per group.
func (g *Gateway) topicPatch(j patchJob, groups []group) {
	tp, ok := g.patches.p.(TopicPatcher)
	if !ok {
		return
	}
	ctx, cancel := context.WithTimeout(g.ctx, opTimeout)
	defer cancel()
	for _, gr := range groups {
		frame, err := tp.TopicPatch(ctx, j.uid, j.topic, gr.w)
		if err != nil {
			if ctx.Err() == nil {
				g.log.Warn("websocket topic patch failed", "user", j.uid, "screen", gr.w.Key, "topic", j.topic, "err", err)
			}
			continue
		}
		if frame == nil {
			continue
		}
		for _, c := range gr.conns {
			c.enqueue(frame)
		}
	}
}

// WatchContent subscribes this node to content changes (chat.ContentTopic)
// and patches the screens that watch the changed collection
// ("content:<name>"). Call it once after New; without a Patcher it does
// nothing.
func (g *Gateway) WatchContent(ctx context.Context) error {
	if g.patches == nil {
		return nil
	}
	return g.broker.Subscribe(ctx, chat.ContentTopic, func(payload []byte) {
		topic := "content:" + string(payload)
		seen := map[int64]bool{}
		for _, c := range g.allConns() {
			if w := c.watching.Load(); w != nil && w.Has(topic) && !seen[c.uid] {
				seen[c.uid] = true
				g.queueJob(patchJob{uid: c.uid, topic: topic})
			}
		}
	})
}

// watch carries out a watch frame: the connection's previous watch ends
// whatever the outcome, since the device shows something else now.
func (c *conn) watch(ctx context.Context, req request) {
	c.watching.Store(nil)
	ps := c.g.patches
	var w *Watch
	if ps != nil {
		var err error
		w, err = ps.p.Watch(ctx, c.p, req.Frame)
		if err != nil {
			c.fail(ctx, req.ID, err)
			return
		}
		if w != nil && len(w.Topics) > 0 {
			c.g.startPatches()
			c.watching.Store(w)
		}
	}
	if req.ID == nil {
		return
	}
	r := watchReply{Type: "reply", ID: req.ID, Live: []string{}}
	if w != nil {
		r.Screen = w.Key
		if w.Topics != nil {
			r.Live = w.Topics
		}
	}
	frame, err := json.Marshal(r)
	if err != nil {
		c.fail(ctx, req.ID, err)
		return
	}
	c.reply(frame)
}
