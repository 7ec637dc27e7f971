package main

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"

	"github.com/korobka/korobka/chat"
	"github.com/korobka/korobka/chat/ws"
	"github.com/korobka/korobka/renderer"
)

// patcher is the gateway's ws.Patcher: it turns the chat events a user
// receives into patches of the screens the user's devices show, rendered
// with the current screens. docs/screens.md describes what each event
// patches.
//
// The gateway asks once per group of a user's connections with the same
// screen and variant; on top of that, a message bubble is rendered once per
// (message, variant, own, sender) for every user it is delivered to on this
// node, so a group chat of a hundred members open on a hundred devices in
// two languages costs four renders.
type patcher struct {
	svc     *chat.Service
	screens Screens
	log     *slog.Logger
	now     func() time.Time

	// nodes caches rendered bubbles of the current engine; eng is the
	// engine they were rendered with (a hot reload empties the cache).
	nodes *lru.Cache[string, json.RawMessage]
	eng   atomic.Pointer[renderer.Engine]
	// names caches senders' first names for group chats.
	names *lru.Cache[int64, cachedName]
	// ticks holds, per (viewer, dialog) with a chat open, the viewer's own
	// bubbles whose ticks may still change.
	ticks *lru.Cache[[2]int64, *tickState]
	// reads is the read_seq last seen per (viewer, dialog), so a status
	// that only moved delivered_seq does not re-render a chat list row.
	reads *lru.Cache[[2]int64, int64]

	// renders counts fragment renders: the evidence that a variant renders
	// once, however many devices show it.
	renders atomic.Int64
}

const (
	nodeCacheSize = 4096
	nameCacheSize = 4096
	tickCacheSize = 16384
	readCacheSize = 16384
	// nameTTL bounds how long a renamed sender keeps the old name in
	// patches (full renders always show the new one).
	nameTTL = time.Minute
	// tickWindow is how many recent messages of a chat are checked for
	// own bubbles whose ticks can still change: the page a chat screen
	// shows.
	tickWindow = 50
	// maxTicks bounds the own bubbles tracked per (viewer, dialog).
	maxTicks = 256
)

type cachedName struct {
	name string
	at   time.Time
}

// tickState is the viewer's own bubbles of one chat that are not read yet,
// with the tick each shows.
type tickState struct {
	mu  sync.Mutex
	own map[int64]int // seq -> rank shown: 0 unknown, 1 sent, 2 delivered
}

var _ ws.Patcher = (*patcher)(nil)

func newPatcher(svc *chat.Service, screens Screens, log *slog.Logger) *patcher {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	p := &patcher{svc: svc, screens: screens, log: log, now: time.Now}
	p.nodes, _ = lru.New[string, json.RawMessage](nodeCacheSize)
	p.names, _ = lru.New[int64, cachedName](nameCacheSize)
	p.ticks, _ = lru.New[[2]int64, *tickState](tickCacheSize)
	p.reads, _ = lru.New[[2]int64, int64](readCacheSize)
	return p
}

// watchState is what a watch resolves to, carried by the connection.
type watchState struct {
	variant renderer.Variant
	dialogs map[int64]chat.DialogKind // the screen's dialog:<id> topics
	list    bool                      // the screen's dialogs topic
}

// Watch resolves a watch frame like a screen request: the screen and its
// params are checked by the renderer, and every dialog the screen's live
// topics name must be one of the viewer's.
func (p *patcher) Watch(ctx context.Context, pr chat.Principal, req ws.WatchRequest) (*ws.Watch, error) {
	eng := p.screens.Current()
	scr, ok := eng.Screen(req.Screen)
	if !ok {
		return nil, chat.Errorf(chat.KindNotFound, "unknown_screen", "No such screen.")
	}
	// Only declared params count: they alone select the instance.
	params := make(map[string]string, len(scr.Params))
	key := scr.Name
	for _, sp := range scr.Params {
		if v := req.Params[sp.Name]; v != "" {
			params[sp.Name] = v
			if key == scr.Name {
				key += ":" + v
			}
		}
	}
	theme := "light"
	if req.Theme == "dark" {
		theme = "dark"
	}
	rr := renderer.Request{
		Screen: scr.Name,
		Params: params,
		Langs:  renderer.ParseAcceptLanguage(req.Lang),
		Theme:  theme,
		Caps:   renderer.ParseShell(req.Shell),
		Viewer: chat.FormatID(pr.UserID),
	}
	topics, err := eng.LiveTopics(rr)
	if err != nil {
		return nil, renderError(err)
	}
	st := &watchState{variant: renderer.Variant{Langs: rr.Langs, Theme: theme, Caps: rr.Caps}}
	for _, t := range topics {
		if t == "dialogs" {
			st.list = true
			continue
		}
		raw, ok := strings.CutPrefix(t, "dialog:")
		if !ok {
			continue
		}
		id, err := chat.ParseID(raw)
		if err != nil {
			return nil, err
		}
		d, err := p.svc.Dialog(ctx, pr, id)
		if err != nil {
			return nil, err
		}
		if st.dialogs == nil {
			st.dialogs = map[int64]chat.DialogKind{}
		}
		st.dialogs[id] = d.Kind
		// The screen was just rendered: start its ticks from now.
		if ts, err := p.loadTicks(ctx, pr.UserID, id, true); err == nil {
			p.ticks.Add([2]int64{pr.UserID, id}, ts)
		} else {
			p.ticks.Remove([2]int64{pr.UserID, id})
		}
	}
	return &ws.Watch{
		Key:     key,
		Screen:  scr.Name,
		Params:  params,
		Topics:  topics,
		Variant: eng.Lang(rr.Langs) + "|" + theme + "|" + rr.Caps.String(),
		State:   st,
	}, nil
}

// loadTicks reads the viewer's own bubbles among the newest messages of a
// chat. exact takes their statuses as shown; otherwise they are unknown,
// so the next status patches every one it covers.
func (p *patcher) loadTicks(ctx context.Context, viewer, dialogID int64, exact bool) (*tickState, error) {
	msgs, err := p.svc.History(ctx, chat.Principal{UserID: viewer}, dialogID, 0, tickWindow)
	if err != nil {
		return nil, err
	}
	ts := &tickState{own: map[int64]int{}}
	me := chat.FormatID(viewer)
	for _, m := range msgs {
		if m.SenderID != me || m.Deleted {
			continue
		}
		switch {
		case !exact:
			ts.own[m.Seq] = 0
		case m.Status != chat.StatusRead:
			ts.own[m.Seq] = rankOf(m.Status)
		}
	}
	return ts, nil
}

var statusNames = [...]chat.MessageStatus{1: chat.StatusSent, 2: chat.StatusDelivered, 3: chat.StatusRead}

func rankOf(s chat.MessageStatus) int {
	switch s {
	case chat.StatusSent:
		return 1
	case chat.StatusDelivered:
		return 2
	case chat.StatusRead:
		return 3
	}
	return 0
}

// eventFrame is every server event the patcher reads, decoded once.
type eventFrame struct {
	Type         string          `json:"type"`
	Message      json.RawMessage `json:"message"`
	Dialog       json.RawMessage `json:"dialog"`
	DialogID     string          `json:"dialog_id"`
	UserID       string          `json:"user_id"`
	DeliveredSeq int64           `json:"delivered_seq"`
	ReadSeq      int64           `json:"read_seq"`
}

// Event parses a delivered frame. Typing and presence change no screen and
// are recognised without decoding.
func (p *patcher) Event(uid int64, frame []byte) ws.Event {
	if bytes.HasPrefix(frame, []byte(`{"type":"typing"`)) || bytes.HasPrefix(frame, []byte(`{"type":"presence"`)) {
		return nil
	}
	var f eventFrame
	if err := json.Unmarshal(frame, &f); err != nil {
		p.log.Debug("patch: undecodable event", "err", err)
		return nil
	}
	e := &event{p: p, uid: uid, kind: f.Type}
	switch f.Type {
	case "message":
		if err := json.Unmarshal(f.Message, &e.msg); err != nil {
			return nil
		}
		id, _ := e.msg["id"].(string)
		d, seq, err := chat.ParseMessageID(id)
		if err != nil {
			return nil
		}
		e.msgID, e.dialog, e.seq = id, d, seq
		sender, _ := e.msg["sender_id"].(string)
		e.sender, _ = chat.ParseID(sender)
		deleted, _ := e.msg["deleted"].(bool)
		e.changed = e.msg["edited_at"] != nil || deleted
		if e.sender == uid && !e.changed {
			p.ownSent(uid, d, seq)
		}
	case "status":
		var err1, err2 error
		e.dialog, err1 = chat.ParseID(f.DialogID)
		e.by, err2 = chat.ParseID(f.UserID)
		if err1 != nil || err2 != nil {
			return nil
		}
		e.delivered, e.read = max(f.DeliveredSeq, f.ReadSeq), f.ReadSeq
		if e.by == uid {
			k := [2]int64{uid, e.dialog}
			last, ok := p.reads.Get(k)
			e.readMoved = !ok || last != e.read
			p.reads.Add(k, e.read)
		}
	case "dialog":
		if err := json.Unmarshal(f.Dialog, &e.view); err != nil {
			return nil
		}
		id, _ := e.view["id"].(string)
		var err error
		if e.dialog, err = chat.ParseID(id); err != nil {
			return nil
		}
	default:
		return nil
	}
	return e
}

// ownSent records a bubble the viewer sent, whose ticks will move.
func (p *patcher) ownSent(uid, dialogID, seq int64) {
	ts, ok := p.ticks.Get([2]int64{uid, dialogID})
	if !ok {
		return // no chat of it open here: a watch loads the state afresh
	}
	ts.mu.Lock()
	defer ts.mu.Unlock()
	if _, ok := ts.own[seq]; !ok {
		ts.own[seq] = 1
	}
	for len(ts.own) > maxTicks {
		delete(ts.own, minKey(ts.own))
	}
}

func minKey(m map[int64]int) int64 {
	first, k := true, int64(0)
	for s := range m {
		if first || s < k {
			first, k = false, s
		}
	}
	return k
}

// event is one delivery to one user. What the groups share is computed
// once: the user's dialog for a chat list row, the tick changes.
type event struct {
	p      *patcher
	uid    int64
	kind   string
	dialog int64

	// message
	msg     map[string]any
	msgID   string
	seq     int64
	sender  int64
	changed bool // edited or deleted: replace the bubble, do not add one

	// status
	by, delivered, read int64
	readMoved           bool // by the user: their read_seq moved

	// dialog
	view map[string]any

	row       map[string]any
	rowErr    error
	rowDone   bool
	tickOps   []renderer.Op
	ticksDone bool
}

// Patch builds one group's patch frame.
func (e *event) Patch(ctx context.Context, w *ws.Watch) ([]byte, error) {
	st, _ := w.State.(*watchState)
	if st == nil {
		return nil, nil
	}
	eng := e.p.screens.Current()
	var buf [3]renderer.Op
	ops := buf[:0]
	kind, inChat := st.dialogs[e.dialog]
	rowID := "dialog-" + chat.FormatID(e.dialog)
	switch e.kind {
	case "message":
		if inChat {
			node, err := e.bubble(ctx, eng, w.Variant, st.variant, kind)
			if err != nil {
				return nil, err
			}
			if e.changed {
				ops = append(ops, renderer.Replace("msg-"+e.msgID, node))
			} else {
				ops = append(ops, renderer.Insert("messages", "end", node))
			}
		}
		if st.list {
			row, err := e.dialogRow(ctx, eng, st.variant)
			if err != nil {
				return nil, err
			}
			if e.changed {
				ops = append(ops, renderer.Replace(rowID, row))
			} else {
				ops = append(ops, renderer.Remove(rowID), renderer.Insert("dialogs", "start", row))
			}
		}
	case "status":
		if inChat && e.by != e.uid {
			ops = append(ops, e.ticks(ctx)...)
		}
		if st.list && e.by == e.uid && e.readMoved {
			row, err := e.dialogRow(ctx, eng, st.variant)
			if err != nil {
				return nil, err
			}
			ops = append(ops, renderer.Replace(rowID, row))
		}
	case "dialog":
		if st.list {
			row, err := e.p.render(eng, "dialog_row", map[string]any{"dialog": e.view}, st.variant)
			if err != nil {
				return nil, err
			}
			ops = append(ops, renderer.Remove(rowID), renderer.Insert("dialogs", "start", row))
		}
	}
	if len(ops) == 0 {
		return nil, nil
	}
	return renderer.AppendPatch(nil, w.Key, ops...), nil
}

// bubble renders the message for the viewer, or takes it from the node
// cache when another delivery of the event rendered it for this variant.
// Group chats name the sender as group_chat does; direct chats do not.
func (e *event) bubble(ctx context.Context, eng *renderer.Engine, variantKey string, v renderer.Variant, kind chat.DialogKind) (json.RawMessage, error) {
	own := e.sender == e.uid
	var sender any
	name := ""
	if kind == chat.KindGroup && !own {
		name = e.p.senderName(ctx, e.uid, e.sender)
		sender = name
	}
	status, _ := e.msg["status"].(string)
	edited, _ := e.msg["edited_at"].(string)
	deleted, _ := e.msg["deleted"].(bool)
	key := strings.Join([]string{variantKey, e.msgID, status, edited, bit(deleted), bit(own), name}, "\x00")
	if e.p.eng.Swap(eng) != eng {
		e.p.nodes.Purge()
	}
	if node, ok := e.p.nodes.Get(key); ok {
		return node, nil
	}
	node, err := e.p.render(eng, "message_bubble", map[string]any{"m": e.msg, "own": own, "sender": sender}, v)
	if err != nil {
		return nil, err
	}
	e.p.nodes.Add(key, node)
	return node, nil
}

func bit(b bool) string {
	if b {
		return "1"
	}
	return "0"
}

func (p *patcher) render(eng *renderer.Engine, name string, vars map[string]any, v renderer.Variant) (json.RawMessage, error) {
	p.renders.Add(1)
	return eng.Fragment(name, vars, v)
}

// senderName is a sender's first name, as group_chat shows it.
func (p *patcher) senderName(ctx context.Context, viewer, sender int64) string {
	if c, ok := p.names.Get(sender); ok && p.now().Sub(c.at) < nameTTL {
		return c.name
	}
	u, err := p.svc.User(ctx, chat.Principal{UserID: viewer}, sender)
	if err != nil {
		p.log.Debug("patch: sender name", "user", sender, "err", err)
		return ""
	}
	p.names.Add(sender, cachedName{name: u.FirstName, at: p.now()})
	return u.FirstName
}

// dialogRow renders the user's dialog as a chat list row. The dialog is
// fetched once per delivery, whatever the number of variants.
func (e *event) dialogRow(ctx context.Context, eng *renderer.Engine, v renderer.Variant) (json.RawMessage, error) {
	if !e.rowDone {
		e.rowDone = true
		var d chat.DialogView
		d, e.rowErr = e.p.svc.Dialog(ctx, chat.Principal{UserID: e.uid}, e.dialog)
		if e.rowErr == nil {
			e.row, e.rowErr = jsonShaped(d)
		}
	}
	if e.rowErr != nil {
		return nil, e.rowErr
	}
	return e.p.render(eng, "dialog_row", map[string]any{"dialog": e.row}, v)
}

// jsonShaped turns a view into the values the renderer binds: the shapes
// a screen's data has.
func jsonShaped(v any) (map[string]any, error) {
	raw, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	var m map[string]any
	return m, json.Unmarshal(raw, &m)
}

// ticks moves the ticks of the viewer's own bubbles that a member's new
// watermarks cover: set ops on msg-<id>, cheaper than re-rendering the
// bubbles. Computed once per delivery and shared by every variant, since
// statuses are not translated.
func (e *event) ticks(ctx context.Context) []renderer.Op {
	if e.ticksDone {
		return e.tickOps
	}
	e.ticksDone = true
	k := [2]int64{e.uid, e.dialog}
	ts, ok := e.p.ticks.Get(k)
	if !ok {
		var err error
		if ts, err = e.p.loadTicks(ctx, e.uid, e.dialog, false); err != nil {
			e.p.log.Warn("patch: ticks not loaded", "user", e.uid, "dialog", e.dialog, "err", err)
			return nil
		}
		e.p.ticks.Add(k, ts)
	}
	ts.mu.Lock()
	defer ts.mu.Unlock()
	var seqs []int64
	for seq, shown := range ts.own {
		if tickFor(seq, e.delivered, e.read) > shown {
			seqs = append(seqs, seq)
		}
	}
	slices.Sort(seqs)
	for _, seq := range seqs {
		r := tickFor(seq, e.delivered, e.read)
		e.tickOps = append(e.tickOps, renderer.Set("msg-"+chat.MessageID(e.dialog, seq), map[string]any{"status": string(statusNames[r])}))
		if r == 3 {
			delete(ts.own, seq)
		} else {
			ts.own[seq] = r
		}
	}
	return e.tickOps
}

// tickFor is the rank a bubble reaches under a member's watermarks.
func tickFor(seq, delivered, read int64) int {
	switch {
	case seq <= read:
		return 3
	case seq <= delivered:
		return 2
	}
	return 0
}
